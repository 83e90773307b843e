"""The ``flowpilot`` command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from flowpilot import __version__
from flowpilot.cli.render import render_diagnostic, summarize
from flowpilot.compiler.pipeline import (
    CompileResult,
    compile_file,
    format_source,
    is_flow_file,
    parse_source,
    syntax_of,
)
from flowpilot.dsl.diagnostics import Diagnostic
from flowpilot.dsl.span import LineIndex


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flowpilot")
@click.option(
    "--server",
    metavar="URL",
    envvar="FLOWPILOT_SERVER_URL",
    help="Act on this server instead of the local database (executions, approve, reject, "
    "run --workflow). Env: FLOWPILOT_SERVER_URL.",
)
@click.option(
    "--api-key",
    metavar="KEY",
    envvar="FLOWPILOT_API_KEY",
    help="The API key (fp_…) for --server. Env: FLOWPILOT_API_KEY.",
)
@click.pass_context
def main(ctx: click.Context, server: str | None, api_key: str | None) -> None:
    """FlowPilot: typed, durable workflow automation."""
    from flowpilot.cli.remote import RemoteOptions

    ctx.obj = RemoteOptions(server=server, api_key=api_key)


def _flow_files(paths: tuple[str, ...]) -> list[Path]:
    """Files named on the command line plus flow files found under named directories."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and is_flow_file(p.name)))
        elif path.exists():
            found.append(path)
        else:
            raise click.UsageError(f"no such file or directory: {raw}")
    return found


def _print_diagnostics(
    diagnostics: list[Diagnostic], source: str, *, color: bool, err: bool = False
) -> None:
    index = LineIndex(source) if source else None
    for d in diagnostics:
        click.echo(render_diagnostic(d, index, color=color), err=err)
        click.echo("", err=err)


def _use_color(stream: object, no_color: bool) -> bool:
    return not no_color and hasattr(stream, "isatty") and stream.isatty()  # type: ignore[attr-defined]


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["human", "json"]), default="human")
@click.option("--no-color", is_flag=True, help="Never colour the output.")
def check(paths: tuple[str, ...], fmt: str, no_color: bool) -> None:
    """Type-check flow files (files or directories); exit 1 on errors, 0 with warnings only."""
    files = _flow_files(paths)
    color = _use_color(sys.stdout, no_color)
    # Lowered too: a few problems (values JSON cannot hold) are only found there.
    results: list[CompileResult] = [compile_file(f) for f in files]
    every = [d for r in results for d in r.diagnostics]
    if fmt == "json":
        click.echo(json.dumps([d.to_json() for d in every], indent=2, ensure_ascii=False))
    else:
        for result in results:
            _print_diagnostics(result.diagnostics, result.source, color=color)
        click.echo(summarize(every, len(files)))
    sys.exit(1 if any(d.is_error for d in every) else 0)


@main.command(name="compile")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the plan here.")
@click.option("--pretty", is_flag=True, help="Indent the JSON (not the canonical form).")
def compile_cmd(file: str, output: str | None, pretty: bool) -> None:
    """Compile a flow into its execution plan (JSON)."""
    result = compile_file(file)
    color = _use_color(sys.stderr, False)
    _print_diagnostics(result.diagnostics, result.source, color=color, err=True)
    if result.plan is None:
        click.echo(summarize(result.diagnostics, 1), err=True)
        sys.exit(1)
    text = (
        json.dumps(result.plan, indent=2, sort_keys=True, ensure_ascii=False)
        if pretty
        else (result.plan_json())
    )
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {output} (plan_hash {result.plan_hash})", err=True)
    else:
        click.echo(text)
        click.echo(f"plan_hash {result.plan_hash}", err=True)


def _convert(path: Path, target: str) -> Path:
    name = path.name
    for suffix in (".flow.yaml", ".flow.yml", ".flow"):
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            break
    else:
        stem = path.stem
    return path.with_name(stem + (".flow" if target == "text" else ".flow.yaml"))


