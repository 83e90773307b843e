"""Starting an execution from a trigger: what webhooks, cron schedules and events share.

A trigger's ``inputs`` (and an event trigger's ``filter``) are plan values, often pre-parsed
expressions, evaluated here against the names the DSL promises trigger values (``trigger``,
``event``, ``secrets``, ``env``, ``flow``; ``inputs``, ``vars`` and ``execution`` are empty
since nothing has run yet). The execution is created in the caller's transaction, so whatever
the caller records with it (a webhook delivery, a cron fire, an event cursor) commits with it
or not at all.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from flowpilot.runtime.evaluate import EvaluationError, condition, resolve_value
from flowpilot.runtime.inputs import InputError
from flowpilot.runtime.persist import PostCommit
from flowpilot.runtime.secrets import SecretMissing, SecretsView
from flowpilot.runtime.service import Runtime
from flowpilot.server.errors import BadRequest, FieldError


class TriggerRejected(Exception):
    """The trigger cannot start its flow with this payload; ``problems`` maps each field at
    fault (``inputs.<name>``, ``filter``) to what is wrong."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{k}: {v}" for k, v in sorted(problems.items())))


@dataclass(frozen=True, slots=True)
class Target:
    """A trigger row of a published version, with the plan it starts."""

    id: uuid.UUID
    org_id: uuid.UUID
    workflow_id: uuid.UUID
    trigger_id: str
    config: dict[str, Any]
    plan_hash: str

    @classmethod
    def of(cls, row: Any) -> Target:
        return cls(row.id, row.org_id, row.workflow_id, row.trigger_id, row.config, row.plan_hash)


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with a ``Z``, as every timestamp in a trigger context."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def has_nul(value: Any) -> bool:
    """Whether a JSON value holds a NUL character anywhere (PostgreSQL cannot store one).
    Iterative: a deeply nested payload must not exhaust the stack."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


@contextlib.contextmanager
def payload_guard(field: str) -> Iterator[None]:
    """Turn a payload nested deeper than Python can walk (decoding, storing it) into a 400
    naming ``field``, rather than an internal error."""
    try:
        yield
    except RecursionError:
        raise BadRequest(
            f"the {field} is nested too deeply",
            code="too_deeply_nested",
            errors=[FieldError(field, "nested too deeply")],
        ) from None


def nul_character(where: str) -> BadRequest:
    """400 naming ``where`` (``body``, ``data``, ``query.<name>``) for a NUL character."""
    return BadRequest(
        f"the {where.split('.')[0]} holds a NUL character (\\u0000), which cannot be stored",
        code="nul_character",
        errors=[FieldError(where, "contains a NUL character")],
    )


def trigger_names(
    runtime: Runtime,
    target: Target,
    plan: dict[str, Any],
    trigger: dict[str, Any],
    event: Any = None,
) -> dict[str, Any]:
    """The names a trigger's values are evaluated against (``plan``: the target's)."""
    flow = plan["flow"]
    return {
        "trigger": trigger,
        "event": event,
        "secrets": SecretsView(runtime.secrets, str(target.org_id)),
        "env": {},
        "flow": {"id": flow["id"], "name": flow.get("name"), "labels": flow.get("labels", {})},
        "inputs": {},
        "vars": {},
        "execution": {},
    }


def passes_filter(target: Target, names: dict[str, Any]) -> bool:
    """Whether an event trigger's ``filter`` holds (no filter: always). A filter that fails to
    evaluate (a wrong type in the payload) rejects the event, naming the filter."""
    test = target.config.get("filter")
    if test is None:
        return True
    try:
        return condition(test, names)
    except (EvaluationError, SecretMissing) as exc:
        raise TriggerRejected({"filter": str(exc)}) from None


def evaluate_inputs(mapping: dict[str, Any], names: dict[str, Any]) -> dict[str, Any]:
    """The trigger's inputs, evaluated; raises :class:`TriggerRejected` naming every input
    whose expression failed."""
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name, value in mapping.items():
        try:
            values[name] = resolve_value(value, names)
        except (EvaluationError, SecretMissing) as exc:
            problems[f"inputs.{name}"] = str(exc)
    if problems:
        raise TriggerRejected(problems)
    return values


def start_execution(
    runtime: Runtime,
    conn: sa.Connection,
    post: PostCommit,
    target: Target,
    trigger: dict[str, Any],
    names: dict[str, Any],
) -> str:
    """Create the execution ``target`` starts, recording ``trigger`` on it. Raises
    :class:`TriggerRejected` before writing anything when its inputs do not fit the flow."""
    return _create(runtime.create_execution, conn, post, target, trigger, names)


def accepted_record(
    runtime: Runtime,
    target: Target,
    plan: dict[str, Any],
    trigger: dict[str, Any],
    names: dict[str, Any],
) -> Any:
    """The execution ``target`` starts, to be accepted in a batch
    (:meth:`Runtime.new_accepted`); raises :class:`TriggerRejected` when its inputs do not fit
    the flow."""

    inputs = evaluate_inputs(target.config.get("inputs") or {}, names)
    try:
        return runtime.new_accepted(
            str(target.org_id),
            plan,
            target.plan_hash,
            inputs,
            trigger=trigger,
            workflow_id=str(target.workflow_id),
        )
    except InputError as exc:
        raise _inputs_rejected(exc) from None


def _create(
    create: Callable[..., str],
    conn: sa.Connection,
    post: PostCommit,
    target: Target,
    trigger: dict[str, Any],
    names: dict[str, Any],
    **options: Any,
) -> str:
    inputs = evaluate_inputs(target.config.get("inputs") or {}, names)
    try:
        return create(
            conn,
            str(target.org_id),
            target.plan_hash,
            inputs,
            post=post,
            trigger=trigger,
            workflow_id=str(target.workflow_id),
            **options,
        )
    except InputError as exc:
        raise _inputs_rejected(exc) from None


def _inputs_rejected(exc: InputError) -> TriggerRejected:
    return TriggerRejected(
        {(f"inputs.{field}" if field else "inputs"): msg for field, msg in exc.problems.items()}
    )


_ENDED = {
    f"execution.{status}": status for status in ("succeeded", "failed", "cancelled", "timed_out")
}


def status_after_start(post: PostCommit, execution_id: str) -> str:
    """The status a new execution reached in the transaction that created it, read from what
    the transaction does after committing instead of from the database: ended (its final
    event), running (a step goes to a worker), waiting (it started but only waits: a timer, a
    person, a sub-flow) or pending (queued behind a concurrency limit)."""
    started = False
    for event in post.events:
        if event["execution_id"] == execution_id:
            ended = _ENDED.get(event["type"])
            if ended is not None:
                return ended
            started = started or event["type"] == "execution.started"
    if not started:
        return "pending"
    return "running" if any(d[0] == execution_id for d in post.dispatches) else "waiting"


def absorb(post: PostCommit, nested: PostCommit) -> None:
    """Add the after-commit work of a savepoint that was released to its transaction's."""
    post.dispatches.extend(nested.dispatches)
    post.timers.extend(nested.timers)
    post.cancel_children.extend(nested.cancel_children)
    post.released.extend(nested.released)
    post.events.extend(nested.events)
