"""Live events over WebSockets: one execution's, or a whole organization's.

A stream sends each event as a JSON text message (``id``, ``execution_id``, ``type``, ``step``,
``data``, ``ts``) in id order. A client that reconnects with ``?after=<last id>`` (or the
``Last-Event-ID`` header) gets everything after that id and nothing twice:

- Events of one execution are written under that execution's row lock, so they commit in id
  order; the execution stream sends them as soon as they commit, and closes (1000) once the
  execution has finished and its last events are sent.
- Events of different executions are written by concurrent transactions, which may commit out
  of id order. The organization stream therefore sends an event only once every transaction
  that could still commit a lower id has ended (:class:`SettleGate`), so it never skips an
  event that commits late; that costs no delay unless a transaction is still open.

Authentication: ``Authorization: Bearer …`` (an access token or an API key), or, for browsers
(which cannot set headers on a WebSocket), ``?access_token=<access token>``. A failure closes
the socket with 4401 (no or bad credentials), 4403 (not allowed), 4404 (no such execution) or
4400 (a bad ``after``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, NamedTuple
from urllib.parse import urlencode

import anyio.to_thread
import sqlalchemy as sa
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath

from flowpilot.runtime.events import events_after
from flowpilot.runtime.states import ExecutionStatus
from flowpilot.server.deps import Services, services_of
from flowpilot.server.errors import ApiError, BadRequest, NotFound, Unauthorized
from flowpilot.server.executions.hub import EventHub, hub_of
from flowpilot.server.security import API_KEY_PREFIX, Principal, authenticate, bearer_of

log = logging.getLogger("flowpilot.server.live")

#: The longest the organization stream holds an event back for an open transaction (one that
#: stays open longer, like a bulk import, must not stall every stream).
ORG_MAX_HOLD_SECONDS = 5.0
#: How soon to look again while an event is held back.
ORG_RECHECK_SECONDS = 0.05
#: Reread the database at least this often even without a notification.
POLL_SECONDS = 2.0
BATCH = 500

_CLOSE_CODES = {400: 4400, 401: 4401, 403: 4403, 404: 4404}


# ---------------------------------------------------------------------------- reading


def _execution_status(db: sa.Engine, org_id: uuid.UUID, execution_id: uuid.UUID) -> str | None:
    with db.connect() as conn:
        return conn.execute(
            sa.text("SELECT status FROM executions WHERE id = :id AND org_id = :o"),
            {"id": execution_id, "o": org_id},
        ).scalar()


def _last_org_event(db: sa.Engine, org_id: uuid.UUID) -> int:
    with db.connect() as conn:
        found = conn.execute(
            sa.text("SELECT max(id) FROM execution_events WHERE org_id = :o"), {"o": org_id}
        ).scalar()
    return int(found or 0)


class OrgRead(NamedTuple):
    #: The highest event id handed out so far (read first).
    allocated: int
    #: Transaction ids: every one below ``xmin`` has ended; ``xmax`` is the next to be
    #: assigned.
    xmin: int
    xmax: int
    events: list[dict[str, Any]]


def _read_org(db: sa.Engine, org_id: uuid.UUID, after: int) -> OrgRead:
    with db.connect() as conn:
        seq = conn.execute(
            sa.text("SELECT last_value, is_called FROM execution_events_id_seq")
        ).one()
        xmin, xmax = conn.execute(
            sa.text(
                "SELECT CAST(pg_snapshot_xmin(s) AS text), CAST(pg_snapshot_xmax(s) AS text) "
                "FROM pg_current_snapshot() s"
            )
        ).one()
    allocated = int(seq.last_value) if seq.is_called else 0
    events = events_after(db, str(org_id), after_id=after, limit=BATCH)
    return OrgRead(allocated, int(xmin), int(xmax), events)


class SettleGate:
    """Lets an event through once no transaction that could still commit a lower id is open.

    Each read notes the highest event id handed out so far. The next read notes the next
    transaction id to be assigned (``xmax``): every transaction that held one of those event
    ids has a transaction id below it by then (it took one the moment it wrote). Once the
    oldest open transaction (``xmin``) is past that ``xmax``, all of them have committed or
    rolled back, so what is visible of those ids is all there will ever be, and events up to
    them may go. A mark older than ``max_hold`` seconds counts as settled, so that one long
    transaction elsewhere delays the stream by that much at most.
    """

    def __init__(self, max_hold: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_hold = max_hold
        self._clock = clock
        self._unpaired: tuple[float, int] | None = None
        self._marks: deque[tuple[float, int, int]] = deque()
        self.horizon = 0

    def admit(self, read: OrgRead) -> tuple[list[dict[str, Any]], bool]:
        """The events of ``read`` that may go now (in order), and whether some are held."""
        now = self._clock()
        if self._unpaired is not None:
            self._marks.append((*self._unpaired, read.xmax))
        self._unpaired = (now, read.allocated)
        while self._marks and (
            self._marks[0][2] <= read.xmin or self._marks[0][0] <= now - self.max_hold
        ):
            self.horizon = max(self.horizon, self._marks.popleft()[1])
        ready = []
        for event in read.events:
            if event["id"] > self.horizon:
                return ready, True
            ready.append(event)
        return ready, False


# ---------------------------------------------------------------------------- streams


Send = Callable[[dict[str, Any]], Awaitable[None]]


async def stream_execution(
    hub: EventHub, db: sa.Engine, org_id: uuid.UUID, execution_id: uuid.UUID, after: int, send: Send
) -> None:
    """Send the execution's events after ``after`` until it has finished."""
    async with hub.subscribe(org_id) as subscription:
        last = after
        while True:
            # The status first: once it reads finished, the final events are committed too.
            status = await anyio.to_thread.run_sync(_execution_status, db, org_id, execution_id)
            batch = await anyio.to_thread.run_sync(
                partial(
                    events_after,
                    db,
                    str(org_id),
                    after_id=last,
                    execution_id=str(execution_id),
                    limit=BATCH,
                )
            )
            for event in batch:
                await send(event)
                last = event["id"]
            if len(batch) == BATCH:
                continue
            if status is None or ExecutionStatus(status).finished:
                return
            await subscription.wait(POLL_SECONDS)


