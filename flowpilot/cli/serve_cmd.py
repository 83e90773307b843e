"""``flowpilot serve``: the API server, with (embedded mode) its database, worker and scheduler."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click


def _examples_dir() -> Path | None:
    """The workflow templates (the examples) the demo imports, when installed."""
    from flowpilot.server.errors import Unavailable
    from flowpilot.server.workflows.templates import templates_dir

    try:
        return templates_dir()
    except Unavailable:
        return None


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=int)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes (each with its own in-process worker in embedded mode).",
)
@click.option(
    "--no-worker",
    is_flag=True,
    help="Run no worker or scheduler in the server (distributed mode: run `flowpilot worker` "
    "and `flowpilot scheduler` apart, with FLOWPILOT_BROKER_URL).",
)
@click.option("--demo", is_flag=True, help="Create a demo user and import the examples.")
@click.option(
    "--log-format", type=click.Choice(["json", "text"]), default="json", show_default=True
)
@click.option("--log-level", default="info", show_default=True)
def serve(
    host: str,
    port: int,
    workers: int,
    no_worker: bool,
    demo: bool,
    log_format: str,
    log_level: str,
) -> None:
    """Run the FlowPilot server (REST API, WebSockets, webhooks, cron).

    With no FLOWPILOT_DATABASE_URL it starts the embedded PostgreSQL under FLOWPILOT_HOME
    (default ~/.flowpilot) and migrates it; an external database must be migrated first
    (`flowpilot db upgrade`).
    """
    import uvicorn

    from flowpilot.runtime.local import open_database
    from flowpilot.runtime.service import Runtime
    from flowpilot.server.config import ConfigError, Settings
    from flowpilot.server.ops.logs import configure_logging
    from flowpilot.store.db import DatabaseError, redacted
    from flowpilot.store.migrate import NotMigrated

    os.environ["FLOWPILOT_LOG_FORMAT"] = log_format
    os.environ["FLOWPILOT_LOG_LEVEL"] = log_level
    configure_logging(log_level, json_lines=log_format == "json")
    if no_worker:
        os.environ["FLOWPILOT_EMBEDDED_WORKER"] = "0"
    public_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    os.environ.setdefault("FLOWPILOT_PUBLIC_URL", public_url)
    try:
        Settings.from_env()  # fail now, with the message, rather than in every worker
        db = open_database()
    except (ConfigError, DatabaseError, NotMigrated) as exc:
        raise click.ClickException(str(exc)) from None
    err = click.get_text_stream("stderr")
    click.echo(f"database: {redacted(db.url)}", file=err)
    if demo:
        from flowpilot.server.demo import DEMO_EMAIL, DEMO_PASSWORD, seed_demo

        if host not in ("127.0.0.1", "localhost", "::1"):
            click.echo(
                "warning: the demo user has a published password; do not expose --demo",
                file=err,
            )
        seed = seed_demo(db, Runtime(db), _examples_dir())
        imported = f"imported {len(seed.imported)} example workflows" if seed.imported else ""
        click.echo(
            f"demo: organization 'demo', login {DEMO_EMAIL} / {DEMO_PASSWORD}"
            + (f"; {imported}" if imported else ""),
            file=err,
        )
        for skipped in seed.skipped:
            click.echo(f"demo: skipped {skipped}", file=err)
    db.dispose()
    click.echo(f"FlowPilot {public_url}  (API docs: {public_url}/api/docs)", file=err)
    sys.stderr.flush()
    uvicorn.run(
        "flowpilot.cli.serve_cmd:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )


def app_factory():  # type: ignore[no-untyped-def]
    """The app for each server process, with logging configured as `serve` was asked."""
    from flowpilot.server.app import create_app
    from flowpilot.server.ops.logs import configure_logging

    configure_logging(
        os.environ.get("FLOWPILOT_LOG_LEVEL", "info"),
        json_lines=os.environ.get("FLOWPILOT_LOG_FORMAT", "json") == "json",
    )
    return create_app()
