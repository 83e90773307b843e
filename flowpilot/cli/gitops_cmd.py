"""``flowpilot sync`` and ``flowpilot export``: flows as code against a server.

``sync`` reads a git repository here (a local path or any URL dulwich fetches), sends its flow
files with the commit's metadata to the server, and prints the plan the server computes — or,
with ``--apply``, applies it there in one transaction. ``export`` writes the server's flows as
files of the repository convention and can commit them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from flowpilot.cli.gitops_api import (
    API_KEY_ENV,
    SERVER_ENV,
    ApiProblem,
    GitOpsApi,
    Unreachable,
    bundle_of,
)
from flowpilot.dsl.diagnostics import Diagnostic

_SYMBOLS = {"create": "+", "update": "~", "unchanged": "=", "drifted": "!", "delete": "-"}
_COLORS = {"create": "green", "update": "yellow", "drifted": "magenta", "delete": "red"}


def _server_options(command: Any) -> Any:
    command = click.option(
        "--api-key",
        envvar=API_KEY_ENV,
        help=f"An API key (fp_…) or access token [env {API_KEY_ENV}].",
    )(command)
    return click.option(
        "--server",
        envvar=SERVER_ENV,
        metavar="URL",
        help=f"The FlowPilot server, like https://flowpilot.example.com [env {SERVER_ENV}].",
    )(command)


def _api(server: str | None, api_key: str | None) -> GitOpsApi:
    # ``flowpilot --server URL --api-key K sync …`` gives them to the group instead.
    group = click.get_current_context().obj
    server = server or getattr(group, "server", None)
    api_key = api_key or getattr(group, "api_key", None)
    if not server:
        raise click.UsageError(f"give the server with --server URL or {SERVER_ENV}")
    return GitOpsApi(server, api_key)


def diagnostic_line(d: dict[str, Any]) -> str:
    """``file:line:col code message`` (and the hint on the next line)."""
    text = f"{d['file']}:{d['line']}:{d['column']} {d['code']} {d['message']}"
    if d.get("severity") not in (None, "error"):
        text = f"{d['file']}:{d['line']}:{d['column']} {d['code']} {d['severity']}: {d['message']}"
    if d.get("hint"):
        text += f"\n    hint: {d['hint']}"
    return text


def _print_diagnostics(diagnostics: list[dict[str, Any]]) -> None:
    for d in diagnostics:
        click.echo(diagnostic_line(d), err=True)
    errors = sum(1 for d in diagnostics if d.get("severity") == "error")
    if errors:
        click.echo(f"{errors} error(s): nothing was changed", err=True)


def _header(plan: dict[str, Any]) -> str:
    ref = f" ({plan['ref']})" if plan.get("ref") else ""
    summary = (plan.get("message") or "").strip().splitlines()
    said = f' "{summary[0]}"' if summary else ""
    author = f" by {plan['author']}" if plan.get("author") else ""
    return f"{plan['repository']} at {str(plan['commit'])[:12]}{ref}:{said}{author}"


def _counts(counts: dict[str, int], items: list[dict[str, Any]], *, applied: bool) -> str:
    kept = sum(1 for i in items if i["action"] == "drifted" and not i["writes"])
    words = (
        ("created", "updated", "deleted") if applied else ("to create", "to update", "to delete")
    )
    parts = [
        f"{counts['create']} {words[0]}",
        f"{counts['update']} {words[1]}",
        f"{counts['unchanged']} unchanged",
        f"{counts['drifted']} drifted" + (f" ({kept} kept)" if kept else ""),
        f"{counts['delete']} {words[2]}",
    ]
    return ", ".join(parts)


def _print_items(items: list[dict[str, Any]], *, applied: bool) -> None:
    width = max((len(i["flow_id"]) for i in items), default=0)
    for item in items:
        action = item["action"]
        where = item.get("path") or ""
        line = f"  {_SYMBOLS[action]} {action:<9} {item['flow_id']:<{width}}  {where}".rstrip()
        if applied and item.get("version") and item["writes"] and action != "delete":
            line += f"  → version {item['version']}"
        if item.get("publishes"):
            line += "  (published)" if applied else "  (publishes)"
        click.secho(line, fg=_COLORS.get(action))
        if action in ("drifted", "delete") or (action == "update" and item.get("head_version")):
            click.echo(f"      {item['detail']}")


def _read(source: str, ref: str | None, root: str, repository: str | None) -> tuple[Any, Any]:
    """The snapshot and its decoded sources; exits 1 printing E001/E002 for a file that is not
    UTF-8 (JSON cannot carry it to the server)."""
    from flowpilot.gitops.prepare import decode_file
    from flowpilot.gitops.source import GitSourceError, read_snapshot

    try:
        snapshot = read_snapshot(source, ref, root=root, repository=repository)
    except GitSourceError as exc:
        raise click.ClickException(str(exc)) from None
    sources: dict[str, str] = {}
    problems: list[Diagnostic] = []
    for path, data in snapshot.files.items():
        text, problem = decode_file(path, data)
        if text is None:
            assert problem is not None
            problems.append(problem)
        else:
            sources[path] = text
    if problems:
        _print_diagnostics([p.to_json() for p in problems])  # type: ignore[misc]
        sys.exit(1)
    return snapshot, sources


@click.command()
@click.argument("source")
@click.option("--ref", help="A branch, tag or commit (default: the repository's HEAD).")
@click.option("--plan", "mode", flag_value="plan", default=True, help="Show the plan (default).")
@click.option("--apply", "mode", flag_value="apply", help="Apply the plan, atomically.")
@click.option(
    "--prune/--no-prune",
    default=None,
    help="Delete workflows this repository synced whose flow is gone (default: flowpilot.yaml).",
)
@click.option(
    "--drift",
    type=click.Choice(["keep", "overwrite"]),
    help="What to do with flows edited on the server since the last sync (default: "
    "flowpilot.yaml, else keep).",
)
@click.option("--publish", is_flag=True, help="Publish every synced flow's head.")
@click.option("--path", "root", default="", help="The directory holding flows/ and flowpilot.yaml.")
@click.option(
    "--repository",
    help="The name versions record (default: the origin remote's URL, else the path).",
)
@click.option("--format", "fmt", type=click.Choice(["human", "json"]), default="human")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="With --plan: exit 2 when the plan changes something (0 when it changes nothing).",
)
@_server_options
def sync(
    source: str,
    ref: str | None,
    mode: str,
    prune: bool | None,
    drift: str | None,
    publish: bool,
    root: str,
    repository: str | None,
    fmt: str,
    detailed_exitcode: bool,
    server: str | None,
    api_key: str | None,
) -> None:
    """Sync the flows of a git repository (SOURCE: a path or URL) to a server.

    Every flow under flows/ is compiled by the server; the plan lists what would be created,
    updated, left unchanged, found drifted (edited on the server since the last sync) or,
    with --prune, deleted. --apply applies it in one transaction: if any flow has errors,
    nothing changes and every diagnostic is printed.
    """
    snapshot, sources = _read(source, ref, root, repository)
    bundle = bundle_of(snapshot, sources, prune=prune, drift=drift, publish=publish)
    with _api(server, api_key) as api:
        try:
            result = api.apply(bundle) if mode == "apply" else api.plan(bundle)
        except ApiProblem as exc:
            if fmt == "json":
                click.echo(json.dumps(exc.problem, indent=2))
            diagnostics = exc.problem.get("diagnostics")
            if isinstance(diagnostics, list) and diagnostics:
                _print_diagnostics(diagnostics)
                sys.exit(1)
            raise click.ClickException(exc.describe()) from None
        except Unreachable as exc:
            raise click.ClickException(str(exc)) from None
    if fmt == "json":
        click.echo(json.dumps(result, indent=2))
    if mode == "apply":
        _report_apply(result, human=fmt == "human")
        return
    _report_plan(result, human=fmt == "human", detailed_exitcode=detailed_exitcode)


def _report_plan(plan: dict[str, Any], *, human: bool, detailed_exitcode: bool) -> None:
    if not plan["ok"]:
        if human:
            click.echo(f"Plan for {_header(plan)}")
        _print_diagnostics(plan["diagnostics"])
        sys.exit(1)
    if human:
        click.echo(f"Plan for {_header(plan)}")
        _print_items(plan["items"], applied=False)
        for d in plan["diagnostics"]:
            click.echo(diagnostic_line(d), err=True)
        click.echo(_counts(plan["counts"], plan["items"], applied=False))
        if any(i["writes"] or i["publishes"] for i in plan["items"]):
            click.echo("Run with --apply to apply it.")
        else:
            click.echo("Nothing to change.")
    if detailed_exitcode and any(i["writes"] or i["publishes"] for i in plan["items"]):
        sys.exit(2)


def _report_apply(result: dict[str, Any], *, human: bool) -> None:
    if not human:
        return
    click.echo(f"Applied {_header(result)} (sync {result['id']})")
    _print_items(result["items"], applied=True)
    click.echo(_counts(result["counts"], result["items"], applied=True))


@click.command(name="export")
@click.option(
    "--to",
    "directory",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The repository (or directory) to write flows/ into.",
)
@click.option(
    "--commit",
    is_flag=True,
    help="Commit the files in the repository holding DIR (making DIR one if none does).",
)
@click.option("--message", "-m", help="The commit message.")
@click.option("--author", help='The commit author, "Name <email>" (default: git config).')
@click.option("--published", is_flag=True, help="Export published versions, not the heads.")
@_server_options
def export_cmd(
    directory: Path,
    commit: bool,
    message: str | None,
    author: str | None,
    published: bool,
    server: str | None,
    api_key: str | None,
) -> None:
    """Write an organization's flows as files: flows/<flow id>.flow.yaml (or .flow, by each
    version's format; a flow already in a file under flows/ is written there), and with
    --commit commit them."""
    from flowpilot.gitops.export import ExportedFlow, commit_files, write_flows

    with _api(server, api_key) as api:
        try:
            flows = [
                ExportedFlow(item["flow_id"], item["format"], item["source"])
                for item in api.export(published=published)
            ]
        except ApiProblem as exc:
            raise click.ClickException(exc.describe()) from None
        except Unreachable as exc:
            raise click.ClickException(str(exc)) from None
    directory.mkdir(parents=True, exist_ok=True)
    written = write_flows(directory, flows)
    for path, status in written.items():
        if status != "unchanged":
            click.echo(f"{status:<8} {path}")
    changed = sum(1 for s in written.values() if s != "unchanged")
    click.echo(f"{len(written)} flow(s) exported to {directory} ({changed} changed)")
    if commit:
        text = message or f"Export {len(written)} flow(s) from FlowPilot ({api.server})"
        sha = commit_files(directory, list(written), text, author)
        click.echo(f"committed {sha[:12]}" if sha else "nothing new to commit")


COMMANDS = [sync, export_cmd]
