"""Writing what the engine decided, inside the transaction that holds the execution's lock."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg
import sqlalchemy as sa
from psycopg.rows import namedtuple_row

from flowpilot.runtime import actions as A
from flowpilot.runtime.codec import dumps
from flowpilot.runtime.secrets import Redactor, SecretsView
from flowpilot.runtime.states import ExecutionStatus, check_execution_transition
from flowpilot.runtime.transition_sql import (
    INSERT_EXECUTION,
    UPDATE_EXECUTION,
    WRITES_ONLY,
    rows,
)
from flowpilot.store.ids import uuid7

if TYPE_CHECKING:
    from flowpilot.runtime.service import Runtime

TIMER_PUSH_HORIZON_S = 300  # timers due sooner are also sent as delayed messages
_PARAM = re.compile(r"(?<![:\w]):(\w+)")
_DRIVER_SQL: dict[str, str] = {}


def _driver_sql(sql: str) -> str:
    """``:name`` placeholders as psycopg's ``%(name)s``, converted once per statement shape."""
    found = _DRIVER_SQL.get(sql)
    if found is None:
        if len(_DRIVER_SQL) > 2000:
            _DRIVER_SQL.clear()
        found = _DRIVER_SQL[sql] = _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))
    return found


def execute(conn: sa.Connection, sql: str, params: dict[str, Any]) -> Any:
    """Run ``sql`` straight through the driver: the hot path skips SQLAlchemy's text parsing
    and statement caching, which cost more than the statement itself here."""
    return conn.exec_driver_sql(_driver_sql(sql), params)


def fetch(conn: sa.Connection, sql: str, params: dict[str, Any]) -> Any:
    """Run ``sql`` (psycopg placeholders) on the driver's own connection, in ``conn``'s
    transaction, and return the cursor (rows as named tuples).

    For the statements every step runs: SQLAlchemy's execution context and result objects cost
    as much CPU as psycopg's work. Errors leave as SQLAlchemy's exceptions, and a broken
    connection is invalidated, as if the statement had gone through SQLAlchemy."""
    try:
        cursor = conn.connection.driver_connection.cursor(row_factory=namedtuple_row)
        cursor.execute(sql, params)
    except psycopg.Error as exc:
        invalidated = isinstance(exc, psycopg.OperationalError) and conn.closed is False
        if invalidated:
            conn.invalidate()
        raise sa.exc.DBAPIError.instance(
            sql, params, exc, psycopg.Error, connection_invalidated=invalidated
        ) from exc
    return cursor


@dataclass
class _Batch:
    """The rows a transition writes, by table (see :mod:`flowpilot.runtime.transition_sql`)."""

    dispatch: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    timers: list[dict[str, Any]] = field(default_factory=list)
    untimers: list[dict[str, Any]] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(
            self.dispatch
            or self.records
            or self.timers
            or self.untimers
            or self.payloads
            or self.logs
        )


class StaleState(Exception):
    """The execution changed since this process cached its state: redo with a locked read."""


