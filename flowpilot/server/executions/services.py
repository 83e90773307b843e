"""What the executions API does: start (or dry-run) a workflow, cancel, retry, approve and
reject. Each is one transaction that also writes its audit entry; the runtime sends work to
workers only once it has committed."""

from __future__ import annotations

import math
import re
import uuid
from typing import Any

import sqlalchemy as sa

from flowpilot.runtime import history
from flowpilot.runtime.inputs import InputError
from flowpilot.runtime.service import ExecutionNotFound, Runtime
from flowpilot.runtime.states import ExecutionStatus
from flowpilot.server import audit
from flowpilot.server.errors import BadRequest, Conflict, FieldError, Invalid
from flowpilot.server.executions.queries import execution_not_found, find_execution
from flowpilot.server.security import Principal
from flowpilot.server.workflows.versions import resolve_version

APPROVAL_NODE = "human.approval"


# ---------------------------------------------------------------------------- helpers


def actor(conn: sa.Connection, principal: Principal) -> dict[str, Any]:
    """Who acts, as recorded in triggers and approvals: a user (with their email) or an API
    key (with its name)."""
    if principal.api_key_id is not None:
        name = conn.execute(
            sa.text("SELECT name FROM api_keys WHERE id = :id"), {"id": principal.api_key_id}
        ).scalar()
        return {"type": "api_key", "id": str(principal.api_key_id), "name": name}
    email = conn.execute(
        sa.text("SELECT email FROM users WHERE id = :id"), {"id": principal.user_id}
    ).scalar()
    return {"type": "user", "id": str(principal.user_id), "email": email}


def actor_name(who: dict[str, Any]) -> str:
    """How a person reads who acted (and how approvals tell approvers apart)."""
    if who["type"] == "api_key":
        return f"api key {who.get('name') or who['id']}"
    return str(who.get("email") or who["id"])


def check_storable(value: Any, field: str) -> None:
    """400 naming the field when ``value`` holds what PostgreSQL's jsonb cannot store (a NUL
    character) or JSON cannot carry (a non-finite number)."""
    stack: list[tuple[str, Any]] = [(field, value)]
    while stack:
        path, item = stack.pop()
        problem = None
        if isinstance(item, str) and "\x00" in item:
            problem = "text must not contain NUL characters"
        elif isinstance(item, float) and not math.isfinite(item):
            problem = "numbers must be finite"
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in str(key):
                    problem = "keys must not contain NUL characters"
                    break
                stack.append((f"{path}.{key}", child))
        elif isinstance(item, list):
            stack.extend((f"{path}.{i}", child) for i, child in enumerate(item))
        if problem is not None:
            raise BadRequest(
                f"{path}: {problem}", code="invalid_request", errors=[FieldError(path, problem)]
            )


def _input_errors(exc: InputError) -> Invalid:
    """422 naming each input at fault as a dotted path (``inputs.items.0``)."""
    errors = [
        FieldError(re.sub(r"\[(\d+)\]", r".\1", f"inputs.{name}" if name else "inputs"), message)
        for name, message in sorted(exc.problems.items())
    ]
    listed = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return Invalid(
        f"the inputs do not match the flow: {listed}", code="invalid_inputs", errors=errors
    )


def _leaf(step_key: str) -> str:
    return step_key.rsplit("/", 1)[-1]


def _check_mocks(plan: dict[str, Any], mocks: dict[str, Any]) -> None:
    """Every mock must name a step that a dry run mocks (side effects, or an approval)."""
    problems: dict[str, str] = {}
    nodes = plan["nodes"]
    for name in mocks:
        node = nodes.get(_leaf(name))
        if node is None or node.get("kind") != "uses":
            problems[f"mocks.{name}"] = "no such step in the flow"
        elif not node.get("side_effects") and node.get("node_type") != APPROVAL_NODE:
            problems[f"mocks.{name}"] = (
                f"step '{_leaf(name)}' ({node.get('node_type')}) has no side effects: it runs "
                "for real in a dry run, so it cannot be mocked"
            )
    if problems:
        raise Invalid(
            "some mocks name steps a dry run does not mock",
            code="invalid_mocks",
            errors=[FieldError(f, m) for f, m in sorted(problems.items())],
        )


# ---------------------------------------------------------------------------- start


def start_execution(
    runtime: Runtime,
    principal: Principal,
    workflow_id: uuid.UUID,
    *,
    inputs: dict[str, Any],
    version: str | None,
    priority: str,
    dry_run: bool,
    mocks: dict[str, Any] | None,
) -> uuid.UUID:
    """Start an execution of a version of the workflow (see ``resolve_version``); returns its
    id. 422 ``invalid_inputs`` naming each bad input, 404 for an unknown workflow/version."""
    check_storable(inputs, "inputs")
    if mocks:
        if not dry_run:
            raise Invalid(
                "mocks apply to dry runs only: set dry_run to true or use the dry-run endpoint",
                code="invalid_mocks",
                errors=[FieldError("mocks", "only for dry runs")],
            )
        check_storable(mocks, "mocks")
    org = principal.org
    try:
        with runtime.transaction() as (conn, post):
            found = resolve_version(conn, org, workflow_id, version)
            if mocks:
                _check_mocks(runtime.plan(conn, str(org), found.plan_hash), mocks)
            execution_id = runtime.create_execution(
                conn,
                str(org),
                found.plan_hash,
                inputs,
                post=post,
                trigger={"type": "manual", "by": actor(conn, principal)},
                dry_run=dry_run,
                priority=priority,
                workflow_id=str(workflow_id),
                initial_state={"mocks": mocks} if mocks else None,
            )
            audit.record(
                conn,
                principal,
                "execution.started",
                "execution",
                execution_id,
                {
                    "workflow_id": str(workflow_id),
                    "version": found.number,
                    "dry_run": dry_run,
                },
            )
    except InputError as exc:
        raise _input_errors(exc) from None
    return uuid.UUID(execution_id)


