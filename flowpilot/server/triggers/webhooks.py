"""Receiving webhooks: authenticate a delivery, start the flow of the published version.

The hot path of the server. One delivery costs one transaction: look up the route joined with
the plan hash of the published version, remember an HMAC signature (replay protection), create
the execution (the plan comes from the runtime's in-process cache: plans are content-addressed,
so a cached plan never goes stale). No ORM, no compile, no read-back: the status answered is
what the transaction itself did.

Authentication modes (the trigger's ``auth``):

- ``none``: anyone who knows the URL.
- ``token``: ``Authorization: Bearer <secret>`` or ``X-FlowPilot-Token: <secret>``.
- ``hmac``: ``X-FlowPilot-Signature: t=<unix seconds>,v1=<hex>`` where ``<hex>`` is
  HMAC-SHA256(secret, ``"<t>." + raw body``). Several ``v1=`` may be given (rotating secrets).
  A timestamp further than the replay window from the server's clock is refused, and so is a
  signature seen before (remembered in ``webhook_deliveries`` for twice the window: a timestamp
  may be ahead of the server's clock by up to the window).
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import hmac
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import msgspec
import sqlalchemy as sa

from flowpilot.runtime.evaluate import EvaluationError, resolve_value
from flowpilot.runtime.persist import execute
from flowpilot.runtime.secrets import SecretMissing, SecretsView
from flowpilot.runtime.service import Runtime
from flowpilot.server.errors import (
    ApiError,
    BadRequest,
    Conflict,
    FieldError,
    NotFound,
    Unauthorized,
    Unavailable,
    invalid_fields,
)
from flowpilot.server.triggers.accepting import (
    REPLAYED,
    AcceptCommitter,
    PendingAccept,
    pending_accept,
)
from flowpilot.server.triggers.firing import (
    Target,
    TriggerRejected,
    accepted_record,
    has_nul,
    iso,
    nul_character,
    payload_guard,
    start_execution,
    status_after_start,
    trigger_names,
)
from flowpilot.server.triggers.sync import routes_generation

log = logging.getLogger("flowpilot.triggers")

SIGNATURE_HEADER = "x-flowpilot-signature"
TOKEN_HEADER = "x-flowpilot-token"
#: Never handed to the flow (``trigger.headers``), never logged.
HIDDEN_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", TOKEN_HEADER, SIGNATURE_HEADER}
)
#: How often a process deletes remembered signatures that can no longer be replayed.
PRUNE_EVERY_SECONDS = 60.0
#: Threads that run deliveries' statements. Each spends most of a delivery waiting for
#: PostgreSQL; more threads than that needs only contend for the GIL and stretch the tail
#: (bench/api.py: 4 gave the best p99, 8 a worse one at a lower rate). A plain executor costs
#: a fraction of a generic async-to-thread hop.
_THREADS = ThreadPoolExecutor(
    max_workers=int(os.environ.get("FLOWPILOT_WEBHOOK_THREADS") or 4),
    thread_name_prefix="flowpilot-webhooks",
)

_LOOKUP = (
    "SELECT t.id, t.org_id, t.workflow_id, t.trigger_id, t.config, v.plan_hash "
    "FROM triggers t JOIN workflow_versions v ON v.id = t.version_id "
    "WHERE t.type = 'webhook' AND t.route = :route AND t.enabled"
)
#: When the trigger last started a run (refreshed at most every few seconds, so that busy
#: hooks do not contend for the row).
_TOUCH = (
    "UPDATE triggers SET last_fired_at = now() WHERE id = :id AND "
    "(last_fired_at IS NULL OR last_fired_at < now() - interval '5 seconds')"
)
_REMEMBER = (
    "INSERT INTO webhook_deliveries (route, signature) VALUES (:route, :sig) "
    "ON CONFLICT DO NOTHING RETURNING 1"
)


def _replayed() -> Conflict:
    return Conflict(
        "this delivery was received before (same signature): sign each delivery anew",
        code="replayed",
    )


def _rejected(exc: TriggerRejected) -> ApiError:
    return invalid_fields(
        exc.problems,
        f"the delivery does not give the flow valid inputs: {exc}",
        code="invalid_inputs",
    )


class MethodNotAllowed(ApiError):
    status, code, title = 405, "method_not_allowed", "Method not allowed"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook request, read in full (within the size limit)."""

    route: str
    method: str
    #: Header names in lower case; repeated headers joined with ", ".
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Started:
    execution_id: str
    #: As the delivery's transaction left it (see :func:`.firing.status_after_start`).
    status: str