async def stream_org(
    hub: EventHub, db: sa.Engine, org_id: uuid.UUID, after: int, send: Send
) -> None:
    """Send the organization's events after ``after``, forever."""
    gate = SettleGate(ORG_MAX_HOLD_SECONDS)
    async with hub.subscribe(org_id) as subscription:
        last = after
        while True:
            read = await anyio.to_thread.run_sync(_read_org, db, org_id, last)
            ready, held = gate.admit(read)
            for event in ready:
                await send(event)
                last = event["id"]
            if held:
                await subscription.wait(ORG_RECHECK_SECONDS)
            elif len(read.events) < BATCH:
                await subscription.wait(POLL_SECONDS)


# ---------------------------------------------------------------------------- handlers


def _credential(socket: WebSocket[Any, Any, Any]) -> str | None:
    token = socket.query_params.get("access_token")
    if token is not None:
        # The server logs the path and query of each WebSocket it accepts: drop the token
        # from the request before accepting it.
        kept = [(k, v) for k, v in socket.query_params.multi_items() if k != "access_token"]
        socket.scope["query_string"] = urlencode(kept).encode()
    credential = bearer_of(socket.headers)
    if credential is not None:
        return credential
    if not token:
        return None
    if token.startswith(API_KEY_PREFIX):
        # URLs end up in proxy and server logs: a long-lived key must not travel in one.
        raise Unauthorized(
            "send API keys in the Authorization header, not in the URL", code="invalid_token"
        )
    return token


def _authenticate(services: Services, credential: str | None) -> Principal:
    if credential is None:
        raise Unauthorized("send a bearer token or ?access_token=")
    with services.db.begin() as conn:
        principal = authenticate(conn, services.settings.secret_key, credential)
    principal.require("executions:read")
    return principal


def _after(socket: WebSocket[Any, Any, Any]) -> int | None:
    raw = socket.query_params.get("after") or socket.headers.get("last-event-id")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise BadRequest("after must be the id of an event (a non-negative integer)")
    return int(raw)


