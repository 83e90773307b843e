"""Remote mode: ``flowpilot --server URL --api-key KEY …`` (or ``FLOWPILOT_SERVER_URL`` and
``FLOWPILOT_API_KEY``) makes the commands that act on executions and stored workflows go
through :class:`flowpilot.client.FlowPilot` instead of the local database.

The commands keep their local output (the same lines, the same ``--json`` shapes where the
server has the same data), so scripts work against either.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # the client is imported when a command goes remote, not on every start
    from flowpilot.client import FlowPilot
    from flowpilot.client.models import ExecutionDetail, StepRun

_CLIENT_KEY = "flowpilot.remote.client"


@dataclass(frozen=True)
class RemoteOptions:
    """The group-level ``--server`` and ``--api-key``, kept on click's context."""

    server: str | None = None
    api_key: str | None = None


def server_client(ctx: click.Context | None = None) -> FlowPilot | None:
    """The client of ``--server``, or None when the commands act on the local database.
    One client per command line, closed when the command ends."""
    ctx = ctx or click.get_current_context()
    options = ctx.find_object(RemoteOptions)
    if options is None or not options.server:
        return None
    root = ctx.find_root()
    client: FlowPilot | None = root.meta.get(_CLIENT_KEY)
    if client is None:
        from flowpilot.client import FlowPilot

        if not options.api_key:
            raise click.UsageError(
                "--server needs an API key: --api-key fp_… (or set FLOWPILOT_API_KEY)"
            )
        try:
            client = FlowPilot(options.server, api_key=options.api_key)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        root.meta[_CLIENT_KEY] = root.with_resource(client)
    return client


def required_server_client(option: str) -> FlowPilot:
    """The client of ``--server`` for an option that only makes sense on a server."""
    client = server_client()
    if client is None:
        raise click.UsageError(
            f"{option} acts on a server: give flowpilot --server URL --api-key KEY (or set "
            "FLOWPILOT_SERVER_URL and FLOWPILOT_API_KEY)"
        )
    return client


@contextlib.contextmanager
def api_errors() -> Iterator[None]:
    """The server's errors as the CLI's: the problem's status, code, detail and request id,
    exit status 1."""
    from flowpilot.client import FlowPilotError

    try:
        yield
    except FlowPilotError as exc:
        raise click.ClickException(str(exc)) from None


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)


# ---------------------------------------------------------------------------- executions


def list_executions(
    client: FlowPilot, status: str | None, flow: str | None, limit: int, as_json: bool
) -> None:
    with api_errors():
        pager = client.executions.list(flow_id=flow, status=status, page_size=min(limit, 200))
        found = pager.first(limit)
    if as_json:
        click.echo(_json([e.to_dict() for e in found]))
        return
    for e in found:
        click.echo(f"{e.id}  {e.status:<10} {e.flow_id:<30} {e.created_at:%Y-%m-%d %H:%M:%S}")


def show_execution(client: FlowPilot, execution_id: str, as_json: bool) -> None:
    with api_errors():
        execution = client.executions.get(execution_id)
        logs = list(client.executions.logs(execution_id, page_size=200))
    if as_json:
        click.echo(_json({**execution.to_dict(), "logs": [x.to_dict() for x in logs]}))
        return
    click.echo(f"{execution.id}  {execution.flow_id}  {execution.status}")
    if execution.error:
        click.echo(f"error: {execution.error.get('message')}")
    if execution.outputs is not None:
        click.echo(f"outputs: {json.dumps(execution.outputs)}")
    for s in execution.steps:
        click.echo(
            f"  {s.step_key:<30} {s.status:<10} attempt {s.attempt}  {s.node_type or s.kind}"
        )
    for x in logs:
        click.echo(f"  [{x.level}] {x.step_key or '-'}: {x.message}")


def cancel_execution(client: FlowPilot, execution_id: str) -> None:
    with api_errors():
        execution = client.executions.cancel(execution_id)
    click.echo(f"{execution_id}: {execution.status}")


def retry_execution(client: FlowPilot, execution_id: str, from_step: str | None) -> None:
    with api_errors():
        execution = client.executions.retry(execution_id, from_step=from_step)
    click.echo(execution.id)


def decide(
    client: FlowPilot, execution_id: str, step: str, approved: bool, comment: str | None
) -> None:
    with api_errors():
        if approved:
            execution = client.executions.approve(execution_id, step, comment=comment)
        else:
            execution = client.executions.reject(execution_id, step, comment=comment)
    verdict = "approved" if approved else "rejected"
    click.echo(f"{execution_id}: {verdict}; execution {execution.status}")


# ---------------------------------------------------------------------------- run


def run_workflow(
    client: FlowPilot,
    workflow: str,
    inputs: dict[str, Any],
    *,
    version: str | None,
    dry_run: bool,
    wait: bool,
    as_json: bool,
    timeout: float,
) -> None:
    """Start a stored workflow (its id or flow id); with ``wait``, follow it to the end and
    report it like a local run (exit 0 when it succeeds, 1 otherwise)."""
    from rich.console import Console

    from flowpilot.client import ValidationFailed, WaitTimeout

    console = Console(stderr=as_json or not wait, soft_wrap=True)
    with api_errors():
        try:
            found = client.workflows.resolve(workflow)
            started = client.executions.start(found, inputs, version=version, dry_run=dry_run)
        except ValidationFailed as exc:
            if exc.code != "invalid_inputs":
                raise
            for error in exc.errors:
                name = error.field.removeprefix("inputs.")
                console.print(f"[red]error[/]: input '{name}': {error.message}")
            sys.exit(2)
        execution_id = str(started.id)
        if not wait:
            if as_json:
                click.echo(_json(started.to_dict()))
            else:
                console.print(f"started {found.flow_id} · {execution_id} ({started.status})")
                click.echo(execution_id)
            return
        try:
            _follow(client, console, execution_id, timeout, show=console.is_terminal)
        except WaitTimeout:
            now = client.executions.get(execution_id)
            raise click.ClickException(
                f"{execution_id} is still {now.status} after {timeout:g}s; it goes on on the "
                f"server (flowpilot executions show {execution_id})"
            ) from None
        detail = client.executions.get(execution_id)
    _report_remote(console, detail, f"{found.flow_id} · {execution_id}", as_json)


def _follow(
    client: FlowPilot, console: Any, execution_id: str, timeout: float, *, show: bool
) -> None:
    """Follow the execution's live events until it finishes: hints for approvals, and each
    step's progress on a terminal."""
    from flowpilot.cli.run_cmd import _STYLE

    for event in client.executions.events(execution_id, timeout=timeout):
        if event.type == "approval.requested":
            console.print(
                f"waiting for an approval: flowpilot approve {execution_id} {event.step} "
                "(or reject)"
            )
        elif show and event.step and event.type.startswith("step."):
            status = event.type.removeprefix("step.")
            style = _STYLE.get(status, "")
            console.print(f"  {event.step:<30} " + (f"[{style}]{status}[/]" if style else status))


def _report_remote(console: Any, detail: ExecutionDetail, title: str, as_json: bool) -> None:
    from flowpilot.cli.run_cmd import _report

    latest: dict[str, StepRun] = {}
    for run in detail.steps:  # one row per step: its latest attempt
        latest[run.step_key] = run
    execution = {
        "id": detail.id,
        "status": detail.status,
        "outputs": detail.outputs,
        "error": detail.error,
    }
    _report(console, execution, list(latest.values()), {"nodes": {}}, title, as_json, False)
