"""The runtime service: every state change of an execution as one PostgreSQL transaction.

Each entry point (:meth:`Runtime.start_execution`, :meth:`Runtime.complete_step`,
:meth:`Runtime.fire_timer`, :meth:`Runtime.signal`, :meth:`Runtime.cancel`) locks the execution
row, runs the pure :class:`~flowpilot.runtime.engine.Engine` on its stored state, and writes the
new state with everything the engine decided — step runs, timers, logs, events, the final
status — before committing. Messages to workers are sent only after the commit; if the process
dies in between, the recovery sweep (:mod:`flowpilot.runtime.scheduler`) finds the queued step
runs and sends them again. Completing a step twice is a no-op: the step run's status is updated
conditionally, and the engine ignores results it is not waiting for.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from flowpilot.runtime import actions as A
from flowpilot.runtime.codec import loads
from flowpilot.runtime.dispatch import START_BATCH, Dispatcher, StartSender
from flowpilot.runtime.engine import Engine
from flowpilot.runtime.engine_support import EngineContext, Limits
from flowpilot.runtime.inline import run_inline
from flowpilot.runtime.inputs import validate_inputs
from flowpilot.runtime.persist import Persister, PostCommit, StaleState, execute, fetch
from flowpilot.runtime.records import (
    CLAIM_STEP,
    LOCK_EXECUTION,
    CachedRow,
    NewExecution,
    iso_ms,
    load_payload,
    mock_from_schema,
)
from flowpilot.runtime.secrets import EnvSecretProvider, SecretProvider, SecretsView
from flowpilot.runtime.states import ExecutionStatus, check_execution_transition
from flowpilot.store.ids import uuid7

log = logging.getLogger("flowpilot.runtime")

__all__ = [
    "START_BATCH",
    "Dispatcher",
    "ExecutionNotFound",
    "PlanNotFound",
    "Runtime",
    "StartSender",
]

DEFAULT_ORG = "local"


class ExecutionNotFound(LookupError):
    pass


class PlanNotFound(LookupError):
    pass


_STARTER_LOCK = threading.Lock()

#: Seconds a process trusts the organization concurrency limit it read.
ORG_LIMIT_TTL = 5.0


@dataclass
class Runtime:
    """The transactional core shared by the CLI, workers, the scheduler and the server."""

    db: sa.Engine
    dispatcher: Dispatcher | None = None
    secrets: SecretProvider = field(default_factory=EnvSecretProvider)
    limits: Limits = field(default_factory=Limits.from_env)
    worker_name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    clock: Callable[[], float] = time.time
    listeners: list[Callable[[list[dict[str, Any]]], None]] = field(default_factory=list)
    #: Extra work the leading scheduler does every round, by name (registering a name again
    #: replaces it). Each returns how much it did. The server registers its cron and event
    #: triggers here, so the runtime runs them without knowing anything about them.
    periodic_tasks: dict[str, Callable[[], int]] = field(default_factory=dict)
    _plans: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    _org_limits: dict[str, tuple[int | None, float]] = field(default_factory=dict)
    _start_sender: StartSender | None = field(default=None, repr=False)
    # The state this process last wrote or read for executions it is driving step after step
    # (as JSON text, or a dict nobody else holds), so the next step can skip the locked read
    # (an optimistic version check guards the write).
    _states: dict[str, tuple[Any, dict[str, Any] | str]] = field(default_factory=dict)

    # ------------------------------------------------------------------ organizations, plans

    def ensure_org(self, slug: str = DEFAULT_ORG, name: str = "Local") -> str:
        with self.db.begin() as conn:
            found = conn.execute(
                sa.text("SELECT id FROM organizations WHERE slug = :s"), {"s": slug}
            ).scalar()
            if found:
                return str(found)
            conn.execute(
                sa.text(
                    "INSERT INTO organizations (id, slug, name) VALUES (:id, :s, :n) "
                    "ON CONFLICT (slug) DO NOTHING"
                ),
                {"id": uuid7(), "s": slug, "n": name},
            )
            return str(
                conn.execute(
                    sa.text("SELECT id FROM organizations WHERE slug = :s"), {"s": slug}
                ).scalar()
            )

    def save_plan(
        self,
        org_id: str,
        plan: dict[str, Any],
        plan_hash: str,
        conn: sa.Connection | None = None,
    ) -> str:
        """Store a compiled plan (content-addressed: saving it again is a no-op), in ``conn``'s
        transaction when given."""
        with contextlib.nullcontext(conn) if conn is not None else self.db.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO plans (org_id, hash, flow_id, ir_version, plan) "
                    "VALUES (:o, :h, :f, :v, CAST(:p AS jsonb)) ON CONFLICT DO NOTHING"
                ),
                {
                    "o": org_id,
                    "h": plan_hash,
                    "f": plan["flow"]["id"],
                    "v": plan["ir_version"],
                    "p": json.dumps(plan),
                },
            )
        self._plans[(org_id, plan_hash)] = plan
        return plan_hash

    def plan(self, conn: sa.Connection, org_id: str, plan_hash: str) -> dict[str, Any]:
        key = (str(org_id), plan_hash)
        found = self._plans.get(key)
        if found is None:
            found = conn.execute(
                sa.text("SELECT plan FROM plans WHERE org_id = :o AND hash = :h"),
                {"o": org_id, "h": plan_hash},
            ).scalar()
            if found is None:
                raise PlanNotFound(f"no plan {plan_hash[:12]} in this organization")
            if found.get("ir_version") != 1:
                raise PlanNotFound(f"plan {plan_hash[:12]} has an unknown ir_version")
            self._plans[key] = found
        return found

    def latest_plan_of(self, conn: sa.Connection, org_id: str, flow_id: str) -> str | None:
        return conn.execute(
            sa.text(
                "SELECT hash FROM plans WHERE org_id = :o AND flow_id = :f "
                "ORDER BY created_at DESC LIMIT 1"
            ),
            {"o": org_id, "f": flow_id},
        ).scalar()

    # ------------------------------------------------------------------ engine plumbing

    def _context(
        self, row: Any, *, started_at: datetime | None = None
    ) -> tuple[EngineContext, SecretsView]:
        secrets = SecretsView(self.secrets, str(row.org_id))
        ctx = EngineContext(
            execution_id=str(row.id),
            org_id=str(row.org_id),
            inputs=row.inputs,
            secrets=secrets,
            now=self.clock,
            inline_runner=run_inline,
            trigger=row.trigger,
            dry_run=row.dry_run,
            started_at=iso_ms(started_at or row.started_at or datetime.now(UTC)),
            limits=self.limits,
            mock_maker=mock_from_schema,
            payload_loader=lambda ref: load_payload(self.db, ref),
        )
        return ctx, secrets

    def _engine_for(
        self, row: Any, plan: dict[str, Any], state: dict[str, Any]
    ) -> tuple[Engine, Any]:
        ctx, secrets = self._context(row)
        return Engine(plan, state, ctx), secrets

    def _lock(self, conn: sa.Connection, execution_id: str) -> Any:
        row = fetch(conn, LOCK_EXECUTION, {"id": execution_id}).fetchone()
        if row is None:
            raise ExecutionNotFound(f"no execution {execution_id}")
        return row

    def advance(
        self,
        execution_id: str,
        step: Callable[[Engine], list[A.Action]],
        *,
        before: Callable[[sa.Connection, Any], bool] | None = None,
    ) -> str:
        """Run ``step`` on the execution's engine inside one transaction; return the status.
        ``before`` may veto (return False) after the row is locked."""
        post = PostCommit()
        with self.db.begin() as conn:
            status = self._advance_locked(conn, execution_id, step, post, before=before)
        self._after_commit(post)
        return status

    def _advance_locked(
        self,
        conn: sa.Connection,
        execution_id: str,
        step: Callable[[Engine], list[A.Action]],
        post: PostCommit,
        *,
        before: Callable[[sa.Connection, Any], bool] | None = None,
        remember: bool = False,
    ) -> str:
        # Any other path changes the execution: a cached state would only fail its check.
        cached = self._states.pop(execution_id, None)
        if not remember:
            cached = None
        if cached is not None:
            row, remembered = cached
            state = loads(remembered) if isinstance(remembered, str) else remembered
        else:
            row = self._lock(conn, execution_id)
            state = row.state
        if ExecutionStatus(row.status).finished:
            return row.status
        if before is not None and not before(conn, row):
            return row.status
        plan = self.plan(conn, row.org_id, row.plan_hash)
        engine, secrets = self._engine_for(row, plan, state)
        actions = step(engine)
        persister = Persister(self, conn, row, plan, secrets, post)
        if cached is not None:
            persister.expect_version = row.version
        status = persister.apply(engine.state, actions)
        if remember and not ExecutionStatus(status).finished and persister.written_state:
            self._remember(
                execution_id,
                CachedRow(row, status=status, version=row.version + 1),
                persister.written_state,
            )
        return status

    @contextlib.contextmanager
    def transaction(self) -> Iterator[tuple[sa.Connection, PostCommit]]:
        """A transaction in which the caller's own writes and :meth:`create_execution` (given
        the yielded ``post``) commit together; what must follow the commit (sending steps to
        workers) runs once it has, and not at all if the block raises."""
        post = PostCommit()
        with self.db.begin() as conn:
            yield conn, post
        self._after_commit(post)

    @contextlib.contextmanager
    def autocommit(self) -> Iterator[tuple[sa.Connection, PostCommit]]:
        """A connection on which every statement commits on its own — for readers, and callers
        whose writes are single statements, like :meth:`accept_execution` — and the ``post`` to
        give them; what must follow the commits runs after the block, not if it raises."""
        post = PostCommit()
        with self.db.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn, post
        self._after_commit(post)

    def _after_commit(self, post: PostCommit) -> None:
        if post.starts and self.dispatcher is not None:
            self._starter().add(post.starts)
        for execution_id, step_key, attempt, priority in post.dispatches:
            if self.dispatcher is not None:
                self.dispatcher.send_step(execution_id, step_key, attempt, priority)
        for timer_id, delay_ms in post.timers:
            if self.dispatcher is not None:
                self.dispatcher.send_timer(timer_id, delay_ms)
        for child_id in post.cancel_children:
            self.cancel(child_id, "the parent step was cancelled")
        for org_id, flow_id in post.released:
            self._start_queued(org_id, flow_id)
        if post.events and self.listeners:
            for listener in self.listeners:
                try:
                    listener(post.events)
                except Exception:
                    log.exception("event listener failed")

    # ------------------------------------------------------------------ executions

    def start_execution(
        self,
        org_id: str,
        plan_hash: str,
        inputs: dict[str, Any] | None = None,
        *,
        trigger: dict[str, Any] | None = None,
        dry_run: bool = False,
        priority: str = "default",
        workflow_id: str | None = None,
    ) -> str:
        """Validate ``inputs`` (raises :class:`~flowpilot.runtime.inputs.InputError`), create
        the execution and run it until it waits for a worker, a timer or a person."""
        post = PostCommit()
        with self.db.begin() as conn:
            execution_id = self.create_execution(
                conn,
                org_id,
                plan_hash,
                inputs or {},
                trigger=trigger,
                dry_run=dry_run,
                priority=priority,
                workflow_id=workflow_id,
                post=post,
            )
        self._after_commit(post)
        return execution_id

    def accept_execution(
        self,
        conn: sa.Connection,
        org_id: str,
        plan_hash: str,
        inputs: dict[str, Any],
        *,
        post: PostCommit,
        trigger: dict[str, Any] | None = None,
        priority: str = "default",
        workflow_id: str | None = None,
        also: tuple[str, dict[str, Any]] | None = None,
    ) -> str:
        """Accept an execution without starting it: validate ``inputs`` (raises
        :class:`~flowpilot.runtime.inputs.InputError`) and insert it ``pending`` with its
        creation event in one statement, atomic on its own (``conn`` may be in autocommit);
        a worker starts it after the commit, the oldest of its flow first, and the scheduler
        does if the message is lost. ``also`` is one more write (SQL, params with names
        prefixed ``a_``) that must succeed with the insert, like a webhook's replay guard.

        What a trigger under load uses: the request costs one statement, and the engine's
        start runs on a worker. A flow with a ``concurrency`` setting must be judged when it
        arrives (``cancel``/``fail`` answer at once): use :meth:`create_execution` for it.
        """
        plan = self.plan(conn, org_id, plan_hash)
        record = self.new_accepted(
            org_id,
            plan,
            plan_hash,
            inputs,
            trigger=trigger or {"type": "manual"},
            priority=priority,
            workflow_id=workflow_id,
        )
        execution_id, flow_id = record.id, record.flow_id
        extra = f", also AS ({also[0]})" if also else ""
        found = execute(
            conn,
            "WITH ev AS (INSERT INTO execution_events (execution_id, org_id, type, data) "
            f"VALUES (:id, :org, 'execution.created', '{{}}') RETURNING id){extra} "
            "INSERT INTO executions (id, org_id, flow_id, plan_hash, workflow_id, status, "
            "priority, dry_run, inputs, trigger, state, parent_id, parent_step, created_at, "
            "updated_at, started_at) VALUES (:id, :org, :flow, :hash, :wf, :status, :prio, "
            ":dry, CAST(:inputs AS jsonb), CAST(:trigger AS jsonb), CAST(:state AS jsonb), "
            ":parent, :pstep, :now, :now, NULL) "
            "RETURNING (SELECT id FROM ev), pg_notify('flowpilot_events', CAST(:org AS text))",
            {**record.insert_params(), **(also[1] if also else {})},
        ).one()
        post.accepted(execution_id, org_id, flow_id, found[0])
        return execution_id

    def new_accepted(
        self,
        org_id: str,
        plan: dict[str, Any],
        plan_hash: str,
        inputs: dict[str, Any],
        *,
        trigger: dict[str, Any],
        priority: str = "default",
        workflow_id: str | None = None,
    ) -> NewExecution:
        """The record of an execution to accept (validated inputs, a fresh id), for callers that
        insert many at once and then call :meth:`committed` (the webhook receiver's group
        commit). Raises :class:`~flowpilot.runtime.inputs.InputError` like
        :meth:`accept_execution`."""
        if priority not in ("high", "default", "low"):
            raise ValueError(f"priority must be high, default or low, not {priority!r}")
        if plan.get("concurrency"):
            raise ValueError("a flow with a concurrency setting cannot be accepted unjudged")
        return NewExecution.of(
            org_id,
            plan,
            plan_hash,
            validate_inputs(plan["inputs"], inputs),
            trigger=trigger,
            priority=priority,
            workflow_id=workflow_id,
        )

    def committed(self, post: PostCommit) -> None:
        """What follows a commit made outside :meth:`transaction` (starts, dispatches, events)."""
        self._after_commit(post)

    def start_accepted(self, org_id: str, flow_id: str, count: int = 1) -> int:
        """Start up to ``count`` of the oldest accepted (pending) executions of a flow, as
        the organization's limit admits (a worker's answer to :meth:`accept_execution`);
        returns how many started."""
        started = 0
        while started < count and self._start_queued(org_id, flow_id):
            started += 1
        return started

    def _starter(self) -> StartSender:
        with _STARTER_LOCK:
            if self._start_sender is None:
                assert self.dispatcher is not None
                self._start_sender = StartSender(self.dispatcher)
            return self._start_sender

    def create_execution(
        self,
        conn: sa.Connection,
        org_id: str,
        plan_hash: str,
        inputs: dict[str, Any],
        *,
        post: PostCommit,
        trigger: dict[str, Any] | None = None,
        dry_run: bool = False,
        priority: str = "default",
        workflow_id: str | None = None,
        parent: tuple[str, str] | None = None,
        initial_state: dict[str, Any] | None = None,
    ) -> str:
        if priority not in ("high", "default", "low"):
            raise ValueError(f"priority must be high, default or low, not {priority!r}")
        plan = self.plan(conn, org_id, plan_hash)
        resolved = validate_inputs(plan["inputs"], inputs)
        admitted, verdict = self._admit(conn, org_id, plan)
        record = NewExecution.of(
            org_id,
            plan,
            plan_hash,
            resolved,
            trigger=trigger,
            priority=priority,
            workflow_id=workflow_id,
            dry_run=dry_run,
            parent=parent,
            state=initial_state,
            started=admitted,
        )
        execution_id = record.id
        if admitted:
            # The common case costs one statement: the engine starts on the record in memory,
            # and the execution is inserted together with everything the start decided.
            engine, ctx_secrets = self._engine_for(record, plan, record.state)
            persister = Persister(self, conn, record, plan, ctx_secrets, post)
            persister.new_execution = record
            persister.apply(engine.state, engine.start())
            return execution_id
        conn.execute(
            sa.text(
                "INSERT INTO executions (id, org_id, flow_id, plan_hash, workflow_id, status, "
                "priority, dry_run, inputs, trigger, state, parent_id, parent_step, created_at, "
                "updated_at, started_at) VALUES (:id, :org, :flow, :hash, :wf, :status, :prio, "
                ":dry, CAST(:inputs AS jsonb), CAST(:trigger AS jsonb), CAST(:state AS jsonb), "
                ":parent, :pstep, :now, :now, NULL)"
            ),
            record.insert_params(),
        )
        Persister.event(conn, execution_id, org_id, "execution.created", None, {}, post)
        if verdict == "cancel" or verdict == "fail":
            status = "cancelled" if verdict == "cancel" else "failed"
            limit = (plan.get("concurrency") or {}).get("limit")
            message = f"flow '{plan['flow']['id']}' already runs {limit} executions (concurrency)"
            self._set_status(
                conn, execution_id, "pending", status, error={"message": message, "type": "limit"}
            )
            Persister.event(conn, execution_id, org_id, f"execution.{status}", None, {}, post)
        return execution_id

    def _org_limit(self, conn: sa.Connection, org_id: str) -> int | None:
        """The organization's concurrency limit, read at most every ORG_LIMIT_TTL seconds (a
        round trip per start otherwise, for a setting that rarely changes)."""
        now = time.monotonic()
        cached = self._org_limits.get(str(org_id))
        if cached is not None and now - cached[1] < ORG_LIMIT_TTL:
            return cached[0]
        limit = conn.execute(
            sa.text("SELECT max_concurrent_executions FROM organizations WHERE id = :o"),
            {"o": org_id},
        ).scalar()
        self._org_limits[str(org_id)] = (limit, now)
        return limit

    def _admit(self, conn: sa.Connection, org_id: str, plan: dict[str, Any]) -> tuple[bool, str]:
        """Flow and organization concurrency: (start now?, what to do otherwise)."""
        concurrency = plan.get("concurrency")
        flow_id = plan["flow"]["id"]
        org_limit = self._org_limit(conn, org_id)
        if not concurrency and not org_limit:
            return True, "run"
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"{org_id}/{flow_id}"}
        )
        flow_active, org_active = conn.execute(
            sa.text(
                "SELECT count(*) FILTER (WHERE flow_id = :f), count(*) FROM executions "
                "WHERE org_id = :o AND status IN ('running', 'waiting')"
            ),
            {"o": org_id, "f": flow_id},
        ).one()
        if concurrency and flow_active >= concurrency["limit"]:
            return False, concurrency.get("on_limit", "queue")
        if org_limit and org_active >= org_limit:
            return False, "queue"
        return True, "run"

    def _begin(self, conn: sa.Connection, execution_id: str, post: PostCommit) -> None:
        """Start an execution that waited in the queue."""
        started = datetime.now(UTC)
        conn.execute(
            sa.text("UPDATE executions SET started_at = :t WHERE id = :id"),
            {"t": started, "id": execution_id},
        )
        self._advance_locked(conn, execution_id, lambda engine: engine.start(), post)

    def _start_queued(self, org_id: str, flow_id: str) -> bool:
        """A slot freed up: start the oldest queued execution of the flow, if any; returns
        whether one started."""
        post = PostCommit()
        with self.db.begin() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT id, plan_hash FROM executions WHERE org_id = :o AND flow_id = :f "
                    "AND status = 'pending' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
                ),
                {"o": org_id, "f": flow_id},
            ).one_or_none()
            if row is None:
                return False
            plan = self.plan(conn, org_id, row.plan_hash)
            admitted, _ = self._admit(conn, org_id, plan)
            if admitted:
                self._begin(conn, str(row.id), post)
        self._after_commit(post)
        return admitted

    def _set_status(
        self,
        conn: sa.Connection,
        execution_id: str,
        old: str,
        new: str,
        *,
        error: dict[str, Any] | None = None,
    ) -> None:
        check_execution_transition(old, new)
        finished = ExecutionStatus(new).finished
        conn.execute(
            sa.text(
                "UPDATE executions SET status = :s, error = CAST(:e AS jsonb), updated_at = now(), "
                "finished_at = CASE WHEN :fin THEN now() ELSE finished_at END WHERE id = :id"
            ),
            {
                "s": new,
                "e": json.dumps(error) if error else None,
                "fin": finished,
                "id": execution_id,
            },
        )

    def retry_execution(
        self,
        execution_id: str,
        from_step: str | None = None,
        *,
        by: dict[str, Any] | None = None,
        within: Callable[[sa.Connection, str], None] | None = None,
    ) -> str:
        """See :func:`flowpilot.runtime.retrying.retry_execution`."""
        from flowpilot.runtime.retrying import retry_execution

        return retry_execution(self, execution_id, from_step, by=by, within=within)

    # ------------------------------------------------------------------ steps

    def claim_step(self, execution_id: str, step_key: str, attempt: int) -> Any | None:
        """Take the step run for this worker (status → running, with a lease). None when it is
        not runnable any more (done, cancelled, or held by a live worker): a duplicate.

        The execution's row and state come back with the claim and are remembered, so that
        completing the step can skip the locked read: if anything advanced the execution
        meanwhile (a parallel branch), the version check of that write fails and it redoes
        the transition on a locked read."""
        with self.db.begin() as conn:
            row = fetch(
                conn,
                CLAIM_STEP,
                {
                    "w": self.worker_name,
                    "e": execution_id,
                    "k": step_key,
                    "a": attempt,
                    "lease": self.lease_seconds(execution_id, step_key),
                },
            ).fetchone()
        if row is not None and not ExecutionStatus(row.status).finished:
            self._remember(
                execution_id, CachedRow(row, status=row.status, version=row.version), row.state
            )
        return row

    def _remember(self, execution_id: str, row: Any, state: dict[str, Any] | str) -> None:
        if len(self._states) > 1000:
            self._states.clear()
        self._states[execution_id] = (row, state)

    def lease_seconds(self, execution_id: str, step_key: str) -> float:
        return float(os.environ.get("FLOWPILOT_STEP_LEASE_SECONDS", "300"))

    def complete_step(
        self,
        execution_id: str,
        step_key: str,
        attempt: int,
        *,
        output: Any = None,
        error: dict[str, Any] | None = None,
    ) -> bool:
        """Record a worker's result and advance the execution. False when the step run was no
        longer running (a duplicate or a cancelled step): nothing changes then."""
        accepted = False

        def claim(conn: sa.Connection, row: Any) -> bool:
            nonlocal accepted
            accepted = (
                conn.execute(
                    sa.text(
                        "UPDATE step_runs SET status = :s, finished_at = now() "
                        "WHERE execution_id = :e AND step_key = :k AND attempt = :a "
                        "AND status IN ('running', 'queued') RETURNING 1"
                    ),
                    {
                        "s": "succeeded" if error is None else "failed",
                        "e": execution_id,
                        "k": step_key,
                        "a": attempt,
                    },
                ).scalar()
                is not None
            )
            return accepted

        self.advance(
            execution_id,
            lambda engine: engine.step_finished(step_key, attempt, output=output, error=error),
            before=claim,
        )
        return accepted

    def complete_and_take_next(
        self,
        execution_id: str,
        step_key: str,
        attempt: int,
        *,
        output: Any = None,
        error: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """:meth:`complete_step` for a worker thread that is free to run the execution's next
        step itself: that step run is created already claimed by this worker and returned
        (other steps the engine starts at the same time still go through the broker)."""

        # No conditional claim here (one statement less per step): under the execution's row
        # lock the engine accepts a result only for the attempt it is waiting for, and only
        # then records the step run, so a duplicate or a cancelled step changes nothing.
        def finish(engine: Engine) -> list[A.Action]:
            return engine.step_finished(step_key, attempt, output=output, error=error)

        post = PostCommit(claim_one=True)
        try:
            with self.db.begin() as conn:
                self._advance_locked(conn, execution_id, finish, post, remember=True)
        except StaleState:
            self._states.pop(execution_id, None)
            post = PostCommit(claim_one=True)
            with self.db.begin() as conn:
                self._advance_locked(conn, execution_id, finish, post, remember=True)
        self._after_commit(post)
        return post.eager

    # ------------------------------------------------------------------ timers, signals

    def fire_timer(self, timer_id: str) -> bool:
        """Fire one timer if it is still pending (exactly once: the row is marked fired in the
        same transaction that advances the execution)."""
        post = PostCommit()
        with self.db.begin() as conn:
            timer = conn.execute(
                sa.text(
                    "SELECT id, execution_id, kind, payload, due_at FROM timers "
                    "WHERE id = :id AND fired_at IS NULL FOR UPDATE SKIP LOCKED"
                ),
                {"id": timer_id},
            ).one_or_none()
            if timer is None:
                return False
            if timer.due_at.timestamp() > self.clock() + 0.001:
                return False  # early delivery: the sweep or a later message fires it
            conn.execute(
                sa.text("UPDATE timers SET fired_at = now() WHERE id = :id"), {"id": timer_id}
            )
            self._advance_locked(
                conn,
                str(timer.execution_id),
                lambda engine: engine.timer_fired(timer.kind, timer.payload),
                post,
            )
        self._after_commit(post)
        return True

    def due_timers(self, limit: int = 100) -> list[str]:
        with self.db.connect() as conn:
            return [
                str(t)
                for t in conn.execute(
                    sa.text(
                        "SELECT id FROM timers WHERE fired_at IS NULL AND due_at <= now() "
                        "ORDER BY due_at LIMIT :n"
                    ),
                    {"n": limit},
                ).scalars()
            ]

    def signal(
        self,
        execution_id: str,
        step_key: str,
        decision: dict[str, Any],
        *,
        before: Callable[[sa.Connection, Any], bool] | None = None,
    ) -> str:
        """Approve or reject a waiting approval step (``decision``: approved, by, comment…).
        Raises LookupError when the step is not waiting for an approval. ``before`` as in
        :meth:`advance` (it runs once the unfinished execution is locked)."""
        return self.advance(
            execution_id, lambda engine: engine.signal(step_key, decision), before=before
        )

    def cancel(
        self,
        execution_id: str,
        reason: str = "cancelled by a user",
        *,
        before: Callable[[sa.Connection, Any], bool] | None = None,
    ) -> str:
        """Cancel an unfinished execution; returns its status (unchanged when it had already
        finished). ``before`` as in :meth:`advance`."""

        def pending_cancel(conn: sa.Connection, row: Any) -> bool:
            if before is not None and not before(conn, row):
                return False
            if row.status == "pending":  # never started: nothing to unwind
                self._set_status(
                    conn,
                    execution_id,
                    "pending",
                    "cancelled",
                    error={"message": reason, "type": "cancelled"},
                )
                return False
            return True

        return self.advance(
            execution_id, lambda engine: engine.cancel(reason), before=pending_cancel
        )

    # ------------------------------------------------------------------ reading

    def get_execution(self, execution_id: str) -> dict[str, Any]:
        with self.db.connect() as conn:
            row = (
                conn.execute(
                    sa.text(
                        "SELECT id, org_id, flow_id, status, inputs, outputs, error, trigger, "
                        "dry_run, created_at, started_at, finished_at, parent_id FROM executions "
                        "WHERE id = :id"
                    ),
                    {"id": execution_id},
                )
                .mappings()
                .one_or_none()
            )
        if row is None:
            raise ExecutionNotFound(f"no execution {execution_id}")
        return dict(row)

    def wait_finished(self, execution_id: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            found = self.get_execution(execution_id)
            if ExecutionStatus(found["status"]).finished or time.monotonic() > deadline:
                return found
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
