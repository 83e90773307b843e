"""One LISTEN connection per server process, fanned out to every live stream and waiting request.

Each transition of an execution commits its events with ``NOTIFY flowpilot_events, '<org>'``
(:mod:`flowpilot.runtime.events`). The hub listens once and wakes the subscribers of that
organization; they read what is new from ``execution_events`` themselves, so a notification is
only a hint and a missed one costs at most a poll interval. The listener starts with the first
subscriber and stops a while after the last one leaves, closing its connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import sqlalchemy as sa

from flowpilot.runtime.events import CHANNEL

log = logging.getLogger("flowpilot.server.live")

#: How long the listener stays connected after its last subscriber leaves (so that a page
#: reload or a burst of short ``wait`` requests does not reconnect each time).
LINGER_SECONDS = 30.0


class Subscription:
    """A subscriber's wake-up signal."""

    def __init__(self, org_id: str) -> None:
        self.org_id = org_id
        self._woken = asyncio.Event()

    def wake(self) -> None:
        self._woken.set()

    async def wait(self, timeout: float) -> None:
        """Until something new may have been committed for the organization, or ``timeout``.
        Read the database *after* this returns: a notification that arrives meanwhile sets
        the signal again, so nothing committed after the read goes unnoticed."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), timeout)
        self._woken.clear()


class EventHub:
    """Shares one ``LISTEN flowpilot_events`` connection among the subscribers of a process."""

    def __init__(self, db: sa.Engine, *, linger: float | None = None) -> None:
        self._url = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._linger = linger
        self._subscribers: dict[str, set[Subscription]] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def linger(self) -> float:
        return LINGER_SECONDS if self._linger is None else self._linger

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    @property
    def listening(self) -> bool:
        return self._task is not None and not self._task.done()

    @contextlib.asynccontextmanager
    async def subscribe(self, org_id: str | Any) -> AsyncIterator[Subscription]:
        subscription = Subscription(str(org_id))
        self._subscribers.setdefault(subscription.org_id, set()).add(subscription)
        if not self.listening:
            self._task = asyncio.get_running_loop().create_task(self._listen())
        try:
            yield subscription
        finally:
            group = self._subscribers.get(subscription.org_id)
            if group is not None:
                group.discard(subscription)
                if not group:
                    del self._subscribers[subscription.org_id]

    async def close(self) -> None:
        """Stop listening now (the connection closes)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _wake(self, org_id: str) -> None:
        for subscription in self._subscribers.get(org_id, ()):
            subscription.wake()

    def _wake_all(self) -> None:
        for group in self._subscribers.values():
            for subscription in group:
                subscription.wake()

    async def _listen(self) -> None:
        backoff = 0.5
        idle_since: float | None = None
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    # Whatever was committed while nobody listened: everyone reads again.
                    self._wake_all()
                    backoff = 0.5
                    while True:
                        async for note in conn.notifies(timeout=1.0):
                            self._wake(note.payload)
                        if self._subscribers:
                            idle_since = None
                        elif idle_since is None:
                            idle_since = time.monotonic()
                        elif time.monotonic() - idle_since >= self.linger:
                            return
            except psycopg.Error as exc:
                # Subscribers keep polling meanwhile; they only lose the instant wake-up.
                log.warning("event listener lost its connection (%s); reconnecting", exc)
                self._wake_all()
                if not self._subscribers:
                    return
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)


def hub_of(state: Any, db: sa.Engine) -> EventHub:
    """The process's hub, kept in the application state (created on first use)."""
    hub = getattr(state, "event_hub", None)
    if hub is None:
        hub = EventHub(db)
        state.event_hub = hub
    return hub
