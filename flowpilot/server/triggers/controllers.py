"""Triggers over HTTP: the webhook receiver (``/hooks/...``), custom events, and the list of an
organization's triggers."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import anyio
from litestar import Request, Response, get, post, route
from litestar.enums import HttpMethod
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, Parameter

from flowpilot.runtime.states import ExecutionStatus
from flowpilot.server import audit
from flowpilot.server.deps import DB, Caller, RuntimeDep, SettingsDep, permission, services_of
from flowpilot.server.errors import (
    PROBLEM_JSON,
    BadRequest,
    FieldError,
    Invalid,
    PayloadTooLarge,
)
from flowpilot.server.openapi import Problem
from flowpilot.server.pagination import check_limit
from flowpilot.server.triggers import services
from flowpilot.server.triggers.events import RESERVED_PREFIX, emit_event
from flowpilot.server.triggers.firing import has_nul, nul_character, payload_guard
from flowpilot.server.triggers.schemas import (
    EventCreate,
    EventEmitted,
    EventList,
    EventType,
    RejectedTrigger,
    StartedExecution,
    TriggerList,
    TriggerProblem,
    TriggerType,
    WebhookAccepted,
    WebhookResult,
)
from flowpilot.server.triggers.webhooks import Delivery, Receiver, headers_of, query_of

TRIGGERS = ["triggers"]
EVENTS = ["events"]
WEBHOOKS = ["webhooks"]

Limit = Annotated[int, Parameter(description="Items per page (1 to 200)")]
Cursor = Annotated[
    str | None, Parameter(description="The next_cursor of the previous page", max_length=512)
]

# ---------------------------------------------------------------------------- webhooks


def _problem(description: str) -> ResponseSpec:
    return ResponseSpec(
        data_container=Problem,
        media_type=PROBLEM_JSON,
        description=description,
        generate_examples=False,
    )


def _receiver(request: Request[Any, Any, Any]) -> Receiver:
    state = request.app.state
    receiver: Receiver | None = state.get("webhook_receiver")
    if receiver is None:
        shared = services_of(state)
        receiver = Receiver(shared.runtime, replay_seconds=shared.settings.webhook_replay_seconds)
        state["webhook_receiver"] = receiver
    return receiver


async def _read_body(request: Request[Any, Any, Any], limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed ``limit`` bytes (from its
    Content-Length, else while streaming: an oversized body is never held in memory)."""
    declared = request.headers.get("content-length", "")
    too_large = PayloadTooLarge(
        f"a webhook body may not exceed {limit} bytes",
        errors=[FieldError("body", f"larger than {limit} bytes")],
        limit=limit,
    )
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _wait_for(request: Request[Any, Any, Any], execution_id: str, seconds: float) -> Any:
    """The execution once it has ended, or None after ``seconds``. Polls without holding a
    thread between polls, so long waits cost the server nothing but a query now and then."""
    runtime = services_of(request.app.state).runtime
    deadline = time.monotonic() + seconds
    delay = 0.01
    while True:
        found = await anyio.to_thread.run_sync(runtime.get_execution, execution_id)
        remaining = deadline - time.monotonic()
        if ExecutionStatus(found["status"]).finished or remaining <= 0:
            return found
        await anyio.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.25)


@route(
    "/hooks/{org_slug:str}/{flow_id:str}/{path:path}",
    http_method=[
        HttpMethod.POST,
        HttpMethod.PUT,
        HttpMethod.PATCH,
        HttpMethod.DELETE,
        HttpMethod.GET,
    ],
    summary="Deliver a webhook: start the flow of the published version",
    description=(
        "The URL of a published webhook trigger is `/hooks/<organization slug>/<flow id>/"
        "<path>`; it accepts POST unless the trigger names another `method`. Depending on the "
        "trigger's `auth`: no credential, a token (`Authorization: Bearer <token>` or "
        "`X-FlowPilot-Token`), or an HMAC signature `X-FlowPilot-Signature: t=<unix time>,"
        "v1=<hex HMAC-SHA256(secret, '<t>.<raw body>')>` (refused when the timestamp is off "
        "by more than the replay window, 401 `signature_expired`, or when seen before, 409 "
        "`replayed`). A JSON body is parsed (400 `malformed_json` if it is not JSON), other "
        "bodies are kept as text. Answers 202 with the execution id, or with `?wait=<seconds>` "
        "the outputs (200) once the execution has ended (202 if it runs longer)."
    ),
    tags=WEBHOOKS,
    status_code=202,
    security=[{}],
    responses={
        200: ResponseSpec(
            data_container=WebhookResult, description="The execution ended within `wait`"
        ),
        405: _problem("The webhook accepts another method (see `Allow`)"),
        503: _problem("The webhook's secret is not set on the server"),
    },
)
async def receive_webhook(
    request: Request[Any, Any, Any],
    org_slug: FromPath[str],
    flow_id: FromPath[str],
    path: FromPath[str],
    wait: Annotated[
        float | None,
        Parameter(description="Seconds to wait for the execution to end (0 to the maximum)"),
    ] = None,
) -> Response[WebhookAccepted]:
    received_at = datetime.now(UTC)
    settings = services_of(request.app.state).settings
    if wait is not None and not 0 <= wait <= settings.max_wait_seconds:
        raise BadRequest(
            f"wait must be between 0 and {settings.max_wait_seconds} seconds",
            code="invalid_request",
            errors=[FieldError("query.wait", f"between 0 and {settings.max_wait_seconds}")],
        )
    body = await _read_body(request, settings.webhook_max_body_bytes)
    delivery = Delivery(
        route=f"{org_slug}/{flow_id}/{path.strip('/')}",
        method=request.method.upper(),
        headers=headers_of(request.scope["headers"]),
        query=query_of(request.scope.get("query_string", b"")),
        body=body,
        received_at=received_at,
    )
    started = await _receiver(request).receive_async(delivery)
    execution_id = uuid.UUID(started.execution_id)
    if wait:
        found = await _wait_for(request, started.execution_id, wait)
        if ExecutionStatus(found["status"]).finished:
            result = WebhookResult(
                execution_id=execution_id,
                status=found["status"],
                outputs=found["outputs"],
                error=found["error"],
            )
            return Response(result, status_code=200)  # type: ignore[arg-type]
        return Response(WebhookAccepted(execution_id=execution_id, status=found["status"]))
    return Response(WebhookAccepted(execution_id=execution_id, status=started.status))


