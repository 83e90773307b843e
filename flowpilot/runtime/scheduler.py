"""The scheduler: fires due timers and recovers lost work. Safe to run several: one leader at a
time, chosen by a PostgreSQL advisory lock held on a dedicated connection.

Each round it
- fires every timer that is due (waits, retry back-offs, step and execution timeouts, approval
  timeouts) — timers due soon were also sent as delayed messages, so this is the safety net that
  makes a timer fire even when its message was lost or no worker was running;
- re-queues step runs whose message was lost (queued too long) or whose worker vanished (lease
  expired), so a killed worker or a restarted broker never loses an execution;
- starts executions queued behind an organization's concurrency limit;
- keeps the next months' partitions created;
- runs the runtime's ``periodic_tasks`` (the server's cron and event triggers).
"""

from __future__ import annotations

import logging
import os
import threading
import time

import sqlalchemy as sa

from flowpilot.runtime.service import Runtime
from flowpilot.store.partitions import ensure_partitions

log = logging.getLogger("flowpilot.scheduler")

LEADER_LOCK = 7134002


class Scheduler:
    def __init__(
        self,
        runtime: Runtime,
        *,
        interval: float = 0.5,
        requeue_after: float | None = None,
    ) -> None:
        self.runtime = runtime
        self.interval = interval
        self.requeue_after = requeue_after or float(
            os.environ.get("FLOWPILOT_REQUEUE_AFTER_SECONDS", "60")
        )
        self._stop = threading.Event()
        self._leader_conn: sa.Connection | None = None
        self._partitions_checked = 0.0

    # ------------------------------------------------------------------ leadership

    def is_leader(self) -> bool:
        if self._leader_conn is not None:
            try:
                self._leader_conn.execute(sa.text("SELECT 1"))
                return True
            except sa.exc.DBAPIError:
                self._leader_conn = None  # the connection died with the lock: compete again
        conn = self.runtime.db.connect()
        got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_LOCK}).scalar()
        conn.commit()
        if got:
            self._leader_conn = conn
            log.info("scheduler %s is the leader", self.runtime.worker_name)
            return True
        conn.close()
        return False

    def resign(self) -> None:
        if self._leader_conn is not None:
            try:
                self._leader_conn.execute(
                    sa.text("SELECT pg_advisory_unlock(:k)"), {"k": LEADER_LOCK}
                )
                self._leader_conn.commit()
            except sa.exc.DBAPIError:
                pass  # the connection is gone, and the lock with it
            finally:
                self._leader_conn.close()
                self._leader_conn = None

    # ------------------------------------------------------------------ one round

    def run_once(self) -> dict[str, int]:
        """One round of work (the caller must be the leader); returns what it did."""
        fired = 0
        for timer_id in self.runtime.due_timers(limit=500):
            try:
                fired += self.runtime.fire_timer(timer_id)
            except Exception:
                log.exception("firing timer %s failed", timer_id)
        requeued = self.recover()
        started = self.start_queued()
        if time.monotonic() - self._partitions_checked > 3600:
            with self.runtime.db.begin() as conn:
                ensure_partitions(conn)
            self._partitions_checked = time.monotonic()
        done = {"timers": fired, "requeued": requeued, "started": started}
        for name, task in list(self.runtime.periodic_tasks.items()):
            try:
                done[name] = task()
            except Exception:
                log.exception("periodic task %s failed", name)
        return done

    def recover(self) -> int:
        with self.runtime.db.begin() as conn:
            rows = conn.execute(
                sa.text(
                    "UPDATE step_runs SET status = 'queued', worker = NULL, enqueued_at = now() "
                    "WHERE (status = 'queued' AND enqueued_at < now() - make_interval(secs => :q)) "
                    "OR (status = 'running' AND lease_expires_at < now()) "
                    "RETURNING execution_id, step_key, attempt, queue"
                ),
                {"q": self.requeue_after},
            ).all()
        for row in rows:
            log.warning("re-queueing %s/%s attempt %s", row.execution_id, row.step_key, row.attempt)
            if self.runtime.dispatcher is not None:
                self.runtime.dispatcher.send_step(
                    str(row.execution_id), row.step_key, row.attempt, row.queue or "default"
                )
        return len(rows)

    def start_queued(self) -> int:
        with self.runtime.db.connect() as conn:
            flows = conn.execute(
                sa.text(
                    "SELECT DISTINCT org_id, flow_id FROM executions WHERE status = 'pending' "
                    "AND created_at < now() - interval '1 second'"
                )
            ).all()
        for org_id, flow_id in flows:
            self.runtime._start_queued(str(org_id), flow_id)
        return len(flows)

    # ------------------------------------------------------------------ loop

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                if self.is_leader():
                    self.run_once()
            except Exception:
                log.exception("scheduler round failed")
            self._stop.wait(self.interval)
        self.resign()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, daemon=True, name="flowpilot-scheduler")
        thread.start()
        self._thread = thread
        return thread

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        thread = getattr(self, "_thread", None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
