"""Operating the runtime: ``db``, ``worker``, ``scheduler``, ``executions``, ``approve``,
``reject`` and ``dlq``. They act on the configured database (``FLOWPILOT_DATABASE_URL`` or the
embedded one) and broker (``FLOWPILOT_BROKER_URL``); with ``flowpilot --server URL``,
``executions``, ``approve`` and ``reject`` act on that server instead (see remote.py)."""

from __future__ import annotations

import json
import signal
import sys
import threading

import click

from flowpilot.cli import remote


def _runtime(*, dispatch: bool = True):  # type: ignore[no-untyped-def]
    from flowpilot.runtime.broker import DramatiqDispatcher, install, make_broker
    from flowpilot.runtime.local import open_database
    from flowpilot.runtime.service import Runtime
    from flowpilot.store.migrate import NotMigrated

    try:
        db = open_database()
    except NotMigrated as exc:
        raise click.ClickException(str(exc)) from None
    broker = make_broker() if dispatch else None
    runtime = Runtime(db, dispatcher=DramatiqDispatcher(broker) if broker else None)
    install(runtime)
    return runtime, broker


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass


# ---------------------------------------------------------------------------- db


@click.group()
def db() -> None:
    """The database schema."""


@db.command()
def upgrade() -> None:
    """Apply the migrations (safe to run concurrently and repeatedly)."""
    from flowpilot.store import migrate
    from flowpilot.store.db import create_engine, redacted

    engine = create_engine()
    before, after = migrate.upgrade(engine)
    where = redacted(engine.url)
    if before == after:
        click.echo(f"{where}: already at revision {after}")
    else:
        click.echo(f"{where}: migrated from {before or 'an empty database'} to {after}")


# ---------------------------------------------------------------------------- processes


@click.command()
@click.option("--threads", default=8, show_default=True, help="Worker threads per process.")
@click.option("--processes", default=1, show_default=True, help="Worker processes.")
def worker(threads: int, processes: int) -> None:
    """Run steps from the broker until interrupted."""
    if processes > 1:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        children = [
            context.Process(target=_worker_process, args=(threads,), daemon=False)
            for _ in range(processes)
        ]
        for child in children:
            child.start()
        _wait_for_signal()
        for child in children:
            child.terminate()
        for child in children:
            child.join()
        return
    _worker_process(threads)


def _worker_process(threads: int) -> None:
    from flowpilot.runtime.broker import broker_url, start_worker

    if broker_url().startswith("memory"):
        raise click.ClickException(
            "a separate worker needs a shared broker: set FLOWPILOT_BROKER_URL to redis://… or "
            "amqp://… (the in-memory broker only reaches workers in the same process)"
        )
    from flowpilot.runtime.worker import warm_up

    runtime, broker = _runtime()
    warm_up()
    running = start_worker(broker, threads=threads)
    click.echo(f"worker {runtime.worker_name}: {threads} threads on {broker_url().split('@')[-1]}")
    try:
        _wait_for_signal()
    finally:
        running.stop()
        broker.close()


@click.command()
@click.option("--interval", default=0.5, show_default=True, help="Seconds between rounds.")
def scheduler(interval: float) -> None:
    """Fire timers, cron and event triggers, and recover lost work; several may run, one
    leads."""
    from flowpilot.runtime.scheduler import Scheduler
    from flowpilot.server.config import ConfigError
    from flowpilot.server.triggers.tasks import install_trigger_tasks

    runtime, _ = _runtime()
    try:
        install_trigger_tasks(runtime)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    sched = Scheduler(runtime, interval=interval)
    sched.start_thread()
    click.echo(f"scheduler {runtime.worker_name} started")
    _wait_for_signal()
    sched.stop()


# ---------------------------------------------------------------------------- executions


@click.group()
def executions() -> None:
    """List, inspect, cancel and retry executions."""


@executions.command(name="list")
@click.option("--status", help="Only executions in this status.")
@click.option("--flow", help="Only executions of this flow.")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def list_executions(status: str | None, flow: str | None, limit: int, as_json: bool) -> None:
    if client := remote.server_client():
        remote.list_executions(client, status, flow, limit, as_json)
        return
    from flowpilot.runtime.history import ExecutionQuery
    from flowpilot.runtime.history import list_executions as newest_executions

    runtime, _ = _runtime(dispatch=False)
    query = ExecutionQuery(flow_id=flow, statuses=(status,) if status else ())
    with runtime.db.connect() as conn:
        rows = newest_executions(conn, query, limit)
    if as_json:
        click.echo(json.dumps([dict(r._mapping) for r in rows], default=str, indent=2))
        return
    for r in rows:
        click.echo(f"{r.id}  {r.status:<10} {r.flow_id:<30} {r.created_at:%Y-%m-%d %H:%M:%S}")


