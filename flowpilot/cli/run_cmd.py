"""``flowpilot run``: compile a flow, execute it on the embedded defaults, show it live; or,
with ``--workflow`` and ``flowpilot --server``, run a workflow stored on a server."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    import sqlalchemy as sa

from flowpilot.runtime.inputs import InputError
from flowpilot.runtime.states import ExecutionStatus

_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "timed_out": "red",
    "cancelled": "yellow",
    "skipped": "dim",
    "running": "cyan",
    "queued": "cyan",
    "scheduled": "cyan",
    "waiting": "magenta",
}


def parse_inputs(pairs: tuple[str, ...], input_file: str | None) -> dict[str, Any]:
    """``--input-file`` (JSON or YAML) then ``--input k=v`` pairs; a value that parses as JSON
    (``3``, ``true``, ``[1,2]``) keeps its type, anything else is a string."""
    inputs: dict[str, Any] = {}
    if input_file:
        import yaml

        text = Path(input_file).read_text(encoding="utf-8")
        loaded = yaml.safe_load(text) if text.strip() else {}
        if not isinstance(loaded, dict):
            raise click.BadParameter("must hold an object of inputs", param_hint="--input-file")
        inputs.update(loaded)
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--input")
        try:
            inputs[name] = json.loads(raw)
        except json.JSONDecodeError:
            inputs[name] = raw
    return inputs


def _steps(db: sa.Engine, execution_id: str) -> list[Any]:
    import sqlalchemy as sa

    with db.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT DISTINCT ON (step_key) step_key, kind, node_type, status, attempt, "
                "started_at, finished_at, error FROM step_runs WHERE execution_id = :e "
                "ORDER BY step_key, attempt DESC"
            ),
            {"e": execution_id},
        ).all()


def _table(rows: list[Any], title: str) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left", expand=False)
    for column in ("step", "kind", "status", "attempts", "duration"):
        table.add_column(column)
    for row in sorted(rows, key=lambda r: (r.started_at is None, r.started_at or 0)):
        duration = ""
        if row.started_at and row.finished_at:
            duration = f"{(row.finished_at - row.started_at).total_seconds() * 1000:.0f} ms"
        style = _STYLE.get(row.status, "")
        table.add_row(
            row.step_key,
            row.node_type or row.kind,
            f"[{style}]{row.status}[/]" if style else row.status,
            str(row.attempt),
            duration,
        )
    return table


def _source_line(plan: dict[str, Any], step: str | None) -> str | None:
    node = plan["nodes"].get(step or "")
    if not node or "span" not in node:
        return None
    span = node["span"]
    try:
        lines = Path(span["file"]).read_text(encoding="utf-8").splitlines()
        return f"{span['file']}:{span['line']}:{span['column']}: {lines[span['line'] - 1].strip()}"
    except (OSError, IndexError):
        return f"{span['file']}:{span['line']}:{span['column']}"


@click.command(name="run")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--workflow",
    "-w",
    metavar="ID",
    help="Run this workflow of the server (its id or flow id) instead of a FILE.",
)
@click.option("--version", metavar="REF", help="With --workflow: the version to run.")
@click.option(
    "--wait", is_flag=True, help="With --workflow: follow it to the end (a FILE always is)."
)
@click.option("--input", "-i", "pairs", multiple=True, help="An input as NAME=VALUE.")
@click.option("--input-file", type=click.Path(exists=True, dir_okay=False), help="JSON/YAML.")
@click.option("--dry-run", is_flag=True, help="Side-effecting steps return mocks instead.")
@click.option("--json", "as_json", is_flag=True, help="Print the execution as JSON.")
@click.option("--timeout", default=3600.0, show_default=True, help="Seconds to wait.")
def run(
    file: str | None,
    workflow: str | None,
    version: str | None,
    wait: bool,
    pairs: tuple[str, ...],
    input_file: str | None,
    dry_run: bool,
    as_json: bool,
    timeout: float,
) -> None:
    """Compile FILE and run it here; exit 0 when it succeeds, 1 when it fails.

    With flowpilot --server URL run --workflow ID, start a workflow stored on that
    server instead and print the execution id, or with --wait report it like a local run.
    """
    inputs = parse_inputs(pairs, input_file)
    if workflow is not None:
        from flowpilot.cli import remote

        if file is not None:
            raise click.UsageError("give a FILE or --workflow, not both")
        remote.run_workflow(
            remote.required_server_client("--workflow"),
            workflow,
            inputs,
            version=version,
            dry_run=dry_run,
            wait=wait,
            as_json=as_json,
            timeout=timeout,
        )
        return
    if file is None:
        raise click.UsageError("give a flow FILE to run, or --workflow ID to run one on a server")
    if version is not None:
        raise click.UsageError("--version picks a version of a stored workflow (--workflow)")
    _run_local(file, inputs, dry_run, as_json, timeout)


def _run_local(
    file: str, inputs: dict[str, Any], dry_run: bool, as_json: bool, timeout: float
) -> None:
    from rich.console import Console
    from rich.live import Live

    from flowpilot.cli.main import _print_diagnostics, _use_color
    from flowpilot.compiler.pipeline import compile_file
    from flowpilot.runtime.local import LocalRuntime

    result = compile_file(Path(file))
    if result.plan is None:
        _print_diagnostics(
            result.diagnostics, result.source, color=_use_color(sys.stderr, False), err=True
        )
        sys.exit(1)
    console = Console(stderr=as_json, soft_wrap=True)
    with LocalRuntime(threads=4) as runtime:
        org = runtime.ensure_org()
        runtime.save_plan(org, result.plan, result.plan_hash)
        for child in _called_flows(Path(file), result.plan, console):
            runtime.save_plan(org, child.plan, child.plan_hash)
        try:
            execution_id = runtime.start_execution(org, result.plan_hash, inputs, dry_run=dry_run)
        except InputError as exc:
            for name, problem in exc.problems.items():
                console.print(f"[red]error[/]: input '{name}': {problem}")
            sys.exit(2)
        deadline = time.monotonic() + timeout
        hinted: set[str] = set()
        title = f"{result.plan['flow']['id']} · {execution_id}"
        show_live = console.is_terminal and not as_json
        with (
            Live(console=console, refresh_per_second=8, transient=False)
            if show_live
            else (_Nothing()) as live
        ):
            while True:
                execution = runtime.get_execution(execution_id)
                if show_live:
                    live.update(_table(_steps(runtime.db, execution_id), title))
                if ExecutionStatus(execution["status"]).finished:
                    break
                if execution["status"] == "waiting":
                    _hint_approvals(console, runtime.db, execution_id, hinted)
                if time.monotonic() > deadline:
                    runtime.cancel(execution_id, f"flowpilot run gave up after {timeout:g}s")
                    execution = runtime.wait_finished(execution_id, 10)
                    break
                time.sleep(0.05)
        steps = _steps(runtime.db, execution_id)
    _report(console, execution, steps, result.plan, title, as_json, show_live)


def _called_flows(file: Path, plan: dict[str, Any], console: Any) -> list[Any]:
    """Flows reached through `call:` steps, found beside FILE as `<flow>.flow.yaml` or
    `<flow>.flow`, compiled so the run can start them as child executions."""
    from flowpilot.compiler.pipeline import compile_file

    found: dict[str, Any] = {}
    pending = [plan]
    while pending:
        current = pending.pop()
        for node in current["nodes"].values():
            name = node.get("flow") if node.get("kind") == "call" else None
            if not name or name in found:
                continue
            candidates = [file.parent / f"{name}.flow.yaml", file.parent / f"{name}.flow"]
            path = next((c for c in candidates if c.exists()), None)
            if path is None:
                console.print(f"[yellow]warning[/]: no {name}.flow.yaml beside {file} for `call`")
                found[name] = None
                continue
            compiled = compile_file(path)
            if compiled.plan is None:
                console.print(f"[yellow]warning[/]: {path} has errors; `call: {name}` will fail")
                found[name] = None
                continue
            found[name] = compiled
            pending.append(compiled.plan)
    return [c for c in found.values() if c is not None]


def _hint_approvals(console: Any, db: sa.Engine, execution_id: str, hinted: set[str]) -> None:
    from flowpilot.runtime.history import waiting_approvals

    with db.connect() as conn:
        waiting = waiting_approvals(conn, execution_id)
    for step in waiting:
        if step not in hinted:
            hinted.add(step)
            console.print(
                f"waiting for an approval: flowpilot approve {execution_id} {step} (or reject)"
            )


def _report(console, execution, steps, plan, title, as_json, shown) -> None:  # type: ignore[no-untyped-def]
    status = execution["status"]
    if as_json:
        payload = {
            "id": str(execution["id"]),
            "status": status,
            "outputs": execution["outputs"],
            "error": execution["error"],
            "steps": [
                {"step": s.step_key, "status": s.status, "attempts": s.attempt} for s in steps
            ],
        }
        click.echo(json.dumps(payload, indent=2, default=str))
    else:
        if not shown:
            console.print(_table(steps, title))
        if status == "succeeded":
            console.print(f"[green]succeeded[/] outputs: {json.dumps(execution['outputs'])}")
        else:
            error = execution["error"] or {}
            step = error.get("step")
            console.print(f"[red]{status}[/]" + (f" at step '{step}'" if step else ""))
            console.print(f"  {error.get('type', 'error')}: {error.get('message', '')}")
            where = _source_line(plan, step.split("/")[-1].split("[")[0] if step else None)
            if where:
                console.print(f"  --> {where}")
    sys.exit(0 if status == "succeeded" else 1)


class _Nothing:
    def __enter__(self) -> _Nothing:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, *args: object) -> None:
        return None
