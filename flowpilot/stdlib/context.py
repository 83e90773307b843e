"""What a node implementation gets besides its arguments: :class:`NodeContext`.

Node implementations are plain functions ``run(ctx: NodeContext, args: dict) -> output``. They
are synchronous (workers run them on threads), receive arguments already evaluated, rendered
(template fields are strings) and validated against the node's input schema, and return a
JSON-able output. The runtime builds the context; the stdlib never imports the runtime, so the
runtime's services arrive as callables.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowpilot.stdlib.errors import CredentialMissing

LogSink = Callable[[str, str, Mapping[str, Any]], None]
CredentialLookup = Callable[[str, str | None], Mapping[str, Any] | None]
Evaluator = Callable[[Any, Mapping[str, Any]], Any]
FileReader = Callable[[Mapping[str, Any]], bytes]

LOG_LEVELS = ("debug", "info", "warning", "error")


def _no_log(level: str, message: str, fields: Mapping[str, Any]) -> None:
    return None


def _no_credentials(kind: str, name: str | None) -> Mapping[str, Any] | None:
    return None


def _no_evaluator(value: Any, names: Mapping[str, Any]) -> Any:
    raise RuntimeError("this context cannot evaluate expressions")


def _no_files(ref: Mapping[str, Any]) -> bytes:
    raise RuntimeError("this context has no file store")


@dataclass(slots=True)
class NodeContext:
    """One attempt of one step, as seen by the node implementation.

    Attributes:
        execution_id: the execution this step belongs to.
        org_id: the organization that owns the execution.
        flow_id: the flow's id (``flow:`` key).
        step_id: the step's id (with the foreach path for steps inside loops: ``each[3].show``).
        attempt: 1 for the first attempt, 2 for the first retry…
        idempotency_key: stable for this step attempt across redeliveries; side-effecting nodes
            pass it on (HTTP nodes send it as ``Idempotency-Key``).
        dry_run: True in dry-run/test mode (side-effecting nodes are not called then; pure nodes
            still are).
        deadline: ``time.monotonic()`` value after which the attempt has timed out, or None.
    """

    execution_id: str = "local"
    org_id: str = "local"
    flow_id: str = "local"
    step_id: str = "step"
    attempt: int = 1
    idempotency_key: str = "local"
    dry_run: bool = False
    deadline: float | None = None
    log_sink: LogSink = field(default=_no_log, repr=False)
    credential_lookup: CredentialLookup = field(default=_no_credentials, repr=False)
    evaluator: Evaluator = field(default=_no_evaluator, repr=False)
    file_reader: FileReader = field(default=_no_files, repr=False)

    def log(self, level: str, message: str, **fields: Any) -> None:
        """Write a structured log line for this step (``debug|info|warning|error``)."""
        self.log_sink(level if level in LOG_LEVELS else "info", message, fields)

    def credential(self, kind: str, name: str | None = None) -> Mapping[str, Any]:
        """The stored credential of ``kind`` (the named one, else the default); raises
        :class:`CredentialMissing` when there is none."""
        found = self.credential_lookup(kind, name)
        if found is None:
            raise CredentialMissing(kind, name)
        return found

    def evaluate(self, value: Any, names: Mapping[str, Any]) -> Any:
        """Evaluate a plan value (``{"$expr": …}``…) with extra ``names`` in scope; used for
        lazy arguments such as ``core.transform``'s ``map``."""
        return self.evaluator(value, names)

    def read_file(self, ref: Mapping[str, Any]) -> bytes:
        """The content of a file reference (``{"id", "name", "mime_type", "size"}``)."""
        return self.file_reader(ref)

    def remaining(self, default: float) -> float:
        """Seconds left before the deadline, capped by ``default`` (at least 1 ms)."""
        if self.deadline is None:
            return default
        return max(0.001, min(default, self.deadline - time.monotonic()))
