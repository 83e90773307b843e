"""The state machines of executions and step runs, with their legal transitions.

Every transition is applied in one database transaction by :mod:`flowpilot.runtime.service`;
an illegal one raises :class:`IllegalTransition` instead of silently overwriting a state.
"""

from __future__ import annotations

from enum import StrEnum


class ExecutionStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def finished(self) -> bool:
        return self in _FINISHED_EXECUTION


class StepStatus(StrEnum):
    SCHEDULED = "scheduled"  # a retry or a delayed start, due at `due_at`
    QUEUED = "queued"  # a message is on its way to a worker
    RUNNING = "running"  # a worker holds the lease
    WAITING = "waiting"  # a timer, an approval or a child execution
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def finished(self) -> bool:
        return self in _FINISHED_STEP


_FINISHED_EXECUTION = frozenset(
    {
        ExecutionStatus.SUCCEEDED,
        ExecutionStatus.FAILED,
        ExecutionStatus.CANCELLED,
        ExecutionStatus.TIMED_OUT,
    }
)
_FINISHED_STEP = frozenset(
    {
        StepStatus.SUCCEEDED,
        StepStatus.FAILED,
        StepStatus.SKIPPED,
        StepStatus.CANCELLED,
        StepStatus.TIMED_OUT,
    }
)

EXECUTION_TRANSITIONS: dict[ExecutionStatus, frozenset[ExecutionStatus]] = {
    ExecutionStatus.PENDING: frozenset(
        {ExecutionStatus.RUNNING, ExecutionStatus.CANCELLED, ExecutionStatus.FAILED}
    ),
    ExecutionStatus.RUNNING: frozenset(
        {
            ExecutionStatus.WAITING,
            ExecutionStatus.SUCCEEDED,
            ExecutionStatus.FAILED,
            ExecutionStatus.CANCELLED,
            ExecutionStatus.TIMED_OUT,
        }
    ),
    ExecutionStatus.WAITING: frozenset(
        {
            ExecutionStatus.RUNNING,
            ExecutionStatus.SUCCEEDED,
            ExecutionStatus.FAILED,
            ExecutionStatus.CANCELLED,
            ExecutionStatus.TIMED_OUT,
        }
    ),
    ExecutionStatus.SUCCEEDED: frozenset(),
    ExecutionStatus.FAILED: frozenset(),
    ExecutionStatus.CANCELLED: frozenset(),
    ExecutionStatus.TIMED_OUT: frozenset(),
}

STEP_TRANSITIONS: dict[StepStatus, frozenset[StepStatus]] = {
    StepStatus.SCHEDULED: frozenset(
        {StepStatus.QUEUED, StepStatus.RUNNING, StepStatus.CANCELLED, StepStatus.TIMED_OUT}
    ),
    StepStatus.QUEUED: frozenset(
        {StepStatus.RUNNING, StepStatus.CANCELLED, StepStatus.TIMED_OUT, StepStatus.QUEUED}
    ),
    StepStatus.RUNNING: frozenset(
        {
            StepStatus.SUCCEEDED,
            StepStatus.FAILED,
            StepStatus.CANCELLED,
            StepStatus.TIMED_OUT,
            StepStatus.QUEUED,  # the lease expired: recovery hands it to another worker
            StepStatus.RUNNING,  # redelivered to a worker while the lease is held
        }
    ),
    StepStatus.WAITING: frozenset(
        {StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.CANCELLED, StepStatus.TIMED_OUT}
    ),
    StepStatus.SUCCEEDED: frozenset(),
    StepStatus.FAILED: frozenset(),
    StepStatus.SKIPPED: frozenset(),
    StepStatus.CANCELLED: frozenset(),
    StepStatus.TIMED_OUT: frozenset(),
}


class IllegalTransition(RuntimeError):
    """A state change the state machine does not allow."""


def check_execution_transition(old: str, new: str) -> None:
    if ExecutionStatus(new) not in EXECUTION_TRANSITIONS[ExecutionStatus(old)]:
        raise IllegalTransition(f"execution cannot go from {old} to {new}")


def check_step_transition(old: str, new: str) -> None:
    if StepStatus(new) not in STEP_TRANSITIONS[StepStatus(old)]:
        raise IllegalTransition(f"step run cannot go from {old} to {new}")
