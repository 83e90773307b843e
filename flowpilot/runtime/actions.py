"""What the engine decides: actions the service carries out in the same transaction (records,
timers, events) or right after it commits (messages to workers, child executions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class DispatchStep:
    """Send one attempt of a ``uses`` step to a worker (``args`` are sealed: no secret values)."""

    step_key: str
    node_id: str
    attempt: int
    node_type: str
    args: Any
    inputs: Any  # the redacted snapshot people see
    idempotency_key: str
    timeout_ms: int | None


@dataclass(slots=True)
class RecordStep:
    """Create or update the step-run row ``(step_key, attempt)``."""

    step_key: str
    node_id: str
    kind: str
    status: str
    attempt: int = 1
    node_type: str | None = None
    inputs: Any = None
    output: Any = None
    error: dict[str, Any] | None = None
    started: bool = False
    finished: bool = False


@dataclass(slots=True)
class StartTimer:
    kind: str  # wait | retry | step_timeout | execution_timeout | repeat_delay | approval_timeout
    due_at: float  # epoch seconds
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class StorePayload:
    """Keep a large step output apart (``payloads``); the state holds only its id."""

    ref: str
    value: Any


@dataclass(slots=True)
class CancelTimer:
    """Drop the pending timer of ``kind`` armed for activation ``act`` (it would be ignored
    anyway; dropping it spares a transaction when it would have come due)."""

    kind: str
    act: str


@dataclass(slots=True)
class StartChild:
    step_key: str
    flow: str
    inputs: dict[str, Any]


@dataclass(slots=True)
class CancelChild:
    step_key: str


@dataclass(slots=True)
class CancelStepRuns:
    step_keys: list[str]


@dataclass(slots=True)
class Log:
    level: str
    message: str
    step_key: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Emit:
    type: str
    step_key: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Finish:
    status: str  # succeeded | failed | cancelled | timed_out
    outputs: dict[str, Any] | None
    error: dict[str, Any] | None


Action = (
    DispatchStep
    | RecordStep
    | StartTimer
    | StorePayload
    | CancelTimer
    | StartChild
    | CancelChild
    | CancelStepRuns
    | Log
    | Emit
    | Finish
)