async def _serve(socket: WebSocket[Any, Any, Any], run: Callable[..., Awaitable[None]]) -> None:
    """Accept, authenticate, then ``run(services, principal, send)`` while watching for the
    client going away, which cancels ``run`` (releasing its subscription)."""
    services = services_of(socket.app.state)
    refused: ApiError | None = None
    credential: str | None = None
    try:
        credential = _credential(socket)  # before accepting: it strips the URL's token
    except ApiError as exc:
        refused = exc
    await socket.accept()
    try:
        if refused is not None:
            raise refused
        principal = await anyio.to_thread.run_sync(_authenticate, services, credential)
    except ApiError as exc:
        await _close(socket, _CLOSE_CODES.get(exc.status, 4400), exc.detail)
        return

    async def send(event: dict[str, Any]) -> None:
        await socket.send_text(json.dumps(event, default=str))

    async def watch_client() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await socket.receive_data("text")  # clients have nothing to say: ignored

    watcher = asyncio.ensure_future(watch_client())
    runner = asyncio.ensure_future(run(services, principal, send))
    try:
        await asyncio.wait({watcher, runner}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (runner, watcher):
            task.cancel()
        await asyncio.gather(runner, watcher, return_exceptions=True)
    if runner.cancelled():
        return  # the client left (its socket is closed already)
    error = runner.exception()
    if error is None:
        await _close(socket, 1000, "the execution has finished")
    elif isinstance(error, ApiError):
        await _close(socket, _CLOSE_CODES.get(error.status, 4400), error.detail)
    elif not isinstance(error, WebSocketDisconnect | OSError):
        log.error("live stream %s failed", socket.url.path, exc_info=error)
        await _close(socket, 1011, "internal error")


async def _close(socket: WebSocket[Any, Any, Any], code: int, reason: str) -> None:
    with contextlib.suppress(Exception):  # the client may be gone already
        await socket.close(code=code, reason=reason.encode()[:120].decode(errors="ignore"))


@websocket("/executions/{execution_id:str}/events", name="execution_events")
async def execution_events(socket: WebSocket[Any, Any, Any], execution_id: FromPath[str]) -> None:
    """The events of one execution, from the start (or after ``?after=``) until it finishes."""

    async def run(services: Services, principal: Principal, send: Send) -> None:
        try:
            wanted = uuid.UUID(execution_id)
        except ValueError:
            raise NotFound(f"no execution {execution_id}") from None
        after = _after(socket)
        status = await anyio.to_thread.run_sync(
            _execution_status, services.db, principal.org, wanted
        )
        if status is None:
            raise NotFound(f"no execution {execution_id}")
        hub = hub_of(socket.app.state, services.db)
        await stream_execution(hub, services.db, principal.org, wanted, after or 0, send)

    await _serve(socket, run)


@websocket("/events/stream", name="org_events")
async def org_events(socket: WebSocket[Any, Any, Any]) -> None:
    """Every event of the caller's organization, from now on (or after ``?after=``)."""

    async def run(services: Services, principal: Principal, send: Send) -> None:
        after = _after(socket)
        if after is None:
            after = await anyio.to_thread.run_sync(_last_org_event, services.db, principal.org)
        hub = hub_of(socket.app.state, services.db)
        await stream_org(hub, services.db, principal.org, after, send)

    await _serve(socket, run)


# ---------------------------------------------------------------------------- waiting


async def wait_finished(
    hub: EventHub, db: sa.Engine, org_id: uuid.UUID, execution_id: uuid.UUID, timeout: float
) -> str | None:
    """Wait (without holding a thread) until the execution finishes or ``timeout`` passes;
    returns its last status."""
    deadline = time.monotonic() + timeout
    async with hub.subscribe(org_id) as subscription:
        while True:
            status = await anyio.to_thread.run_sync(_execution_status, db, org_id, execution_id)
            left = deadline - time.monotonic()
            if status is None or ExecutionStatus(status).finished or left <= 0:
                return status
            await subscription.wait(min(left, POLL_SECONDS))


ROUTES = [execution_events, org_events]