# ---------------------------------------------------------------------------- events


@post(
    "/events",
    summary="Emit a custom event: start the flows listening to it",
    description=(
        "Stores the event and, in the same transaction, starts every published workflow of "
        "the organization with an event trigger `on: <type>` whose `filter` holds "
        "(evaluated with `event` = `data`). `executions` lists what started; `rejected` "
        "names triggers whose inputs did not fit their flow (or whose filter failed)."
    ),
    tags=EVENTS,
    status_code=201,
    sync_to_thread=True,
    opt=permission("events:emit"),
)
def emit(
    data: JSONBody[EventCreate], runtime: RuntimeDep, principal: Caller
) -> Response[EventEmitted]:
    if data.type.startswith(RESERVED_PREFIX):
        raise Invalid(
            f"event types starting with '{RESERVED_PREFIX}' are the runtime's own",
            code="reserved_event_type",
            errors=[FieldError("type", f"may not start with '{RESERVED_PREFIX}'")],
        )
    if has_nul(data.data):
        raise nul_character("data")
    with runtime.transaction() as (conn, post_commit), payload_guard("data"):
        row, outcome = emit_event(
            runtime,
            conn,
            post_commit,
            org_id=principal.org,
            event_type=data.type,
            data=data.data,
            source=data.source,
            created_by=principal.user_id or principal.api_key_id,
        )
        audit.record(
            conn,
            principal,
            "event.emitted",
            "event",
            row.id,
            {"type": data.type, "executions": [f.execution_id for f in outcome.fired]},
        )
    event = services.event_of(row)
    body = EventEmitted(
        id=event.id,
        type=event.type,
        data=event.data,
        source=event.source,
        created_at=event.created_at,
        executions=[
            StartedExecution(
                execution_id=uuid.UUID(f.execution_id),
                workflow_id=f.workflow_id,
                flow_id=f.flow_id,
                trigger_id=f.trigger_id,
            )
            for f in outcome.fired
        ],
        rejected=[
            RejectedTrigger(
                workflow_id=r.workflow_id,
                flow_id=r.flow_id,
                trigger_id=r.trigger_id,
                errors=[TriggerProblem(field=k, message=v) for k, v in sorted(r.problems.items())],
            )
            for r in outcome.rejected
        ],
    )
    return Response(body, status_code=201)


@get(
    "/events",
    summary="Recent custom events",
    tags=EVENTS,
    sync_to_thread=True,
    opt=permission("events:read"),
)
def list_events(
    db: DB,
    principal: Caller,
    type: Annotated[EventType | None, Parameter(description="Only events of this type")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> EventList:
    """Newest first."""
    with db.connect() as conn:
        return services.list_events(
            conn, principal.org, event_type=type, limit=check_limit(limit), cursor=cursor
        )


# ---------------------------------------------------------------------------- triggers


@get(
    "/triggers",
    summary="The organization's active triggers",
    description=(
        "The triggers of every published workflow: webhooks with their URL, cron schedules "
        "with their next and last occurrence, event subscriptions. Secrets are never shown."
    ),
    tags=TRIGGERS,
    sync_to_thread=True,
    opt=permission("workflows:read"),
)
def list_triggers(
    db: DB,
    principal: Caller,
    settings: SettingsDep,
    type: Annotated[TriggerType | None, Parameter(description="Only this kind")] = None,
    workflow_id: Annotated[
        uuid.UUID | None, Parameter(description="Only this workflow's triggers")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> TriggerList:
    with db.connect() as conn:
        return services.list_triggers(
            conn,
            principal.org,
            public_url=settings.public_url,
            kind=type,
            workflow_id=workflow_id,
            limit=check_limit(limit),
            cursor=cursor,
        )


ROUTES = [emit, list_events, list_triggers]
ROOT_ROUTES = [receive_webhook]