@dataclass
class PostCommit:
    """What to do once the transaction has committed (never before: a worker must not see a
    step run that a rollback could still erase)."""

    dispatches: list[tuple[str, str, int, str]] = field(default_factory=list)
    timers: list[tuple[str, int]] = field(default_factory=list)
    cancel_children: list[str] = field(default_factory=list)
    released: list[tuple[str, str]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    #: Executions accepted but not started (org id, flow id): a worker starts them.
    starts: list[tuple[str, str]] = field(default_factory=list)
    # A worker that completes a step may take the next one of the same execution itself (no
    # broker hop): the step run is inserted already running under its lease.
    claim_one: bool = False
    eager: dict[str, Any] | None = None

    def accepted(self, execution_id: str, org_id: str, flow_id: str, event_id: int) -> None:
        """An execution was accepted (inserted pending with its creation event ``event_id``):
        listeners hear of it and a worker is asked to start it."""
        self.events.append(
            {
                "id": event_id,
                "execution_id": execution_id,
                "org_id": org_id,
                "type": "execution.created",
                "step": None,
                "data": {},
            }
        )
        self.starts.append((org_id, flow_id))


_dumps = dumps


class Persister:
    def __init__(
        self,
        runtime: Runtime,
        conn: sa.Connection,
        row: Any,
        plan: dict[str, Any],
        secrets: SecretsView,
        post: PostCommit,
    ) -> None:
        self.runtime = runtime
        self.conn = conn
        self.row = row
        self.plan = plan
        self.post = post
        self.execution_id = str(row.id)
        self.org_id = str(row.org_id)
        self.redactor = Redactor(secrets.resolved)
        self.limits = runtime.limits
        # Set when the state came from this process's cache instead of a locked read: the
        # update then only applies if nobody else advanced the execution meanwhile.
        self.expect_version: int | None = None
        #: Set when the execution is not in the database yet: the final write inserts it
        #: (see Runtime.create_execution) instead of updating it.
        self.new_execution: Any = None
        self.written_state: str | None = None
        self.deferred: list[tuple[str, str]] = []
        self._events: list[tuple[str, str | None, Any]] = []
        self._batch = _Batch()
        self._touched: set[tuple[str, int]] = set()

    # ------------------------------------------------------------------ values

    def _stored(self, value: Any) -> tuple[Any, str | None]:
        """A value as stored in a step run: redacted; large ones in ``payloads``."""
        value = self.redactor.value(value)
        text = _dumps(value)
        if len(text) <= self.limits.inline_payload_bytes:
            return value, None
        ref = str(uuid7())
        self._batch.payloads.append({"id": ref, "n": len(text), "d": value})
        return {"$payload": ref, "size": len(text)}, ref

    # ------------------------------------------------------------------ apply

    def apply(self, state: dict[str, Any], actions: list[A.Action]) -> str:
        finish: A.Finish | None = None
        if self.new_execution is not None:
            self._events.append(("execution.created", None, {}))
        children: list[A.StartChild] = []
        for action in _merge_records(actions):
            if isinstance(action, A.Finish):
                finish = action
            elif isinstance(action, A.StartChild):
                children.append(action)  # after the state is written: a child may finish now
            else:
                getattr(self, f"_{type(action).__name__}")(action)
        old = self.row.status
        if finish is not None:
            new = finish.status
        else:
            # Waiting: nothing is with a worker, only timers, people or child executions.
            acts = state.get("acts", {})
            busy = any(a.get("dispatched") for a in acts.values())
            new = "waiting" if acts and not busy else "running"
        if old == "pending" and new != "running":
            check_execution_transition("pending", "running")
            old = "running"
        if new != old:
            check_execution_transition(old, new)
        state_json = _dumps(state)
        self.written_state = state_json
        outputs: Any = None
        error: Any = None
        if finish is not None:
            outputs = self.redactor.value(finish.outputs) if finish.outputs is not None else None
            error = self.redactor.value(finish.error) if finish.error else None
        # Pending timers (a wait cut short, the execution timeout) go with the final write.
        self._commit_writes(
            {
                "status": new,
                "state": state_json,
                "finish": finish is not None,
                "outputs": _dumps(outputs) if outputs is not None else None,
                "error": _dumps(error) if error else None,
            }
        )
        if finish is not None:
            self._finished(finish, outputs, error)
        for child in children:
            self._StartChild(child)
        if children:
            new = self.conn.execute(
                sa.text("SELECT status FROM executions WHERE id = :id"), {"id": self.execution_id}
            ).scalar()
        for step_key, message in self.deferred:
            error = {"message": message, "type": "call_error"}
            new = self.runtime._advance_locked(
                self.conn,
                self.execution_id,
                lambda engine, k=step_key, e=error: engine.child_finished(k, "failed", None, e),
                self.post,
            )
        return new

    def _finished(self, finish: A.Finish, outputs: Any, error: Any) -> None:
        if finish.status != "succeeded":
            # A failed, cancelled or timed-out execution may leave step runs a worker still
            # holds; a succeeded one ended every step itself.
            execute(
                self.conn,
                "UPDATE step_runs SET status = 'cancelled', finished_at = now() "
                "WHERE execution_id = :e "
                "AND status IN ('scheduled', 'queued', 'running', 'waiting')",
                {"e": self.execution_id},
            )
        if self.plan.get("concurrency"):
            self.post.released.append((self.org_id, self.row.flow_id))
        if self.row.parent_id is not None:
            parent = str(self.row.parent_id)
            step = self.row.parent_step
            self.runtime._advance_locked(
                self.conn,
                parent,
                lambda engine: engine.child_finished(step, finish.status, outputs, error),
                self.post,
            )

    # ------------------------------------------------------------------ one method per action

    def _DispatchStep(self, action: A.DispatchStep) -> None:
        inputs, _ = self._stored(action.inputs)
        queue = self.row.priority
        eager = self.post.claim_one and self.post.eager is None
        self._touch((action.step_key, action.attempt))
        self._batch.dispatch.append(
            {
                "id": str(uuid7()),
                "n": action.node_id,
                "k": action.step_key,
                "t": action.node_type,
                "a": action.attempt,
                "s": "running" if eager else "queued",
                "args": action.args,
                "inputs": inputs,
                "ik": action.idempotency_key,
                "q": queue,
                "w": self.runtime.worker_name if eager else None,
                "eager": eager,
                "lease": self.runtime.lease_seconds(self.execution_id, action.step_key),
            }
        )
        if eager:
            self.post.eager = {
                "execution_id": self.execution_id,
                "step_key": action.step_key,
                "attempt": action.attempt,
                "org_id": self.org_id,
                "flow_id": self.row.flow_id,
                "node_type": action.node_type,
                "args": action.args,
                "idempotency_key": action.idempotency_key,
            }
        else:
            self.post.dispatches.append((self.execution_id, action.step_key, action.attempt, queue))

    def _RecordStep(self, action: A.RecordStep) -> None:
        output, ref = self._stored(action.output) if action.output is not None else (None, None)
        inputs, _ = self._stored(action.inputs) if action.inputs is not None else (None, None)
        error = self.redactor.value(action.error) if action.error else None
        self._touch((action.step_key, action.attempt))
        self._batch.records.append(
            {
                "id": str(uuid7()),
                "n": action.node_id,
                "k": action.step_key,
                "kind": action.kind,
                "t": action.node_type,
                "a": action.attempt,
                "s": action.status,
                "inputs": inputs,
                "output": output,
                "ref": ref,
                "error": error or None,
                "w": self.runtime.worker_name if action.started else None,
                "started": action.started,
                "finished": action.finished,
            }
        )

    def _touch(self, row: tuple[str, int]) -> None:
        """A step run written twice in one statement is an error in PostgreSQL: send what is
        queued first when a row comes back (e.g. dispatched, then cancelled in one event)."""
        if row in self._touched:
            self._flush_writes()
        self._touched.add(row)

    def _StartTimer(self, action: A.StartTimer) -> None:
        timer_id = uuid7()
        due = datetime.fromtimestamp(action.due_at, UTC)
        self._batch.timers.append(
            {"id": str(timer_id), "k": action.kind, "d": due.isoformat(), "p": action.payload}
        )
        delay = action.due_at - self.runtime.clock()
        if delay <= TIMER_PUSH_HORIZON_S:
            self.post.timers.append((str(timer_id), max(0, int(delay * 1000))))

    def _StorePayload(self, action: A.StorePayload) -> None:
        size = len(_dumps(action.value))
        self._batch.payloads.append({"id": str(action.ref), "n": size, "d": action.value})

    def _CancelTimer(self, action: A.CancelTimer) -> None:
        self._batch.untimers.append({"k": action.kind, "a": action.act})

    def _StartChild(self, action: A.StartChild) -> None:
        from flowpilot.runtime.inputs import InputError
        from flowpilot.runtime.service import PlanNotFound

        plan_hash = self.runtime.latest_plan_of(self.conn, self.org_id, action.flow)
        try:
            if plan_hash is None:
                raise PlanNotFound(
                    f"flow '{action.flow}' has no compiled plan in this organization"
                )
            self.runtime.create_execution(
                self.conn,
                self.org_id,
                plan_hash,
                action.inputs,
                post=self.post,
                trigger={"type": "call", "parent": self.execution_id, "step": action.step_key},
                dry_run=self.row.dry_run,
                priority=self.row.priority,
                parent=(self.execution_id, action.step_key),
            )
        except (PlanNotFound, InputError) as exc:
            # The engine is waiting for the child: answer at once, in this transaction.
            self._child_failed_now(action.step_key, str(exc))

    def _child_failed_now(self, step_key: str, message: str) -> None:
        self.deferred.append((step_key, message))

    def _CancelChild(self, action: A.CancelChild) -> None:
        for child in self.conn.execute(
            sa.text(
                "SELECT id FROM executions WHERE parent_id = :p AND parent_step = :k "
                "AND status IN ('pending', 'running', 'waiting')"
            ),
            {"p": self.execution_id, "k": action.step_key},
        ).scalars():
            self.post.cancel_children.append(str(child))

    def _CancelStepRuns(self, action: A.CancelStepRuns) -> None:
        self.conn.execute(
            sa.text(
                "UPDATE step_runs SET status = 'cancelled', finished_at = now() "
                "WHERE execution_id = :e AND step_key = ANY(:keys) "
                "AND status IN ('scheduled', 'queued', 'running', 'waiting')"
            ),
            {"e": self.execution_id, "keys": action.step_keys},
        )

    def _Log(self, action: A.Log) -> None:
        self._batch.logs.append(
            {
                "k": action.step_key,
                "l": action.level,
                "m": self.redactor.text(action.message),
                "f": self.redactor.value(action.fields),
            }
        )

    def _Emit(self, action: A.Emit) -> None:
        self._events.append((action.type, action.step_key, self.redactor.value(action.data)))

    def _batch_params(self) -> dict[str, Any]:
        batch, self._batch = self._batch, _Batch()
        self._touched = set()
        return {
            "e": self.execution_id,
            "o": self.org_id,
            "dispatch": rows(batch.dispatch, _dumps),
            "records": rows(batch.records, _dumps),
            "untimers": rows(batch.untimers, _dumps),
            "timers": rows(batch.timers, _dumps),
            "payloads": rows(batch.payloads, _dumps),
            "logs": rows(batch.logs, _dumps),
            "finish": False,
            "events": "[]",
            "notify": False,
        }

    def _flush_writes(self) -> None:
        if self._batch:
            fetch(self.conn, WRITES_ONLY, self._batch_params())

    def _commit_writes(self, values: dict[str, Any]) -> None:
        """Everything queued, the events and the execution row, in one statement."""
        params = self._batch_params()
        params.update(values)
        events = self._events
        if events:
            params["events"] = _dumps([{"t": t, "k": k, "d": d} for t, k, d in events])
            params["notify"] = True
        if self.new_execution is not None:
            statement = INSERT_EXECUTION
            params.update({f"n_{k}": v for k, v in self.new_execution.insert_params().items()})
        else:
            statement = UPDATE_EXECUTION
            params["expect"] = self.expect_version
        found = fetch(self.conn, statement, params).fetchone()
        if found is None:
            raise StaleState(self.execution_id)
        if not events:
            return
        ids = found[0]
        for event_id, (type_, key, data) in zip(ids or [], events, strict=False):
            self.post.events.append(
                {
                    "id": event_id,
                    "execution_id": self.execution_id,
                    "org_id": self.org_id,
                    "type": type_,
                    "step": key,
                    "data": data,
                }
            )
        self._events = []

    @staticmethod
    def event(
        conn: sa.Connection,
        execution_id: str,
        org_id: str,
        type_: str,
        step_key: str | None,
        data: dict[str, Any],
        post: PostCommit,
    ) -> None:
        event_id = conn.execute(
            sa.text(
                "INSERT INTO execution_events (execution_id, org_id, type, step_key, data) "
                "VALUES (:e, :o, :t, :k, CAST(:d AS jsonb)) RETURNING id"
            ),
            {"e": execution_id, "o": org_id, "t": type_, "k": step_key, "d": _dumps(data)},
        ).scalar()
        post.events.append(
            {
                "id": event_id,
                "execution_id": execution_id,
                "org_id": org_id,
                "type": type_,
                "step": step_key,
                "data": data,
            }
        )


def is_finished(status: str) -> bool:
    return ExecutionStatus(status).finished


def _merge_records(actions: list[A.Action]) -> list[A.Action]:
    """Fold successive records of one step attempt (running, then succeeded) into one write."""
    merged: list[A.Action] = []
    last: dict[tuple[str, int], A.RecordStep] = {}
    for action in actions:
        if isinstance(action, A.RecordStep):
            key = (action.step_key, action.attempt)
            earlier = last.get(key)
            if earlier is not None:
                earlier.status = action.status
                earlier.node_type = action.node_type or earlier.node_type
                earlier.inputs = action.inputs if action.inputs is not None else earlier.inputs
                earlier.output = action.output if action.output is not None else earlier.output
                earlier.error = action.error or earlier.error
                earlier.started = earlier.started or action.started
                earlier.finished = earlier.finished or action.finished
                continue
            last[key] = action
        elif isinstance(action, A.DispatchStep):
            last.pop((action.step_key, action.attempt), None)
        merged.append(action)
    return merged
