"""Request and response bodies of the triggers API: webhook answers, custom events, the list of
an organization's triggers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from flowpilot.server.schemas import Input, Output

EVENT_TYPE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$"
EventType = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=200,
        pattern=EVENT_TYPE_PATTERN,
        description=(
            "What happened, e.g. `document.uploaded` (letters, digits and `_ . : / -`; "
            "`execution.*` is reserved for the runtime's own events)."
        ),
    ),
]
EventSource = Annotated[
    str,
    msgspec.Meta(
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description="Who emits the event (free text, e.g. `crm`).",
    ),
]

# ---------------------------------------------------------------------------- webhooks


class WebhookAccepted(Output):
    """The delivery started an execution (it goes on running)."""

    execution_id: uuid.UUID
    status: str


class WebhookResult(Output):
    """The execution the delivery started ended within ``wait``."""

    execution_id: uuid.UUID
    status: str
    outputs: dict[str, Any] | None
    error: dict[str, Any] | None


# ---------------------------------------------------------------------------- events


class EventCreate(Input):
    type: EventType
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    source: EventSource | None = None


class StartedExecution(Output):
    execution_id: uuid.UUID
    workflow_id: uuid.UUID
    flow_id: str
    trigger_id: str


class TriggerProblem(Output):
    field: str
    message: str


class RejectedTrigger(Output):
    """A trigger that listens to the event but could not start its flow with it."""

    workflow_id: uuid.UUID
    flow_id: str
    trigger_id: str
    errors: list[TriggerProblem]


class Event(Output):
    id: uuid.UUID
    type: str
    data: dict[str, Any]
    source: str | None
    created_at: datetime


class EventEmitted(Event):
    #: The executions the event started (triggers whose filter held).
    executions: list[StartedExecution]
    rejected: list[RejectedTrigger]


class EventList(Output):
    items: list[Event]
    next_cursor: str | None


# ---------------------------------------------------------------------------- triggers

TriggerType = Literal["webhook", "cron", "event"]


class Trigger(Output):
    """A trigger of a published version. Secrets are never shown (only the ``auth`` mode)."""

    id: uuid.UUID
    trigger_id: str
    type: TriggerType
    workflow_id: uuid.UUID
    flow_id: str
    version_id: uuid.UUID
    enabled: bool
    #: webhook: the path to call, ``/hooks/<org>/<flow>/<path>``, and the full URL.
    url_path: str | None
    url: str | None
    method: str | None
    auth: Literal["none", "token", "hmac"] | None
    #: cron: the expression and its time zone.
    cron: str | None
    timezone: str | None
    #: event: the event type listened to.
    event: str | None
    next_fire_at: datetime | None
    #: cron: the last occurrence fired; webhook and event: when it last started a run (a
    #: webhook's is refreshed at most every few seconds).
    last_fired_at: datetime | None
    created_at: datetime


class TriggerList(Output):
    items: list[Trigger]
    next_cursor: str | None
