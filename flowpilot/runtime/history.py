"""Reading executions back: lists, step runs and logs — the queries the CLI and the server share.

Executions are partitioned by month on their UUIDv7 id, so every list is ordered by id (newest
first) and a time range becomes an id range that prunes partitions. Nothing here writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from flowpilot.runtime.persist import execute
from flowpilot.runtime.states import ExecutionStatus
from flowpilot.store.ids import uuid7_floor

LOG_LEVELS = ("debug", "info", "warning", "error")
EXECUTION_STATUSES = tuple(s.value for s in ExecutionStatus)

#: What a list shows of an execution: never the state, inputs or outputs (they may be large).
SUMMARY_COLUMNS = (
    "id, org_id, workflow_id, flow_id, status, trigger->>'type' AS trigger_type, dry_run, "
    "created_at, started_at, finished_at, error->>'message' AS error_message"
)

# UUIDv7 holds 48 bits of Unix milliseconds: times outside that range clamp to its ends.
_MAX_MS = (1 << 48) - 1


@dataclass(frozen=True)
class ExecutionQuery:
    """Which executions to list; every field narrows the list (None / empty: no condition)."""

    org_id: str | uuid.UUID | None = None
    workflow_id: str | uuid.UUID | None = None
    flow_id: str | None = None
    statuses: Sequence[str] = ()
    trigger_type: str | None = None
    #: Created at or after this time (to the millisecond, read from the id).
    created_after: datetime | None = None
    #: Created before this time.
    created_before: datetime | None = None
    #: Keyset pagination: only ids below this one (the last id of the previous page).
    below_id: str | uuid.UUID | None = None


def id_floor(moment: datetime) -> uuid.UUID:
    """The smallest execution id of ``moment``'s millisecond (clamped to what UUIDv7 holds)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    ms = int(moment.timestamp() * 1000)
    if ms <= 0:
        return uuid.UUID(int=0)
    if ms > _MAX_MS:
        return uuid.UUID(int=(_MAX_MS << 80) | ((1 << 80) - 1))
    return uuid7_floor(moment)


def list_executions(conn: sa.Connection, query: ExecutionQuery, limit: int) -> list[Any]:
    """Up to ``limit`` executions matching ``query``, newest first (:data:`SUMMARY_COLUMNS`).

    The query is shaped so that PostgreSQL walks one index in id order and stops after
    ``limit`` rows, whatever the organization's size or the page's depth:

    - by status alone, or by workflow: one branch per status, merged by id, each on
      ``(org_id, status, id DESC)`` or ``(org_id, workflow_id, status, id DESC)``;
    - by flow or trigger type: one query, which PostgreSQL serves by walking
      ``(org_id, flow_id, id DESC)`` or ``(org_id, (trigger->>'type'), id DESC)`` and
      filtering the rest, or, when the filters together are rare, by intersecting indexes.
    """
    where: list[str] = []
    params: dict[str, Any] = {"n": limit}
    if query.org_id is not None:
        where.append("org_id = :org")
        params["org"] = query.org_id
    if query.workflow_id is not None:
        where.append("workflow_id = :wf")
        params["wf"] = query.workflow_id
    if query.flow_id is not None:
        where.append("flow_id = :flow")
        params["flow"] = query.flow_id
    if query.trigger_type is not None:
        where.append("(trigger->>'type') = :trigger")
        params["trigger"] = query.trigger_type
    if query.created_after is not None:
        where.append("id >= :lo")
        params["lo"] = id_floor(query.created_after)
    if query.created_before is not None:
        where.append("id < :hi")
        params["hi"] = id_floor(query.created_before)
    if query.below_id is not None:
        where.append("id < :below")
        params["below"] = query.below_id
    statuses = [s for s in EXECUTION_STATUSES if not query.statuses or s in query.statuses]
    if query.flow_id is not None or query.trigger_type is not None:
        if len(statuses) < len(EXECUTION_STATUSES):
            where.append("status = ANY(:statuses)")
            params["statuses"] = statuses
        sql = (
            f"SELECT {SUMMARY_COLUMNS} FROM executions WHERE {' AND '.join(where)} "
            "ORDER BY id DESC LIMIT :n"
        )
        return execute(conn, sql, params).all()
    branches = []
    for i, status in enumerate(statuses):
        params[f"s{i}"] = status
        conditions = " AND ".join([*where, f"status = :s{i}"])
        branches.append(
            f"(SELECT {SUMMARY_COLUMNS} FROM executions WHERE {conditions} "
            "ORDER BY id DESC LIMIT :n)"
        )
    sql = f"SELECT * FROM ({' UNION ALL '.join(branches)}) page ORDER BY id DESC LIMIT :n"
    return execute(conn, sql, params).all()


