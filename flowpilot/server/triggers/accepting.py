"""Group commit for webhook deliveries: the executions of many deliveries in one statement.

A delivery that is authenticated and has valid inputs ends in an insert: the execution, its
``execution.created`` event and, for a signed delivery, the signature that must not be seen
again. Committing each alone costs a round trip and a WAL flush per delivery, and under load
deliveries queue for the threads that wait on them. Here a delivery hands its row to a
committer thread and waits; the committer takes every row queued meanwhile and writes them all
in one statement (so the batch grows with the load and a lone delivery waits for nobody), then
answers each delivery: accepted (with its execution id), or replayed when its signature was
already known — or, within one batch, when an earlier delivery carried the same signature.

A batch that fails (a row PostgreSQL refuses) is retried one row at a time, so a bad delivery
fails alone. What follows the commit (telling a worker to start the executions, event
listeners) runs before the deliveries are answered, as for a single insert.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from flowpilot.runtime.codec import dumps
from flowpilot.runtime.persist import PostCommit, fetch
from flowpilot.runtime.service import Runtime

log = logging.getLogger("flowpilot.triggers")

#: Most deliveries one statement writes.
MAX_BATCH = 256

#: The answer for a delivery whose signature was seen before.
REPLAYED = "replayed"

_ACCEPT = (
    "WITH x AS (SELECT * FROM ROWS FROM (jsonb_to_recordset(%(rows)s::jsonb) AS (id uuid, "
    "org uuid, flow text, hash text, wf uuid, prio text, inputs jsonb, trigger jsonb, "
    "route text, sig text, at timestamptz, tid uuid)) WITH ORDINALITY AS x(id, org, flow, hash, "
    "wf, prio, inputs, trigger, route, sig, at, tid, i)), "
    "g AS (INSERT INTO webhook_deliveries (route, signature) SELECT DISTINCT route, sig FROM x "
    "WHERE sig IS NOT NULL ON CONFLICT DO NOTHING RETURNING route, signature), "
    # A signed delivery is accepted when its signature is new, and only the first of a batch.
    "ok AS (SELECT x.* FROM x WHERE x.sig IS NULL OR (x.i = (SELECT min(y.i) FROM x y "
    "WHERE y.route = x.route AND y.sig = x.sig) AND EXISTS (SELECT 1 FROM g "
    "WHERE g.route = x.route AND g.signature = x.sig))), "
    "e AS (INSERT INTO executions (id, org_id, flow_id, plan_hash, workflow_id, status, "
    "priority, dry_run, inputs, trigger, state, created_at, updated_at) SELECT id, org, flow, "
    "hash, wf, 'pending', prio, false, inputs, trigger, '{}', at, at FROM ok), "
    # When the trigger last started a run, refreshed at most every few seconds and never
    # waiting for another batch's lock on the row.
    "t AS (UPDATE triggers SET last_fired_at = now() WHERE id IN (SELECT id FROM triggers "
    "WHERE id IN (SELECT tid FROM ok) AND (last_fired_at IS NULL OR last_fired_at < "
    "now() - interval '5 seconds') FOR UPDATE SKIP LOCKED)), "
    "ev AS (INSERT INTO execution_events (execution_id, org_id, type, data) SELECT id, org, "
    "'execution.created', '{}' FROM ok ORDER BY i RETURNING execution_id, id) "
    # NOTIFY is transactional: listeners hear of the events once they are committed.
    "SELECT ev.execution_id, ev.id, (SELECT count(pg_notify('flowpilot_events', o::text)) "
    "FROM (SELECT DISTINCT org AS o FROM ok) n) FROM ev"
)


@dataclass(slots=True)
class PendingAccept:
    """One delivery's execution, waiting for its batch."""

    execution_id: str
    org_id: str
    flow_id: str
    #: The row, as JSON text (encoded by the delivery's own thread).
    row: str
    future: Future[Any] = field(default_factory=Future)


def pending_accept(
    record: Any, *, trigger_row: Any, route: str, signature: str | None
) -> PendingAccept:
    """The row of ``record`` (from :meth:`Runtime.new_accepted`), started by the trigger row
    ``trigger_row``, to hand to a committer."""
    row = dumps(
        {
            "id": record.id,
            "org": record.org_id,
            "flow": record.flow_id,
            "hash": record.plan_hash,
            "wf": record.workflow_id,
            "prio": record.priority,
            "inputs": record.inputs,
            "trigger": record.trigger,
            "route": route,
            "sig": signature,
            "at": record.created_at.isoformat(),
            "tid": str(trigger_row),
        }
    )
    return PendingAccept(record.id, record.org_id, record.flow_id, row)


class AcceptCommitter:
    """Committer threads writing the pending deliveries of a process in batches."""

    def __init__(self, runtime: Runtime, *, threads: int | None = None) -> None:
        self.runtime = runtime
        self._queue: queue.SimpleQueue[PendingAccept] = queue.SimpleQueue()
        count = threads or int(os.environ.get("FLOWPILOT_WEBHOOK_COMMITTERS") or 2)
        for n in range(max(1, count)):
            threading.Thread(
                target=self._run, name=f"flowpilot-webhook-commit-{n}", daemon=True
            ).start()

    def submit(self, pending: PendingAccept) -> Future[Any]:
        """Queue ``pending``; its future answers the event id, or :data:`REPLAYED`."""
        self._queue.put(pending)
        return pending.future

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while len(batch) < MAX_BATCH:
                    batch.append(self._queue.get_nowait())
            try:
                self._commit(batch)
            except Exception as exc:  # a row PostgreSQL refuses: find it, the others go on
                if len(batch) == 1:
                    batch[0].future.set_exception(exc)
                    continue
                log.info("a batch of %d deliveries failed; writing them one by one", len(batch))
                for pending in batch:
                    try:
                        self._commit([pending])
                    except Exception as single:
                        pending.future.set_exception(single)

    def _commit(self, batch: list[PendingAccept]) -> None:
        rows = "[" + ",".join(p.row for p in batch) + "]"
        # Not Runtime.autocommit(): what follows the commit must not raise into _run, which
        # would write the batch again row by row.
        with self.runtime.db.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            accepted = {str(r[0]): r[1] for r in fetch(conn, _ACCEPT, {"rows": rows}).fetchall()}
        post = PostCommit()
        for pending in batch:
            event_id = accepted.get(pending.execution_id)
            if event_id is None:
                continue
            post.accepted(pending.execution_id, pending.org_id, pending.flow_id, event_id)
        try:
            self.runtime.committed(post)
        except Exception:  # committed: the scheduler's sweep starts what was not announced
            log.exception("after committing %d deliveries", len(batch))
        for pending in batch:
            pending.future.set_result(accepted.get(pending.execution_id, REPLAYED))
