"""``flowpilot lsp``: the language server for ``*.flow.yaml`` and ``*.flow`` files."""

from __future__ import annotations

import logging

import click


@click.command()
@click.option("--stdio", is_flag=True, help="Talk LSP over stdin/stdout (the default).")
@click.option("--tcp", "port", type=click.IntRange(1, 65535), help="Listen on 127.0.0.1:PORT.")
@click.option(
    "--debounce",
    "debounce_ms",
    type=click.IntRange(0, 10_000),
    default=100,
    show_default=True,
    help="Milliseconds between two checks of a file while it is being edited.",
)
@click.option("--log-file", type=click.Path(dir_okay=False), help="Write the server's log here.")
def lsp(stdio: bool, port: int | None, debounce_ms: int, log_file: str | None) -> None:
    """Run the language server (diagnostics, completion, hover, navigation, formatting)."""
    from flowpilot.lsp.server import run_stdio, run_tcp

    if stdio and port is not None:
        raise click.UsageError("choose one of --stdio and --tcp")
    if log_file:
        logging.basicConfig(filename=log_file, level=logging.INFO)
    debounce = debounce_ms / 1000
    if port is not None:
        run_tcp(port, debounce=debounce)
    else:
        run_stdio(debounce=debounce)
