"""Reading the event stream: every state change of every execution, in order, resumable.

Each transition writes its events to ``execution_events`` (global, increasing ids) and, in the
same transaction, ``NOTIFY flowpilot_events, '<org id>'``. :func:`events_after` reads what came
after an id; :func:`follow` yields events as they happen, waking on the notification (or every
``poll`` seconds as a safety net), so a client that reconnects with the last id it saw misses
nothing and sees nothing twice. The server streams this over WebSockets.
"""

from __future__ import annotations

import select
from collections.abc import Iterator
from typing import Any

import psycopg
import sqlalchemy as sa

from flowpilot.runtime.persist import execute

CHANNEL = "flowpilot_events"


def events_after(
    db: sa.Engine,
    org_id: str,
    *,
    after_id: int = 0,
    execution_id: str | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Events of an organization (or of one of its executions) with ids above ``after_id``."""
    where = "org_id = :o AND id > :after"
    params: dict[str, Any] = {"o": org_id, "after": after_id, "n": limit}
    if execution_id is not None:
        where += " AND execution_id = :e"
        params["e"] = execution_id
    with db.connect() as conn:
        rows = execute(
            conn,
            "SELECT id, execution_id, type, step_key, data, ts FROM execution_events "
            f"WHERE {where} ORDER BY id LIMIT :n",
            params,
        ).all()
    return [
        {
            "id": r.id,
            "execution_id": str(r.execution_id),
            "type": r.type,
            "step": r.step_key,
            "data": r.data,
            "ts": r.ts.isoformat(),
        }
        for r in rows
    ]


def follow(
    db: sa.Engine,
    org_id: str,
    *,
    after_id: int = 0,
    execution_id: str | None = None,
    poll: float = 1.0,
    stop_after: float | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield events as they are committed, from ``after_id`` on. Ends after ``stop_after``
    seconds without a new event (never, when None)."""
    import time

    url = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        last = after_id
        quiet_since = time.monotonic()
        while True:
            batch = events_after(db, org_id, after_id=last, execution_id=execution_id)
            for event in batch:
                last = event["id"]
                yield event
            if batch:
                quiet_since = time.monotonic()
                continue
            if stop_after is not None and time.monotonic() - quiet_since > stop_after:
                return
            # Wait for a notification (any organization's: a cheap re-read tells).
            select.select([listener.fileno()], [], [], poll)
            for _ in listener.notifies(timeout=0):
                pass
