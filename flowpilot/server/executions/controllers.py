"""Executions: start (and dry-run) a workflow, list and inspect executions, read their logs,
cancel, retry, approve and reject; the live event streams are in :mod:`.live`."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import partial
from typing import Annotated, Any

import anyio.to_thread
import sqlalchemy as sa
from litestar import Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from flowpilot.runtime.service import Runtime
from flowpilot.runtime.states import ExecutionStatus
from flowpilot.server.config import Settings
from flowpilot.server.deps import DB, Caller, RuntimeDep, SettingsDep, permission
from flowpilot.server.errors import BadRequest, FieldError
from flowpilot.server.executions import live, queries, services
from flowpilot.server.executions.hub import hub_of
from flowpilot.server.executions.schemas import (
    PLAIN_TEXT,
    Decision,
    DryRunStart,
    Execution,
    ExecutionDetail,
    ExecutionPage,
    ExecutionStart,
    ExecutionStatusName,
    LogLevel,
    LogPage,
    RetryRequest,
    TriggerType,
)
from flowpilot.server.pagination import check_limit
from flowpilot.server.security import Principal

TAGS = ["executions"]
Limit = Annotated[int, QueryParameter(description="Items per page (1 to 200)")]
Cursor = Annotated[
    str | None,
    QueryParameter(description="The next_cursor of the previous page", max_length=512),
]
_FINISHED_WITHIN_WAIT = {
    200: ResponseSpec(
        Execution,
        generate_examples=False,
        description="The execution finished within `wait` seconds",
    )
}


def _check_wait(wait: float | None, limit: int) -> None:
    if wait is not None and wait > limit:
        raise BadRequest(
            f"wait may be at most {limit} seconds",
            code="invalid_request",
            errors=[FieldError("wait", f"must be at most {limit}")],
        )


async def _start(
    request: Request[Any, Any, Any],
    db: sa.Engine,
    runtime: Runtime,
    settings: Settings,
    principal: Principal,
    workflow_id: uuid.UUID,
    body: ExecutionStart | DryRunStart,
    dry_run: bool,
) -> Response[Execution]:
    _check_wait(body.wait, settings.max_wait_seconds)
    execution_id = await anyio.to_thread.run_sync(
        partial(
            services.start_execution,
            runtime,
            principal,
            workflow_id,
            inputs=body.inputs,
            version=body.version,
            priority=body.priority,
            dry_run=dry_run,
            mocks=body.mocks,
        )
    )
    if body.wait:
        hub = hub_of(request.app.state, db)
        await live.wait_finished(hub, db, principal.org, execution_id, body.wait)
    execution = await anyio.to_thread.run_sync(_execution, db, runtime, principal, execution_id)
    finished = bool(body.wait) and ExecutionStatus(execution.status).finished
    return Response(
        execution,
        status_code=200 if finished else 202,
        headers={"Location": execution.links.self_},
    )


def _execution(
    db: sa.Engine, runtime: Runtime, principal: Principal, execution_id: uuid.UUID
) -> Execution:
    with db.connect() as conn:
        return queries.get_execution(conn, runtime, principal.org, execution_id)


@post(
    "/workflows/{workflow_id:uuid}/executions",
    summary="Start an execution of a workflow",
    description=(
        "Runs the published version (else the head, or the one named by `version`) with "
        "`inputs`, checked against the flow's typed inputs (422 `invalid_inputs` names each "
        "bad field). Answers 202 with the execution at once, or, with `wait`, 200 with the "
        "finished execution (its outputs or error) — 202 if it is still running by then."
    ),
    tags=TAGS,
    status_code=202,
    responses=_FINISHED_WITHIN_WAIT,
    opt=permission("executions:run"),
)
async def start_execution(
    workflow_id: FromPath[uuid.UUID],
    data: JSONBody[ExecutionStart],
    request: Request[Any, Any, Any],
    db: DB,
    runtime: RuntimeDep,
    settings: SettingsDep,
    principal: Caller,
) -> Response[Execution]:
    return await _start(request, db, runtime, settings, principal, workflow_id, data, data.dry_run)


@post(
    "/workflows/{workflow_id:uuid}/dry-run",
    summary="Dry-run a workflow with mock data",
    description=(
        "Like starting an execution with `dry_run: true`: steps with side effects and "
        "approvals do not run; they return the output given in `mocks` (by step id or step "
        "key), else the step's `mock:`, else an example made from the node's output schema. "
        "Waits are skipped. Pure steps run for real."
    ),
    tags=TAGS,
    status_code=202,
    responses=_FINISHED_WITHIN_WAIT,
    opt=permission("executions:run"),
)
async def dry_run_workflow(
    workflow_id: FromPath[uuid.UUID],
    data: JSONBody[DryRunStart],
    request: Request[Any, Any, Any],
    db: DB,
    runtime: RuntimeDep,
    settings: SettingsDep,
    principal: Caller,
) -> Response[Execution]:
    return await _start(request, db, runtime, settings, principal, workflow_id, data, True)


@get(
    "/executions",
    summary="List executions, newest first",
    description=(
        "Filters combine: `workflow_id`, `flow_id`, `status` (repeat it for several), "
        "`trigger` (how they started) and a creation time range (`created_after` inclusive, "
        "`created_before` exclusive, to the millisecond). Keyset pagination: pass back "
        "`next_cursor`."
    ),
    tags=TAGS,
    opt=permission("executions:read"),
    sync_to_thread=True,
)
def list_executions(
    db: DB,
    principal: Caller,
    workflow_id: FromQuery[uuid.UUID | None] = None,
    flow_id: Annotated[str | None, QueryParameter(max_length=200, pattern=PLAIN_TEXT)] = None,
    status: Annotated[
        list[ExecutionStatusName] | None, QueryParameter(description="Repeat for several")
    ] = None,
    trigger: FromQuery[TriggerType | None] = None,
    created_after: FromQuery[datetime | None] = None,
    created_before: FromQuery[datetime | None] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ExecutionPage:
    check_limit(limit)
    with db.connect() as conn:
        return queries.list_page(
            conn,
            principal.org,
            limit=limit,
            cursor=cursor,
            workflow_id=workflow_id,
            flow_id=flow_id,
            statuses=list(status or ()),
            trigger_type=trigger,
            created_after=created_after,
            created_before=created_before,
        )


@get(
    "/executions/{execution_id:uuid}",
    summary="An execution with every step run",
    description=(
        "Each step run is one attempt of one step instance, in the order they began, with "
        "its recorded inputs (secrets masked), output, error and timings."
    ),
    tags=TAGS,
    opt=permission("executions:read"),
    sync_to_thread=True,
)
def get_execution(
    execution_id: FromPath[uuid.UUID], db: DB, runtime: RuntimeDep, principal: Caller
) -> ExecutionDetail:
    with db.connect() as conn:
        return queries.get_detail(conn, runtime, principal.org, execution_id)


@get(
    "/executions/{execution_id:uuid}/logs",
    summary="An execution's log lines, in order",
    description=(
        "`level` keeps lines at that level and above; `step` keeps one step's lines (a step "
        "id matches every instance of it, a step key one instance)."
    ),
    tags=TAGS,
    opt=permission("executions:read"),
    sync_to_thread=True,
)
def get_logs(
    execution_id: FromPath[uuid.UUID],
    db: DB,
    principal: Caller,
    level: FromQuery[LogLevel | None] = None,
    step: Annotated[str | None, QueryParameter(max_length=500, pattern=PLAIN_TEXT)] = None,
    limit: Annotated[int, QueryParameter(description="Lines per page (1 to 200)")] = 200,
    cursor: Cursor = None,
) -> LogPage:
    check_limit(limit)
    with db.connect() as conn:
        return queries.logs_page(
            conn,
            principal.org,
            execution_id,
            limit=limit,
            cursor=cursor,
            min_level=level,
            step=step,
        )


@post(
    "/executions/{execution_id:uuid}/cancel",
    summary="Cancel an execution that has not finished",
    description="Its running steps are cancelled and nothing else runs. 409 once finished.",
    tags=TAGS,
    status_code=200,
    opt=permission("executions:run"),
    sync_to_thread=True,
)
def cancel_execution(
    execution_id: FromPath[uuid.UUID], db: DB, runtime: RuntimeDep, principal: Caller
) -> Execution:
    services.cancel_execution(db, runtime, principal, execution_id)
    return _execution(db, runtime, principal, execution_id)


@post(
    "/executions/{execution_id:uuid}/retry",
    summary="Run a finished execution again, whole or from a step",
    description=(
        "A new execution of the same plan with the same inputs. With `from_step`, the steps "
        "that succeeded before it reuse their outputs (their side effects are not repeated). "
        "409 while the execution has not finished."
    ),
    tags=TAGS,
    status_code=201,
    opt=permission("executions:run"),
    sync_to_thread=True,
)
def retry_execution(
    execution_id: FromPath[uuid.UUID],
    db: DB,
    runtime: RuntimeDep,
    principal: Caller,
    data: JSONBody[RetryRequest | None] = None,
) -> Response[Execution]:
    new_id = services.retry_execution(
        db, runtime, principal, execution_id, data.from_step if data else None
    )
    execution = _execution(db, runtime, principal, new_id)
    return Response(execution, status_code=201, headers={"Location": execution.links.self_})


def _decide(
    db: sa.Engine,
    runtime: Runtime,
    principal: Principal,
    execution_id: uuid.UUID,
    step: str,
    data: Decision | None,
    approved: bool,
) -> Execution:
    services.decide(
        db,
        runtime,
        principal,
        execution_id,
        step,
        approved=approved,
        comment=data.comment if data else None,
        step_key=data.step_key if data else None,
    )
    return _execution(db, runtime, principal, execution_id)


@post(
    "/executions/{execution_id:uuid}/steps/{step:str}/approve",
    summary="Approve a waiting approval step",
    description=(
        "`step` is the approval's step id. You are recorded as the approver; with "
        "`min_approvals`, the step waits for more people. 409 when it is not waiting."
    ),
    tags=TAGS,
    status_code=200,
    opt=permission("executions:approve"),
    sync_to_thread=True,
)
def approve_step(
    execution_id: FromPath[uuid.UUID],
    step: FromPath[str],
    db: DB,
    runtime: RuntimeDep,
    principal: Caller,
    data: JSONBody[Decision | None] = None,
) -> Execution:
    return _decide(db, runtime, principal, execution_id, step, data, True)


@post(
    "/executions/{execution_id:uuid}/steps/{step:str}/reject",
    summary="Reject a waiting approval step",
    description="You are recorded as the one who rejected it. 409 when it is not waiting.",
    tags=TAGS,
    status_code=200,
    opt=permission("executions:approve"),
    sync_to_thread=True,
)
def reject_step(
    execution_id: FromPath[uuid.UUID],
    step: FromPath[str],
    db: DB,
    runtime: RuntimeDep,
    principal: Caller,
    data: JSONBody[Decision | None] = None,
) -> Execution:
    return _decide(db, runtime, principal, execution_id, step, data, False)


ROUTES = [
    start_execution,
    dry_run_workflow,
    list_executions,
    get_execution,
    get_logs,
    cancel_execution,
    retry_execution,
    approve_step,
    reject_step,
    *live.ROUTES,
]