# ---------------------------------------------------------------------------- cancel, retry


def cancel_execution(
    db: sa.Engine, runtime: Runtime, principal: Principal, execution_id: uuid.UUID
) -> None:
    """Cancel an unfinished execution (its running steps are cancelled, nothing else runs);
    409 ``execution_finished`` once it has finished."""
    with db.connect() as conn:
        row = find_execution(conn, principal.org, execution_id)
        who = actor_name(actor(conn, principal))
    if ExecutionStatus(row.status).finished:
        raise _finished(row.status)
    recorded = False

    def record(conn: sa.Connection, locked: Any) -> bool:
        nonlocal recorded
        recorded = True
        audit.record(
            conn,
            principal,
            "execution.cancelled",
            "execution",
            execution_id,
            {"status": locked.status},
        )
        return True

    status = runtime.cancel(str(execution_id), f"cancelled by {who}", before=record)
    if not recorded:  # it finished between the read and the lock
        raise _finished(status)


def _finished(status: str) -> Conflict:
    return Conflict(
        f"the execution has already finished ({status})",
        code="execution_finished",
        execution_status=status,
    )


def retry_execution(
    db: sa.Engine,
    runtime: Runtime,
    principal: Principal,
    execution_id: uuid.UUID,
    from_step: str | None,
) -> uuid.UUID:
    """A new execution of the same plan and inputs; 409 ``execution_not_finished`` while the
    execution runs, 422 naming ``from_step`` when that step never ran."""
    with db.connect() as conn:
        row = find_execution(conn, principal.org, execution_id)
        who = actor(conn, principal)
    if not ExecutionStatus(row.status).finished:
        raise _not_finished(row.status)

    def record(conn: sa.Connection, new_id: str) -> None:
        audit.record(
            conn,
            principal,
            "execution.retried",
            "execution",
            new_id,
            {"of": str(execution_id), "from_step": from_step},
        )

    try:
        new_id = runtime.retry_execution(str(execution_id), from_step, by=who, within=record)
    except ExecutionNotFound:
        raise execution_not_found(execution_id) from None
    except ValueError:
        raise _not_finished(row.status) from None
    except LookupError as exc:
        raise Invalid(
            str(exc), code="step_not_found", errors=[FieldError("from_step", "did not run")]
        ) from None
    return uuid.UUID(new_id)


def _not_finished(status: str) -> Conflict:
    return Conflict(
        f"the execution is still {status}: cancel it or wait for it to finish before retrying",
        code="execution_not_finished",
        execution_status=status,
    )


# ---------------------------------------------------------------------------- approvals


def _waiting_approval(
    conn: sa.Connection, execution_id: uuid.UUID, step: str, step_key: str | None
) -> str:
    """The key of the approval ``step`` that waits (409 when none or, without ``step_key``,
    several instances do)."""
    waiting = [
        key
        for key in history.waiting_approvals(conn, execution_id)
        if key == step or _leaf(key) == step
    ]
    if step_key is not None:
        if step_key in waiting and _leaf(step_key) == _leaf(step):
            return step_key
        waiting = []
    if len(waiting) == 1:
        return waiting[0]
    if not waiting:
        raise Conflict(
            f"step '{step_key or step}' is not waiting for an approval",
            code="not_waiting_for_approval",
        )
    raise Conflict(
        f"{len(waiting)} instances of '{step}' wait for an approval: name one with step_key",
        code="ambiguous_step",
        errors=[FieldError("step_key", "one of: " + ", ".join(waiting))],
        waiting=waiting,
    )


def decide(
    db: sa.Engine,
    runtime: Runtime,
    principal: Principal,
    execution_id: uuid.UUID,
    step: str,
    *,
    approved: bool,
    comment: str | None,
    step_key: str | None,
) -> None:
    """Approve or reject a waiting ``human.approval`` step, recording who decided."""
    with db.connect() as conn:
        row = find_execution(conn, principal.org, execution_id)
        who = actor(conn, principal)
        if ExecutionStatus(row.status).finished:
            raise Conflict(
                f"the execution has already finished ({row.status})",
                code="not_waiting_for_approval",
            )
        key = _waiting_approval(conn, execution_id, step, step_key)
    decision = {"approved": approved, "by": actor_name(who), "comment": comment}
    action = "execution.approved" if approved else "execution.rejected"
    recorded = False

    def record(conn: sa.Connection, locked: Any) -> bool:
        nonlocal recorded
        recorded = True
        audit.record(
            conn,
            principal,
            action,
            "execution",
            execution_id,
            {"step": key, "comment": comment},
        )
        return True

    try:
        runtime.signal(str(execution_id), key, decision, before=record)
    except ExecutionNotFound:
        raise execution_not_found(execution_id) from None
    except LookupError:  # decided (or timed out) since it was read
        recorded = False
    if not recorded:
        raise Conflict(
            f"step '{key}' is not waiting for an approval any more",
            code="not_waiting_for_approval",
        )