def load_payloads(
    conn: sa.Connection, execution_id: str | uuid.UUID, refs: Sequence[str | uuid.UUID]
) -> dict[str, Any]:
    """The values stored apart (``payloads``) of one execution, by id."""
    if not refs:
        return {}
    rows = execute(
        conn,
        "SELECT id, data FROM payloads WHERE id = ANY(:ids) AND execution_id = :e",
        {"ids": [uuid.UUID(str(r)) for r in refs], "e": execution_id},
    ).all()
    return {str(r.id): r.data for r in rows}


def _payload_ref(value: Any) -> str | None:
    """The payload id of a value stored apart, which the step run holds as
    ``{"$payload": id, "size": n}``."""
    if isinstance(value, dict) and set(value) == {"$payload", "size"}:
        return str(value["$payload"])
    return None


def step_runs(conn: sa.Connection, execution_id: str | uuid.UUID) -> list[dict[str, Any]]:
    """Every step run (one per attempt) of an execution in the order they were first recorded
    (their UUIDv7 ids; runs recorded in one transaction share its ``created_at``), with the
    redacted ``inputs`` snapshot (never the sealed ``args``) and outputs stored apart loaded."""
    rows = execute(
        conn,
        "SELECT step_key, node_id, node_type, kind, attempt, status, inputs, output, output_ref, "
        "error, worker, created_at, enqueued_at, started_at, finished_at, due_at "
        "FROM step_runs WHERE execution_id = :e ORDER BY id",
        {"e": execution_id},
    ).all()
    runs = [dict(r._mapping) for r in rows]
    wanted: dict[tuple[int, str], str] = {}
    for i, run in enumerate(runs):
        ref = run.pop("output_ref")
        output_ref = str(ref) if ref is not None else _payload_ref(run["output"])
        if output_ref is not None:
            wanted[(i, "output")] = output_ref
        inputs_ref = _payload_ref(run["inputs"])
        if inputs_ref is not None:
            wanted[(i, "inputs")] = inputs_ref
    loaded = load_payloads(conn, execution_id, sorted(set(wanted.values())))
    for (i, column), ref in wanted.items():
        runs[i][column] = loaded.get(ref)
    return runs


def execution_logs(
    conn: sa.Connection,
    execution_id: str | uuid.UUID,
    *,
    min_level: str | None = None,
    step: str | None = None,
    after_id: int = 0,
    limit: int | None = None,
) -> list[Any]:
    """Log lines of an execution in order: at ``min_level`` or above, of ``step`` (a step key,
    or a step id matching each of its instances, like ``each[2]/show`` for ``show``), after the
    log id ``after_id``."""
    where = ["execution_id = :e", "id > :after"]
    params: dict[str, Any] = {"e": execution_id, "after": after_id}
    if min_level is not None and min_level != LOG_LEVELS[0]:
        where.append("level = ANY(:levels)")
        params["levels"] = list(LOG_LEVELS[LOG_LEVELS.index(min_level) :])
    if step is not None:
        where.append("(step_key = :step OR right(step_key, :n_suffix) = :suffix)")
        params.update(step=step, suffix=f"/{step}", n_suffix=len(step) + 1)
    sql = (
        "SELECT id, ts, level, step_key, message, fields FROM execution_logs "
        f"WHERE {' AND '.join(where)} ORDER BY id"
    )
    if limit is not None:
        sql += " LIMIT :n"
        params["n"] = limit
    return execute(conn, sql, params).all()


def waiting_approvals(conn: sa.Connection, execution_id: str | uuid.UUID) -> list[str]:
    """The keys of the execution's ``human.approval`` steps that wait for a decision."""
    return list(
        execute(
            conn,
            "SELECT step_key FROM step_runs WHERE execution_id = :e AND status = 'waiting' "
            "AND node_type = 'human.approval' ORDER BY created_at",
            {"e": execution_id},
        ).scalars()
    )
