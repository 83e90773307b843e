"""How the runtime hands work to workers: the :class:`Dispatcher` interface (Dramatiq implements
it in :mod:`flowpilot.runtime.broker`) and the thread that asks workers to start accepted
executions."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections import Counter

log = logging.getLogger("flowpilot.runtime")


class Dispatcher:
    """Carries work to workers; :mod:`flowpilot.runtime.broker` implements it with Dramatiq."""

    def send_step(self, execution_id: str, step_key: str, attempt: int, priority: str) -> None:
        raise NotImplementedError

    def send_timer(self, timer_id: str, delay_ms: int) -> None:
        """Optional: fire a timer soon without waiting for the scheduler's sweep."""

    def send_start(self, org_id: str, flow_id: str, count: int = 1) -> None:
        """Optional: ask a worker to start the ``count`` oldest accepted executions of a flow
        (otherwise the scheduler's sweep of pending executions starts it)."""


class StartSender:
    """Sends "start accepted executions" messages from a thread of its own, merged by flow.

    Accepting an execution answers its caller (a webhook) once the insert commits; telling a
    worker is not on that path. Under load, the requests of one flow made while the previous
    message went out become one message asking for that many starts. A message lost here (the
    process dies first) costs only time: the scheduler starts pending executions it finds."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self._queue: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="flowpilot-starts", daemon=True)
        self._thread.start()

    def add(self, starts: list[tuple[str, str]]) -> None:
        for start in starts:
            self._queue.put(start)

    def _run(self) -> None:
        while True:
            counts: Counter[tuple[str, str]] = Counter([self._queue.get()])
            with contextlib.suppress(queue.Empty):
                while len(counts) < 1000:
                    counts[self._queue.get_nowait()] += 1
            for (org_id, flow_id), count in counts.items():
                # In parts, so that several workers start a burst side by side.
                for part in range(0, count, START_BATCH):
                    try:
                        self.dispatcher.send_start(org_id, flow_id, min(START_BATCH, count - part))
                    except Exception:  # the broker is down: the scheduler's sweep starts them
                        log.warning("could not ask a worker to start %s executions", count)
                        break


#: Most starts one message asks for.
START_BATCH = 8