@executions.command()
@click.argument("execution_id")
@click.option("--json", "as_json", is_flag=True)
def show(execution_id: str, as_json: bool) -> None:
    """An execution with every step run and its logs."""
    if client := remote.server_client():
        remote.show_execution(client, _uuid(execution_id), as_json)
        return
    from flowpilot.runtime.history import execution_logs, step_runs
    from flowpilot.runtime.service import ExecutionNotFound

    runtime, _ = _runtime(dispatch=False)
    try:
        execution = runtime.get_execution(_uuid(execution_id))
    except ExecutionNotFound as exc:
        raise click.ClickException(str(exc)) from None
    with runtime.db.connect() as conn:
        steps = step_runs(conn, execution["id"])
        logs = execution_logs(conn, execution["id"])
    if as_json:
        payload = {**execution, "steps": steps, "logs": [dict(x._mapping) for x in logs]}
        click.echo(json.dumps(payload, default=str, indent=2))
        return
    click.echo(f"{execution['id']}  {execution['flow_id']}  {execution['status']}")
    if execution["error"]:
        click.echo(f"error: {execution['error'].get('message')}")
    if execution["outputs"] is not None:
        click.echo(f"outputs: {json.dumps(execution['outputs'])}")
    for s in steps:
        click.echo(
            f"  {s['step_key']:<30} {s['status']:<10} attempt {s['attempt']}  "
            f"{s['node_type'] or s['kind']}"
        )
    for x in logs:
        click.echo(f"  [{x.level}] {x.step_key or '-'}: {x.message}")


@executions.command()
@click.argument("execution_id")
def cancel(execution_id: str) -> None:
    if client := remote.server_client():
        remote.cancel_execution(client, _uuid(execution_id))
        return
    runtime, _ = _runtime()
    status = runtime.cancel(_uuid(execution_id))
    click.echo(f"{execution_id}: {status}")


@executions.command()
@click.argument("execution_id")
@click.option(
    "--from",
    "from_step",
    metavar="STEP",
    help="Reuse the outputs of the steps that succeeded before STEP; run STEP and after anew.",
)
def retry(execution_id: str, from_step: str | None) -> None:
    """Run a finished execution again with the same plan and inputs; print the new id."""
    if client := remote.server_client():
        remote.retry_execution(client, _uuid(execution_id), from_step)
        return
    runtime, _ = _runtime()
    try:
        new_id = runtime.retry_execution(_uuid(execution_id), from_step)
    except (LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(new_id)


def _decide(execution_id: str, step: str, approved: bool, by: str, comment: str | None) -> None:
    if client := remote.server_client():
        ctx = click.get_current_context()
        if ctx.get_parameter_source("by") is not click.core.ParameterSource.DEFAULT:
            raise click.UsageError(
                "--by is for the local database: a server records who decides (the API key)"
            )
        remote.decide(client, _uuid(execution_id), step, approved, comment)
        return
    runtime, _ = _runtime()
    try:
        status = runtime.signal(
            _uuid(execution_id), step, {"approved": approved, "by": by, "comment": comment}
        )
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{execution_id}: {'approved' if approved else 'rejected'}; execution {status}")


@click.command()
@click.argument("execution_id")
@click.argument("step")
@click.option("--by", default="cli", show_default=True, help="Who decides (local database).")
@click.option("--comment")
def approve(execution_id: str, step: str, by: str, comment: str | None) -> None:
    """Approve the waiting approval STEP of an execution."""
    _decide(execution_id, step, True, by, comment)


@click.command()
@click.argument("execution_id")
@click.argument("step")
@click.option("--by", default="cli", show_default=True, help="Who decides (local database).")
@click.option("--comment")
def reject(execution_id: str, step: str, by: str, comment: str | None) -> None:
    """Reject the waiting approval STEP of an execution."""
    _decide(execution_id, step, False, by, comment)


# ---------------------------------------------------------------------------- dlq


@click.group()
def dlq() -> None:
    """Messages that exhausted their deliveries."""


@dlq.command(name="list")
@click.option("--all", "show_all", is_flag=True, help="Include requeued ones.")
def dlq_list(show_all: bool) -> None:
    import sqlalchemy as sa

    runtime, _ = _runtime(dispatch=False)
    with runtime.db.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT id, actor, message, error, failed_at, requeued_at FROM dead_letters "
                + ("" if show_all else "WHERE requeued_at IS NULL ")
                + "ORDER BY failed_at"
            )
        ).all()
    if not rows:
        click.echo("the dead-letter queue is empty")
    for r in rows:
        args = ", ".join(str(a) for a in r.message.get("args", []))
        state = f"requeued {r.requeued_at:%H:%M:%S}" if r.requeued_at else "dead"
        click.echo(f"{r.id}  {r.failed_at:%Y-%m-%d %H:%M:%S}  {state}  {r.actor}({args})")
        click.echo(f"    {r.error}")


@dlq.command(name="requeue")
@click.argument("ids", nargs=-1)
@click.option("--all", "requeue_all", is_flag=True, help="Requeue every dead message.")
def dlq_requeue(ids: tuple[str, ...], requeue_all: bool) -> None:
    """Send dead messages again. A step whose dead letter already failed it stays failed (its
    execution went on); requeueing helps messages whose effect never reached the database."""
    import sqlalchemy as sa

    if not ids and not requeue_all:
        raise click.UsageError("give message ids or --all")
    runtime, _ = _runtime()
    with runtime.db.begin() as conn:
        rows = conn.execute(
            sa.text(
                "UPDATE dead_letters SET requeued_at = now() WHERE requeued_at IS NULL "
                + ("" if requeue_all else "AND id = ANY(:ids) ")
                + "RETURNING id, message"
            ),
            {} if requeue_all else {"ids": [_uuid(i) for i in ids]},
        ).all()
    for r in rows:
        runtime.dispatcher.requeue(r.message)  # type: ignore[union-attr]
        click.echo(f"requeued {r.id}")
    if not rows:
        click.echo("nothing to requeue")
        sys.exit(1)


def _uuid(text: str) -> str:
    import uuid

    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an execution id") from None


COMMANDS = [db, worker, scheduler, executions, approve, reject, dlq]
