"""Reading an organization's executions: one, a page of them, a page of an execution's logs.

Every read names the organization, so another organization's execution is simply not found.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from flowpilot.runtime import history
from flowpilot.runtime.service import PlanNotFound, Runtime
from flowpilot.server.errors import BadRequest, FieldError, NotFound
from flowpilot.server.executions.schemas import (
    Execution,
    ExecutionDetail,
    ExecutionLinks,
    ExecutionPage,
    ExecutionSummary,
    LogEntry,
    LogPage,
    StepRun,
)
from flowpilot.server.pagination import decode_cursor, encode_cursor

API = "/api/v1"
MASK = "***"

_EXECUTION_COLUMNS = (
    "id, org_id, workflow_id, flow_id, plan_hash, status, priority, dry_run, trigger, inputs, "
    "outputs, error, parent_id, parent_step, created_at, started_at, finished_at"
)


def execution_not_found(execution_id: object) -> NotFound:
    return NotFound(f"no execution {execution_id}", code="execution_not_found")


def find_execution(conn: sa.Connection, org_id: uuid.UUID, execution_id: uuid.UUID) -> Any:
    """The execution row (:data:`_EXECUTION_COLUMNS`); 404 unless it is the organization's."""
    row = conn.execute(
        sa.text(f"SELECT {_EXECUTION_COLUMNS} FROM executions WHERE id = :id AND org_id = :o"),
        {"id": execution_id, "o": org_id},
    ).one_or_none()
    if row is None:
        raise execution_not_found(execution_id)
    return row


def _duration_ms(started: datetime | None, finished: datetime | None) -> int | None:
    if started is None or finished is None:
        return None
    return max(0, round((finished - started).total_seconds() * 1000))


def links(execution_id: uuid.UUID | str) -> ExecutionLinks:
    base = f"{API}/executions/{execution_id}"
    return ExecutionLinks(
        self_=base,
        logs=f"{base}/logs",
        events=f"{base}/events",
        cancel=f"{base}/cancel",
        retry=f"{base}/retry",
    )


def _secret_inputs(plan: dict[str, Any]) -> set[str]:
    secret = set()
    for name, spec in (plan.get("inputs") or {}).items():
        schema = spec.get("schema") or {}
        if schema.get("type") == "secret" or schema.get("secret"):
            secret.add(name)
    return secret


def masked_inputs(conn: sa.Connection, runtime: Runtime, row: Any) -> dict[str, Any]:
    """The execution's inputs with those the flow declares secret masked."""
    inputs = dict(row.inputs or {})
    try:
        plan = runtime.plan(conn, str(row.org_id), row.plan_hash)
    except PlanNotFound:
        return dict.fromkeys(inputs, MASK)  # cannot tell which are secret: show none
    for name in _secret_inputs(plan) & set(inputs):
        if inputs[name] is not None:
            inputs[name] = MASK
    return inputs


def execution_view(conn: sa.Connection, runtime: Runtime, row: Any) -> Execution:
    return Execution(**_execution_fields(conn, runtime, row))


def _execution_fields(conn: sa.Connection, runtime: Runtime, row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "workflow_id": row.workflow_id,
        "flow_id": row.flow_id,
        "plan_hash": row.plan_hash,
        "status": row.status,
        "priority": row.priority,
        "dry_run": row.dry_run,
        "trigger": row.trigger or {},
        "inputs": masked_inputs(conn, runtime, row),
        "outputs": row.outputs,
        "error": row.error,
        "parent_id": row.parent_id,
        "parent_step": row.parent_step,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "duration_ms": _duration_ms(row.started_at, row.finished_at),
        "links": links(row.id),
    }


def get_execution(
    conn: sa.Connection, runtime: Runtime, org_id: uuid.UUID, execution_id: uuid.UUID
) -> Execution:
    return execution_view(conn, runtime, find_execution(conn, org_id, execution_id))


def get_detail(
    conn: sa.Connection, runtime: Runtime, org_id: uuid.UUID, execution_id: uuid.UUID
) -> ExecutionDetail:
    row = find_execution(conn, org_id, execution_id)
    steps = [
        StepRun(
            step_key=run["step_key"],
            node_id=run["node_id"],
            node_type=run["node_type"],
            kind=run["kind"],
            attempt=run["attempt"],
            status=run["status"],
            inputs=run["inputs"],
            output=run["output"],
            error=run["error"],
            worker=run["worker"],
            created_at=run["created_at"],
            queued_at=run["enqueued_at"],
            started_at=run["started_at"],
            finished_at=run["finished_at"],
            due_at=run["due_at"],
            duration_ms=_duration_ms(run["started_at"], run["finished_at"]),
        )
        for run in history.step_runs(conn, row.id)
    ]
    return ExecutionDetail(**_execution_fields(conn, runtime, row), steps=steps)


def _uuid_cursor(cursor: str | None) -> uuid.UUID | None:
    values = decode_cursor(cursor, 1)
    if values is None:
        return None
    try:
        return uuid.UUID(str(values[0]))
    except ValueError:
        raise _bad_cursor() from None


def _bad_cursor() -> BadRequest:
    return BadRequest(
        "the cursor is not valid (pass back the next_cursor of a previous page)",
        code="invalid_cursor",
        errors=[FieldError("query.cursor", "not a cursor this endpoint issued")],
    )


def list_page(
    conn: sa.Connection,
    org_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
    workflow_id: uuid.UUID | None = None,
    flow_id: str | None = None,
    statuses: list[str] | None = None,
    trigger_type: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> ExecutionPage:
    """A page of the organization's executions, newest first."""
    query = history.ExecutionQuery(
        org_id=org_id,
        workflow_id=workflow_id,
        flow_id=flow_id,
        statuses=tuple(statuses or ()),
        trigger_type=trigger_type,
        created_after=created_after,
        created_before=created_before,
        below_id=_uuid_cursor(cursor),
    )
    rows = history.list_executions(conn, query, limit + 1)
    items = [
        ExecutionSummary(
            id=r.id,
            workflow_id=r.workflow_id,
            flow_id=r.flow_id,
            status=r.status,
            trigger_type=r.trigger_type,
            dry_run=r.dry_run,
            created_at=r.created_at,
            started_at=r.started_at,
            finished_at=r.finished_at,
            duration_ms=_duration_ms(r.started_at, r.finished_at),
            error_message=r.error_message,
        )
        for r in rows[:limit]
    ]
    next_cursor = encode_cursor(items[-1].id) if len(rows) > limit else None
    return ExecutionPage(items=items, next_cursor=next_cursor)


def logs_page(
    conn: sa.Connection,
    org_id: uuid.UUID,
    execution_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
    min_level: str | None = None,
    step: str | None = None,
) -> LogPage:
    """A page of an execution's log lines in order (the cursor is the last log id)."""
    find_execution(conn, org_id, execution_id)
    values = decode_cursor(cursor, 1)
    after = 0
    if values is not None:
        if type(values[0]) is not int or not 0 <= values[0] < 2**63:
            raise _bad_cursor()
        after = values[0]
    rows = history.execution_logs(
        conn, execution_id, min_level=min_level, step=step, after_id=after, limit=limit + 1
    )
    items = [
        LogEntry(
            id=r.id,
            ts=r.ts,
            level=r.level,
            step_key=r.step_key,
            message=r.message,
            fields=r.fields or {},
        )
        for r in rows[:limit]
    ]
    next_cursor = encode_cursor(items[-1].id) if len(rows) > limit else None
    return LogPage(items=items, next_cursor=next_cursor)
