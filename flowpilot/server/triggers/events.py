"""Event triggers: custom events posted to the API, and executions of the organization ending.

A trigger ``on: <type>`` starts its flow for every event of that type in its organization
whose ``filter`` holds (evaluated with ``event`` = the event's data). Custom events fire in the
transaction that stores them (``POST /api/v1/events``), so the caller learns which executions
started.

``execution.succeeded`` (``failed``, ``cancelled``, ``timed_out``) events are written by
whichever process finishes an execution — often a worker elsewhere — so an in-process callback
would miss them. The scheduler's leader reads them from ``execution_events`` after a cursor kept
in ``trigger_cursors`` and fires in the transaction that advances the cursor: nothing is fired
twice, and a crash between the two fires nothing and moves nothing. The cursor is the pair
(writing transaction id, event id), and only events of transactions older than the oldest one
still running are read, so an event that commits after one with a higher id is not skipped.

Loops: an execution never starts its own workflow through an ``execution.*`` event, and each
execution started by an event carries ``trigger.depth`` (1 for a custom event, one more than
the execution whose end started it); past ``FLOWPILOT_EVENT_CHAIN_DEPTH`` (default 5) the chain
stops, with a warning in the log. Dry runs and sub-flow runs (``call`` steps) start nothing.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from flowpilot.runtime.persist import PostCommit, execute
from flowpilot.runtime.service import Runtime
from flowpilot.server.triggers.firing import (
    Target,
    TriggerRejected,
    absorb,
    iso,
    passes_filter,
    start_execution,
    trigger_names,
)
from flowpilot.store.ids import uuid7

log = logging.getLogger("flowpilot.triggers")

#: Event types the runtime writes when an execution ends (custom events may not use them).
EXECUTION_EVENTS = (
    "execution.succeeded",
    "execution.failed",
    "execution.cancelled",
    "execution.timed_out",
)
RESERVED_PREFIX = "execution."
CURSOR = "execution_events"
DEFAULT_CHAIN_DEPTH = 5


def max_chain_depth() -> int:
    raw = os.environ.get("FLOWPILOT_EVENT_CHAIN_DEPTH", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_CHAIN_DEPTH


@dataclass(frozen=True)
class Fired:
    execution_id: str
    workflow_id: uuid.UUID
    flow_id: str
    trigger_id: str


@dataclass(frozen=True)
class Rejected:
    workflow_id: uuid.UUID
    flow_id: str
    trigger_id: str
    problems: dict[str, str]


@dataclass
class Outcome:
    fired: list[Fired] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


_SUBSCRIBERS = (
    "SELECT t.id, t.org_id, t.workflow_id, t.trigger_id, t.config, v.plan_hash, w.flow_id "
    "FROM triggers t JOIN workflow_versions v ON v.id = t.version_id "
    "JOIN workflows w ON w.id = t.workflow_id "
    "WHERE t.type = 'event' AND t.org_id = :org AND t.route = :type AND t.enabled "
    "ORDER BY t.id"
)


def fire_event_triggers(
    runtime: Runtime,
    conn: sa.Connection,
    post: PostCommit,
    *,
    org_id: uuid.UUID,
    event_type: str,
    data: Any,
    context: dict[str, Any],
    depth: int,
    source_workflow: uuid.UUID | None = None,
) -> Outcome:
    """Start every published flow of the organization listening to ``event_type`` whose filter
    holds. ``context`` is recorded on each execution as its ``trigger`` (with the trigger id and
    ``depth``); each start runs in a savepoint, so one trigger's bad inputs reject that trigger
    alone."""
    outcome = Outcome()
    subscribers = execute(conn, _SUBSCRIBERS, {"org": org_id, "type": event_type}).all()
    if subscribers and depth > max_chain_depth():
        log.warning(
            "event %s not delivered to %d trigger(s): the chain of event-started executions "
            "is %d deep (FLOWPILOT_EVENT_CHAIN_DEPTH=%d)",
            event_type,
            len(subscribers),
            depth,
            max_chain_depth(),
        )
        return outcome
    for row in subscribers:
        target = Target.of(row)
        if source_workflow is not None and target.workflow_id == source_workflow:
            continue  # a flow never restarts itself through its own end
        trigger = {**context, "id": target.trigger_id, "depth": depth}
        nested = PostCommit()
        try:
            names = trigger_names(
                runtime,
                target,
                runtime.plan(conn, str(target.org_id), target.plan_hash),
                trigger,
                data,
            )
            if not passes_filter(target, names):
                continue
            with conn.begin_nested():
                execution_id = start_execution(runtime, conn, nested, target, trigger, names)
                execute(
                    conn,
                    "UPDATE triggers SET last_fired_at = now() WHERE id = :id",
                    {"id": target.id},
                )
        except TriggerRejected as exc:
            outcome.rejected.append(
                Rejected(target.workflow_id, row.flow_id, target.trigger_id, exc.problems)
            )
            continue
        except Exception:
            log.exception("event trigger %s of workflow %s failed", row.trigger_id, row.flow_id)
            outcome.rejected.append(
                Rejected(
                    target.workflow_id,
                    row.flow_id,
                    target.trigger_id,
                    {"trigger": "the flow could not be started (see the server log)"},
                )
            )
            continue
        absorb(post, nested)
        outcome.fired.append(Fired(execution_id, target.workflow_id, row.flow_id, row.trigger_id))
    return outcome


# ---------------------------------------------------------------------------- custom events


def emit_event(
    runtime: Runtime,
    conn: sa.Connection,
    post: PostCommit,
    *,
    org_id: uuid.UUID,
    event_type: str,
    data: dict[str, Any],
    source: str | None,
    created_by: uuid.UUID | None,
) -> tuple[Any, Outcome]:
    """Store a custom event and fire the triggers listening to it; returns the stored row and
    what fired."""
    row = execute(
        conn,
        "INSERT INTO custom_events (id, org_id, type, data, source, created_by) VALUES "
        "(:id, :org, :type, CAST(:data AS jsonb), :source, :by) "
        "RETURNING id, type, data, source, created_at",
        {
            "id": uuid7(),
            "org": org_id,
            "type": event_type,
            "data": json.dumps(data, separators=(",", ":"), ensure_ascii=False),
            "source": source,
            "by": created_by,
        },
    ).one()
    context = {
        "type": "event",
        "event_type": event_type,
        "event_id": str(row.id),
        "event": data,
        "source": source,
        "received_at": iso(row.created_at),
    }
    outcome = fire_event_triggers(
        runtime,
        conn,
        post,
        org_id=org_id,
        event_type=event_type,
        data=data,
        context=context,
        depth=1,
    )
    return row, outcome


# ---------------------------------------------------------------------------- execution events

_FINISHED = (
    "SELECT e.tx::text AS tx, e.id, e.type, e.org_id, e.execution_id, x.flow_id, "
    "x.workflow_id, x.status, x.outputs, x.error, x.trigger, x.dry_run, x.parent_id "
    "FROM execution_events e JOIN executions x ON x.id = e.execution_id "
    "WHERE e.type IN ('execution.succeeded', 'execution.failed', 'execution.cancelled', "
    "'execution.timed_out') AND (e.tx, e.id) > (CAST(:tx AS xid8), :eid) "
    "AND e.tx < CAST(:horizon AS xid8) "
    "AND EXISTS (SELECT 1 FROM triggers t WHERE t.type = 'event' AND t.org_id = e.org_id "
    "AND t.route = e.type AND t.enabled) "
    "ORDER BY e.tx, e.id LIMIT :n"
)


def dispatch_execution_events(runtime: Runtime, *, batch: int = 200, batches: int = 20) -> int:
    """Fire the event triggers of executions that ended since the last call; returns how many
    executions started. Safe to call from several processes at once (the cursor row is locked)."""
    started = 0
    for _ in range(batches):
        count, more = _dispatch_batch(runtime, batch)
        started += count
        if not more:
            break
    return started


def _dispatch_batch(runtime: Runtime, batch: int) -> tuple[int, bool]:
    with runtime.transaction() as (conn, post):
        # A new cursor starts at the present: events from before triggers existed fire nothing.
        execute(
            conn,
            "INSERT INTO trigger_cursors (name, tx) VALUES "
            "(:name, pg_snapshot_xmin(pg_current_snapshot())) ON CONFLICT DO NOTHING",
            {"name": CURSOR},
        )
        cursor = execute(
            conn,
            "SELECT tx::text AS tx, event_id, "
            "pg_snapshot_xmin(pg_current_snapshot())::text AS horizon "
            "FROM trigger_cursors WHERE name = :name FOR UPDATE",
            {"name": CURSOR},
        ).one()
        if int(cursor.horizon) <= int(cursor.tx):
            return 0, False  # no transaction has ended since
        rows = execute(
            conn,
            _FINISHED,
            {"tx": cursor.tx, "eid": cursor.event_id, "horizon": cursor.horizon, "n": batch},
        ).all()
        started = sum(_on_finished(runtime, conn, post, row) for row in rows)
        more = len(rows) == batch
        position = (rows[-1].tx, rows[-1].id) if more else (cursor.horizon, 0)
        execute(
            conn,
            "UPDATE trigger_cursors SET tx = CAST(:tx AS xid8), event_id = :eid, "
            "updated_at = now() WHERE name = :name",
            {"tx": position[0], "eid": position[1], "name": CURSOR},
        )
    return started, more


def _on_finished(runtime: Runtime, conn: sa.Connection, post: PostCommit, row: Any) -> int:
    if row.dry_run or row.parent_id is not None:
        return 0
    source = row.trigger or {}
    depth = int(source.get("depth") or 0) + 1 if source.get("type") == "event" else 1
    data = {
        "type": row.type,
        "execution_id": str(row.execution_id),
        "flow_id": row.flow_id,
        "workflow_id": str(row.workflow_id) if row.workflow_id else None,
        "status": row.status,
        "outputs": row.outputs,
        "error": row.error,
        "trigger": {"type": source.get("type"), "id": source.get("id")},
    }
    context = {
        "type": "event",
        "event_type": row.type,
        "event_id": str(row.id),
        "event": data,
        "source": "flowpilot",
        "received_at": iso(datetime.now(UTC)),
    }
    outcome = fire_event_triggers(
        runtime,
        conn,
        post,
        org_id=row.org_id,
        event_type=row.type,
        data=data,
        context=context,
        depth=depth,
        source_workflow=row.workflow_id,
    )
    for rejected in outcome.rejected:
        log.warning(
            "event trigger %s of %s did not start on %s of execution %s: %s",
            rejected.trigger_id,
            rejected.flow_id,
            row.type,
            row.execution_id,
            ", ".join(sorted(rejected.problems)),
        )
    return len(outcome.fired)