def _looks_like_text_form(source: str) -> bool:
    for line in source.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "//")):
            continue
        return stripped.startswith("flow ") and not stripped.startswith("flow:")
    return False


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--check", "check_only", is_flag=True, help="Only report files that would change.")
@click.option("--to", "to", type=click.Choice(["yaml", "text"]), help="Convert to this syntax.")
@click.option("--stdout", "to_stdout", is_flag=True, help="Print instead of writing files.")
def fmt(paths: tuple[str, ...], check_only: bool, to: str | None, to_stdout: bool) -> None:
    """Format flows canonically, or convert them between YAML and text (--to)."""
    failed = False
    changed: list[str] = []
    if paths == ("-",):
        source = sys.stdin.read()
        name = "<stdin>.flow" if _looks_like_text_form(source) else "<stdin>.flow.yaml"
        text, diagnostics = format_source(source, name, to)
        if text is None:
            _print_diagnostics(diagnostics, source, color=False, err=True)
            sys.exit(1)
        click.echo(text, nl=False)
        return
    for path in _flow_files(paths):
        source = path.read_text(encoding="utf-8")
        text, diagnostics = format_source(source, str(path), to)
        if text is None:
            _print_diagnostics(diagnostics, source, color=_use_color(sys.stderr, False), err=True)
            failed = True
            continue
        target_syntax = to or syntax_of(str(path))
        dest = path if target_syntax == syntax_of(str(path)) else _convert(path, target_syntax)
        if to_stdout:
            click.echo(text, nl=False)
            continue
        current = dest.read_text(encoding="utf-8") if dest.exists() else None
        if current == text:
            continue
        changed.append(str(dest))
        if not check_only:
            dest.write_text(text, encoding="utf-8")
    if check_only:
        for name in changed:
            click.echo(f"would reformat {name}")
        if changed:
            sys.exit(1)
    elif changed and not to_stdout:
        for name in changed:
            click.echo(f"formatted {name}", err=True)
    sys.exit(1 if failed else 0)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["json", "dot"]), default="json")
def graph(file: str, fmt: str) -> None:
    """Print the graph view of a flow (JSON for the editor, or Graphviz DOT)."""
    from flowpilot.dsl.graph import flow_graph, graph_to_dot

    source = Path(file).read_text(encoding="utf-8")
    flow, diagnostics = parse_source(source, file)
    if flow is None:
        _print_diagnostics(diagnostics, source, color=False, err=True)
        sys.exit(1)
    data = flow_graph(flow)
    click.echo(graph_to_dot(data) if fmt == "dot" else json.dumps(data, indent=2), nl=fmt == "json")


@main.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def nodes(name: str | None, as_json: bool) -> None:
    """List the node types, or show one (NAME)."""
    from flowpilot.stdlib.registry import default_registry

    registry = default_registry()
    if name:
        node_type = registry.get(name)
        if node_type is None:
            from flowpilot.dsl.diagnostics import did_you_mean

            hint = did_you_mean(name, registry.names())
            raise click.ClickException(
                f"unknown node type '{name}'" + (f"; {hint}" if hint else "")
            )
        if as_json:
            click.echo(json.dumps(node_type.to_json(), indent=2))
        else:
            from flowpilot.stdlib.docs import render_node_markdown

            click.echo(render_node_markdown(node_type))
        return
    if as_json:
        click.echo(json.dumps([t.to_json() for t in registry], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(registry)} node types", show_lines=False)
    for column in ("node type", "category", "status", "summary"):
        table.add_column(column)
    for t in registry:
        status = "[green]available[/]" if t.implemented else "[yellow]planned[/]"
        table.add_row(f"{t.name}@{t.version}", str(t.category), status, t.summary)
    Console().print(table)


@main.command()
def schema() -> None:
    """Print the JSON Schema of the YAML form (for yaml-language-server)."""
    from flowpilot.dsl.json_schema import flow_json_schema

    click.echo(json.dumps(flow_json_schema(), indent=2, ensure_ascii=False))


def _register_runtime_commands() -> None:
    from flowpilot.cli.gitops_cmd import COMMANDS as GITOPS_COMMANDS
    from flowpilot.cli.lsp_cmd import lsp
    from flowpilot.cli.ops_cmd import COMMANDS
    from flowpilot.cli.run_cmd import run
    from flowpilot.cli.serve_cmd import serve

    for command in (run, serve, lsp, *COMMANDS, *GITOPS_COMMANDS):
        main.add_command(command)


_register_runtime_commands()


if __name__ == "__main__":  # pragma: no cover
    main()
