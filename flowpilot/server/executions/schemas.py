"""Request and response bodies of executions, their step runs and their logs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from flowpilot.server.schemas import Input, Output

ExecutionStatusName = Literal[
    "pending", "running", "waiting", "succeeded", "failed", "cancelled", "timed_out"
]
StepStatusName = Literal[
    "scheduled",
    "queued",
    "running",
    "waiting",
    "succeeded",
    "failed",
    "skipped",
    "cancelled",
    "timed_out",
]
TriggerType = Literal["manual", "webhook", "cron", "event", "retry", "call"]
LogLevel = Literal["debug", "info", "warning", "error"]
Priority = Literal["high", "default", "low"]

#: Text that is stored and shown: no control characters (PostgreSQL refuses NUL).
PLAIN_TEXT = r"^[^\x00-\x1f\x7f]*$"
#: Free text (a comment) may span lines, but holds no NUL.
MULTILINE_TEXT = r"^[^\x00]*$"

VersionRef = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=200,
        pattern=PLAIN_TEXT,
        description=(
            "Which version runs: a number (`3` or `v3`), a tag, a version id, a hash prefix, "
            "`head` or `published`. Default: the published version, else the head."
        ),
    ),
]
StepName = Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=PLAIN_TEXT)]
Comment = Annotated[str, msgspec.Meta(max_length=4000, pattern=MULTILINE_TEXT)]
WaitSeconds = Annotated[
    float,
    msgspec.Meta(
        ge=0,
        description=(
            "Seconds to wait for the execution to finish before answering (at most the "
            "server's `max_wait_seconds`, 300 by default)."
        ),
    ),
]


# ---------------------------------------------------------------------------- requests


class ExecutionStart(Input):
    """Start an execution of a workflow."""

    #: The flow's inputs, checked against its typed `inputs:` (defaults applied).
    inputs: dict[str, Any] = msgspec.field(default_factory=dict)
    version: VersionRef | None = None
    wait: WaitSeconds | None = None
    priority: Priority = "default"
    #: Side-effecting steps (and approvals) return mock data instead of running.
    dry_run: bool = False
    #: Dry runs only: the output of a mocked step, by step id (every instance) or step key.
    mocks: dict[str, Any] | None = None


class DryRunStart(Input):
    """Start a dry run: side-effecting steps and approvals return mock data."""

    inputs: dict[str, Any] = msgspec.field(default_factory=dict)
    version: VersionRef | None = None
    wait: WaitSeconds | None = None
    priority: Priority = "default"
    mocks: dict[str, Any] | None = None


class RetryRequest(Input):
    """Run a finished execution again, whole or from a step."""

    #: Steps that succeeded before this step's first run reuse their outputs; it and every
    #: step after it run anew. A step id (or a step key such as `each[2]/show`).
    from_step: StepName | None = None


class Decision(Input):
    """An answer to a waiting approval."""

    comment: Comment | None = None
    #: Which instance, when the approval step waits in several (inside a `foreach`).
    step_key: StepName | None = None


# ---------------------------------------------------------------------------- responses


class ExecutionLinks(Output):
    """Where to go next (paths under the server's base URL)."""

    self_: str = msgspec.field(name="self")
    logs: str
    #: A WebSocket of the execution's events.
    events: str
    cancel: str
    retry: str


class ExecutionSummary(Output):
    """An execution as lists show it (no inputs, outputs or state)."""

    id: uuid.UUID
    workflow_id: uuid.UUID | None
    flow_id: str
    status: ExecutionStatusName
    trigger_type: str | None
    dry_run: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    error_message: str | None


class ExecutionPage(Output):
    items: list[ExecutionSummary]
    next_cursor: str | None


class Execution(Output):
    """An execution: what started it, with which inputs, and how it ended."""

    id: uuid.UUID
    workflow_id: uuid.UUID | None
    flow_id: str
    #: The compiled plan that ran (versions with the same plan share it).
    plan_hash: str
    status: ExecutionStatusName
    priority: Priority
    dry_run: bool
    #: What started it: `{type: manual, by: {...}}`, a webhook, a schedule, a retry …
    trigger: dict[str, Any]
    #: The inputs after defaults; inputs of type `secret` are masked.
    inputs: dict[str, Any]
    outputs: Any
    error: dict[str, Any] | None
    parent_id: uuid.UUID | None
    parent_step: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    links: ExecutionLinks


class StepRun(Output):
    """One attempt of one step instance."""

    #: The step instance: its id, inside loops prefixed by the iteration (`each[2]/show`).
    step_key: str
    node_id: str
    node_type: str | None
    kind: str
    attempt: int
    status: StepStatusName
    #: The step's resolved arguments as recorded (secrets masked).
    inputs: Any
    output: Any
    error: dict[str, Any] | None
    worker: str | None
    created_at: datetime
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    #: When a scheduled retry or a wait is due.
    due_at: datetime | None
    duration_ms: int | None


class ExecutionDetail(Execution):
    """An execution with every step run, in the order they began."""

    steps: list[StepRun]


class LogEntry(Output):
    id: int
    ts: datetime
    level: LogLevel
    step_key: str | None
    message: str
    fields: dict[str, Any]


class LogPage(Output):
    items: list[LogEntry]
    next_cursor: str | None