def headers_of(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


def query_of(raw: bytes, *, skip: str = "wait") -> dict[str, str]:
    """Query parameters (the first value of a repeated one), without the receiver's own."""
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if name != skip:
            if "\x00" in name or "\x00" in value:
                raise nul_character(f"query.{name.replace(chr(0), '')}")
            query.setdefault(name, value)
    return query


def parse_body(body: bytes, content_type: str) -> Any:
    """JSON (declared, or with no content type) parsed; anything else kept as text."""
    if not body:
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    if media in ("", "application/json") or media.endswith("+json"):
        try:
            parsed = msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            raise BadRequest(
                f"the body is not valid JSON: {exc}",
                code="malformed_json",
                errors=[FieldError("body", str(exc))],
            ) from None
        if b"\\u0000" in body and has_nul(parsed):  # scan only when the escape is there
            raise nul_character("body")
        return parsed
    if b"\x00" in body:
        raise nul_character("body")
    return body.decode("utf-8", errors="replace")


# ---------------------------------------------------------------------------- authentication


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``v1`` signature of a delivery (what a sender computes)."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def parse_signature(header: str) -> tuple[int | None, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value.strip().lower())
    return timestamp, signatures


def verify_signature(
    secret: str, header: str | None, body: bytes, *, now: float, window: int
) -> str:
    """The signature that matched; 401 when absent, wrong or older than ``window`` seconds."""
    if not header:
        raise Unauthorized(
            "this webhook needs a signature: X-FlowPilot-Signature: t=<unix time>,v1=<hex "
            "HMAC-SHA256 of '<t>.<body>'>",
            code="signature_required",
        )
    timestamp, candidates = parse_signature(header)
    if timestamp is None or not candidates:
        raise Unauthorized(
            "the signature header must read t=<unix time>,v1=<hex>", code="invalid_signature"
        )
    expected = sign(secret, timestamp, body).encode()
    if not any(hmac.compare_digest(c.encode(), expected) for c in candidates):
        raise Unauthorized("the signature does not match the body", code="invalid_signature")
    if abs(now - timestamp) > window:
        raise Unauthorized(
            f"the signature's timestamp is more than {window} seconds away from the server's "
            "clock: sign the delivery again when sending it",
            code="signature_expired",
        )
    return expected.decode()


def verify_token(secret: str, headers: dict[str, str]) -> None:
    given = headers.get(TOKEN_HEADER)
    if given is None:
        scheme, _, value = headers.get("authorization", "").partition(" ")
        given = value.strip() if scheme.lower() == "bearer" else None
    if not given:
        raise Unauthorized(
            "this webhook needs its token: Authorization: Bearer <token> or X-FlowPilot-Token",
            code="token_required",
        )
    if not hmac.compare_digest(given.encode(), secret.encode()):
        raise Unauthorized("the token is not valid", code="invalid_token")


def _secret(runtime: Runtime, target: Target) -> str:
    configured = target.config.get("secret")
    try:
        value = resolve_value(
            configured, {"secrets": SecretsView(runtime.secrets, str(target.org_id)), "env": {}}
        )
    except (SecretMissing, EvaluationError) as exc:
        log.warning(
            "webhook %s of workflow %s cannot authenticate: %s",
            target.trigger_id,
            target.workflow_id,
            exc,
        )
        raise Unavailable(
            "this webhook's secret is not configured on the server",
            code="webhook_secret_missing",
        ) from None
    if not isinstance(value, str) or not value:
        raise Unavailable(
            "this webhook's secret is not configured on the server",
            code="webhook_secret_missing",
        )
    return value


# ---------------------------------------------------------------------------- receiving

#: How long a process trusts a route it looked up. Its own trigger changes (publish,
#: unpublish, delete) take effect at once; another server process's within this time.
ROUTE_SECONDS = 1.0
#: Most routes remembered (a flood of unknown routes must not grow the memory).
MAX_ROUTES = 10_000


def _check_method(target: Target, delivery: Delivery) -> None:
    allowed = str(target.config.get("method") or "POST").upper()
    if delivery.method != allowed:
        raise MethodNotAllowed(
            f"this webhook accepts {allowed} requests", headers={"Allow": allowed}
        )


def _started(prepared: PendingAccept, answer: Any) -> Started:
    if answer == REPLAYED:
        raise _replayed()
    return Started(prepared.execution_id, "pending")


@dataclass(frozen=True, slots=True)
class _Route:
    """A route as last looked up: its target and plan (None: no such webhook), and when."""

    found: tuple[Target, dict[str, Any]] | None
    at: float
    generation: int


class Receiver:
    """Turns deliveries into executions (one per process: it remembers routes and when it last
    pruned, and owns the committer threads of :mod:`.accepting`)."""

    def __init__(self, runtime: Runtime, *, replay_seconds: int) -> None:
        self.runtime = runtime
        self.replay_seconds = replay_seconds
        self._pruned_at = 0.0
        self._routes: dict[str, _Route] = {}
        self._committer: AcceptCommitter | None = None
        self._committer_lock = threading.Lock()

    async def receive_async(self, delivery: Delivery) -> Started:
        """:meth:`receive`, with the checks on the webhook threads (with the request's context,
        its id) and the wait for the commit on the event loop."""
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        prepared = await loop.run_in_executor(_THREADS, context.run, self.prepare, delivery)
        if isinstance(prepared, Started):
            return prepared
        answer = await asyncio.wrap_future(self.committer().submit(prepared))
        return _started(prepared, answer)

    def receive(self, delivery: Delivery) -> Started:
        """Authenticate ``delivery`` and start its flow (see :meth:`prepare`)."""
        prepared = self.prepare(delivery)
        if isinstance(prepared, Started):
            return prepared
        return _started(prepared, self.committer().submit(prepared).result())

    def prepare(self, delivery: Delivery) -> PendingAccept | Started:
        """Everything but the insert: find the route, authenticate, evaluate the trigger's
        inputs against the flow's. The common case reads nothing from the database (routes are
        remembered) and returns the execution for the committer, which inserts it with others
        and remembers the signature, so a replay is refused with the insert; a worker starts it
        after the commit. A flow with a ``concurrency`` setting is judged on arrival instead
        (its ``cancel`` and ``fail`` answer at once), in a transaction of its own."""
        self._prune()
        target, plan = self._route(delivery)
        if plan.get("concurrency"):
            return self._receive_judged(delivery)
        signature = self._authenticate(target, delivery)
        trigger, names = self._trigger(target, plan, delivery)
        try:
            with payload_guard("body"):
                record = accepted_record(self.runtime, target, plan, trigger, names)
                return pending_accept(
                    record, trigger_row=target.id, route=delivery.route, signature=signature
                )
        except TriggerRejected as exc:
            raise _rejected(exc) from None

    def committer(self) -> AcceptCommitter:
        if self._committer is None:
            with self._committer_lock:
                if self._committer is None:
                    self._committer = AcceptCommitter(self.runtime)
        return self._committer

    def _receive_judged(self, delivery: Delivery) -> Started:
        """A delivery to a flow with a concurrency setting: everything in one transaction."""
        runtime = self.runtime
        with runtime.transaction() as (conn, post):
            target = self._target(conn, delivery)
            signature = self._authenticate(target, delivery)
            if (
                signature
                and execute(conn, _REMEMBER, {"route": delivery.route, "sig": signature}).first()
                is None
            ):
                raise _replayed()
            plan = runtime.plan(conn, str(target.org_id), target.plan_hash)
            trigger, names = self._trigger(target, plan, delivery)
            try:
                with payload_guard("body"):
                    execution_id = start_execution(runtime, conn, post, target, trigger, names)
            except TriggerRejected as exc:
                raise _rejected(exc) from None
            execute(conn, _TOUCH, {"id": target.id})
            status = status_after_start(post, execution_id)
        return Started(execution_id, status)

    def _route(self, delivery: Delivery) -> tuple[Target, dict[str, Any]]:
        """The target and plan of the delivery's route, remembered for
        :data:`ROUTE_SECONDS` (and until this process changes triggers)."""
        now = time.monotonic()
        generation = routes_generation()
        known = self._routes.get(delivery.route)
        if known is None or known.generation != generation or now - known.at > ROUTE_SECONDS:
            with self.runtime.autocommit() as (conn, _):
                row = execute(conn, _LOOKUP, {"route": delivery.route}).one_or_none()
                found = None
                if row is not None:
                    target = Target.of(row)
                    found = (target, self.runtime.plan(conn, str(target.org_id), target.plan_hash))
            if len(self._routes) > MAX_ROUTES:
                self._routes.clear()
            known = self._routes[delivery.route] = _Route(found, now, generation)
        if known.found is None:
            raise NotFound(
                f"no published webhook at /hooks/{delivery.route}", code="webhook_not_found"
            )
        _check_method(known.found[0], delivery)
        return known.found

    def _target(self, conn: sa.Connection, delivery: Delivery) -> Target:
        row = execute(conn, _LOOKUP, {"route": delivery.route}).one_or_none()
        if row is None:
            raise NotFound(
                f"no published webhook at /hooks/{delivery.route}", code="webhook_not_found"
            )
        target = Target.of(row)
        _check_method(target, delivery)
        return target

    def _trigger(
        self, target: Target, plan: dict[str, Any], delivery: Delivery
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The ``trigger`` the flow sees, and the names its trigger values are evaluated in."""
        with payload_guard("body"):
            body = parse_body(delivery.body, delivery.headers.get("content-type", ""))
        trigger = {
            "type": "webhook",
            "id": target.trigger_id,
            "body": body,
            "headers": {k: v for k, v in delivery.headers.items() if k not in HIDDEN_HEADERS},
            "query": delivery.query,
            "method": delivery.method,
            "received_at": iso(delivery.received_at),
        }
        return trigger, trigger_names(self.runtime, target, plan, trigger)

    def _authenticate(self, target: Target, delivery: Delivery) -> str | None:
        """Check the delivery's token or signature; returns the signature to remember (it
        may be used once), or None."""
        mode = target.config.get("auth") or "none"
        if mode == "none":
            return None
        secret = _secret(self.runtime, target)
        if mode == "token":
            verify_token(secret, delivery.headers)
            return None
        return verify_signature(
            secret,
            delivery.headers.get(SIGNATURE_HEADER),
            delivery.body,
            now=delivery.received_at.timestamp(),
            window=self.replay_seconds,
        )

    def _prune(self) -> None:
        """Forget signatures too old to be replayed (at most once a minute per process)."""
        now = time.monotonic()
        if now - self._pruned_at < PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = now
        try:
            with self.runtime.db.begin() as conn:
                conn.execute(
                    sa.text(
                        "DELETE FROM webhook_deliveries WHERE received_at < "
                        "now() - make_interval(secs => :keep)"
                    ),
                    {"keep": 2 * self.replay_seconds},
                )
        except sa.exc.DBAPIError:
            log.warning("pruning webhook deliveries failed; will try again", exc_info=True)
