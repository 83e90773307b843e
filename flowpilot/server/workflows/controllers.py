"""Workflows: create from source, read, search, save new versions, delete and restore,
validate, compile, the editor's graph view, and templates to start from.

Versions, diffs, tags and publishing are in :mod:`.version_controllers`. Every handler works in
the caller's organization: another organization's workflow is a 404, like one that never
existed.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from litestar import Response, delete, get, patch, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from flowpilot.compiler.pipeline import compile_source, parse_source
from flowpilot.dsl.graph import flow_graph
from flowpilot.runtime.service import Runtime
from flowpilot.server import audit
from flowpilot.server.deps import DB, Caller, RuntimeDep, permission
from flowpilot.server.errors import Conflict, FieldError
from flowpilot.server.pagination import check_limit
from flowpilot.server.security import Principal
from flowpilot.server.triggers.sync import remove_triggers, sync_triggers
from flowpilot.server.workflows import services, templates, versions
from flowpilot.server.workflows.body import (
    RAW_QUERY_FIELDS,
    SourceBodyOperation,
    SourceRequest,
)
from flowpilot.server.workflows.schemas import (
    PLAIN_TEXT,
    CompiledPlan,
    SourceCheck,
    TemplateDetail,
    TemplateInstantiate,
    TemplateList,
    Validation,
    Workflow,
    WorkflowCreate,
    WorkflowGraph,
    WorkflowList,
    WorkflowSaved,
    WorkflowUpdate,
)
from flowpilot.server.workflows.version_controllers import VERSION_ROUTES

WORKFLOWS = ["workflows"]
TEMPLATES = ["workflow templates"]

Limit = Annotated[int, Parameter(description="Items per page (1 to 200)")]
Cursor = Annotated[
    str | None, Parameter(description="The next_cursor of the previous page", max_length=512)
]
VersionRef = Annotated[
    str | None,
    Parameter(
        description="A version number, id, tag, hash prefix, `head` or `published` "
        "(default: the published version, else the head)",
        max_length=100,
        pattern=PLAIN_TEXT,
    ),
]
_SOURCE_BODY = {"request_class": SourceRequest, "operation_class": SourceBodyOperation}
_UNCHANGED = {
    200: ResponseSpec(
        data_container=WorkflowSaved,
        description="The source equals the head version's: nothing new was saved",
    )
}


def _location(workflow_id: uuid.UUID) -> dict[str, str]:
    return {"Location": f"/api/v1/workflows/{workflow_id}"}


# ---------------------------------------------------------------------------- create / read


@post(
    "/workflows",
    summary="Create a workflow from source",
    description=(
        "The body is JSON (`{source, format?, message?, path?}`) or the flow file itself "
        "with `Content-Type: application/x-yaml` (YAML form) or `text/x-flowpilot` (text "
        "form); with a raw body, `message` and `path` are query parameters. A flow with "
        "errors is a 422 `flow_has_errors` listing every diagnostic."
    ),
    tags=WORKFLOWS,
    status_code=201,
    sync_to_thread=True,
    opt={**permission("workflows:write"), RAW_QUERY_FIELDS: ("message", "path")},
    **_SOURCE_BODY,
)
def create_workflow(
    data: WorkflowCreate, db: DB, runtime: RuntimeDep, principal: Caller
) -> Response[WorkflowSaved]:
    fmt = versions.detect_format(data.source, data.format, data.path)
    with db.begin() as conn:
        saved = versions.create_workflow(
            conn,
            runtime,
            principal.org,
            data.source,
            fmt,
            author_id=principal.user_id,
            message=data.message,
            path=data.path,
        )
        body = services.saved_workflow(conn, principal.org, saved)
        audit.record(
            conn,
            principal,
            "workflow.created",
            "workflow",
            saved.workflow_id,
            {"flow_id": body.flow_id, "version": 1, "hash": saved.hash},
        )
    return Response(body, status_code=201, headers=_location(saved.workflow_id))


@get(
    "/workflows",
    summary="List and search workflows",
    tags=WORKFLOWS,
    sync_to_thread=True,
    opt=permission("workflows:read"),
)
def list_workflows(
    db: DB,
    principal: Caller,
    q: Annotated[
        str | None,
        Parameter(
            description="Words that start words of the name, flow id or description",
            max_length=200,
            pattern=PLAIN_TEXT,
        ),
    ] = None,
    label: Annotated[
        list[str] | None,
        Parameter(description="`key:value`; repeat to require several labels"),
    ] = None,
    published: Annotated[
        bool | None, Parameter(description="Only published (true) or unpublished (false)")
    ] = None,
    deleted: Annotated[bool, Parameter(description="List the trash instead")] = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> WorkflowList:
    """Most recently updated first. Sources are not included (see `GET /workflows/{id}`)."""
    filters = services.WorkflowFilter(
        q=q, labels=tuple(label or ()), published=published, deleted=deleted
    )
    with db.connect() as conn:
        return services.list_workflows(
            conn, principal.org, filters, limit=check_limit(limit), cursor=cursor
        )


@get(
    "/workflows/{workflow_id:uuid}",
    summary="A workflow",
    tags=WORKFLOWS,
    sync_to_thread=True,
    opt=permission("workflows:read"),
)
def get_workflow(
    workflow_id: uuid.UUID,
    db: DB,
    principal: Caller,
    include: Annotated[
        Literal["source"] | None,
        Parameter(description="`source` adds the head version's source"),
    ] = None,
) -> Workflow:
    with db.connect() as conn:
        return services.get_workflow(
            conn, principal.org, workflow_id, with_source=include == "source"
        )


# ---------------------------------------------------------------------------- new versions


def _save(
    workflow_id: uuid.UUID, data: WorkflowUpdate, db: Any, runtime: Runtime, principal: Principal
) -> Response[WorkflowSaved]:
    fmt = versions.detect_format(data.source, data.format, data.path)
    with db.begin() as conn:
        saved = versions.save_version(
            conn,
            runtime,
            principal.org,
            workflow_id,
            data.source,
            fmt,
            parent_id=data.parent_version_id,
            author_id=principal.user_id,
            message=data.message,
            path=data.path,
        )
        if saved.created:
            audit.record(
                conn,
                principal,
                "workflow.version_saved",
                "workflow",
                workflow_id,
                {"version": saved.number, "hash": saved.hash},
            )
        body = services.saved_workflow(conn, principal.org, saved)
    return services.save_response(body)


_SAVE = {
    "tags": WORKFLOWS,
    "status_code": 201,
    "sync_to_thread": True,
    "responses": _UNCHANGED,
    "opt": {
        **permission("workflows:write"),
        RAW_QUERY_FIELDS: ("message", "path", "parent_version_id"),
    },
    "description": (
        "201 with the new version; 200 with `created: false` when the source equals the "
        "head's. With `parent_version_id` (the version the change was made on), a save on a "
        "version that is not the head any more is a 409 `stale_parent` naming both. Raw YAML "
        "or text bodies work as for creation (`message`, `path`, `parent_version_id` are then "
        "query parameters)."
    ),
    **_SOURCE_BODY,
}


@put("/workflows/{workflow_id:uuid}", summary="Save a new version", **_SAVE)
def update_workflow(
    workflow_id: uuid.UUID, data: WorkflowUpdate, db: DB, runtime: RuntimeDep, principal: Caller
) -> Response[WorkflowSaved]:
    return _save(workflow_id, data, db, runtime, principal)


@patch("/workflows/{workflow_id:uuid}", summary="Save a new version (same as PUT)", **_SAVE)
def patch_workflow(
    workflow_id: uuid.UUID, data: WorkflowUpdate, db: DB, runtime: RuntimeDep, principal: Caller
) -> Response[WorkflowSaved]:
    return _save(workflow_id, data, db, runtime, principal)


# ---------------------------------------------------------------------------- trash


@delete(
    "/workflows/{workflow_id:uuid}",
    summary="Move a workflow to the trash",
    description="Its triggers stop at once; restoring it brings them back.",
    tags=WORKFLOWS,
    status_code=204,
    sync_to_thread=True,
    opt=permission("workflows:delete"),
)
def delete_workflow(workflow_id: uuid.UUID, db: DB, principal: Caller) -> None:
    with db.begin() as conn:
        row = versions.lock_workflow(conn, principal.org, workflow_id)
        conn.execute(
            sa.text("UPDATE workflows SET deleted_at = now(), updated_at = now() WHERE id = :id"),
            {"id": workflow_id},
        )
        remove_triggers(conn, workflow_id)
        audit.record(
            conn, principal, "workflow.deleted", "workflow", workflow_id, {"flow_id": row.flow_id}
        )


@post(
    "/workflows/{workflow_id:uuid}/restore",
    summary="Restore a workflow from the trash",
    description=(
        "409 `workflow_exists` when another workflow took its flow id meanwhile. A published "
        "workflow gets its triggers back."
    ),
    tags=WORKFLOWS,
    status_code=200,
    sync_to_thread=True,
    opt=permission("workflows:delete"),
)
def restore_workflow(
    workflow_id: uuid.UUID, db: DB, runtime: RuntimeDep, principal: Caller
) -> Workflow:
    with db.begin() as conn:
        row = conn.execute(
            sa.text(
                "SELECT w.flow_id, w.published_version_id, v.plan_hash FROM workflows w "
                "LEFT JOIN workflow_versions v ON v.id = w.published_version_id "
                "WHERE w.id = :id AND w.org_id = :o AND w.deleted_at IS NOT NULL FOR UPDATE OF w"
            ),
            {"id": workflow_id, "o": principal.org},
        ).one_or_none()
        if row is None:
            raise services.not_found(workflow_id)
        taken = conn.execute(
            sa.text(
                "SELECT id FROM workflows WHERE org_id = :o AND flow_id = :f AND deleted_at IS NULL"
            ),
            {"o": principal.org, "f": row.flow_id},
        ).scalar()
        if taken is not None:
            raise versions.flow_id_taken(row.flow_id, taken)
        try:
            with conn.begin_nested():  # a concurrent creation may take the flow id first
                conn.execute(
                    sa.text(
                        "UPDATE workflows SET deleted_at = NULL, updated_at = now() WHERE id = :id"
                    ),
                    {"id": workflow_id},
                )
        except sa.exc.IntegrityError:
            raise versions.flow_id_taken(row.flow_id, None) from None
        if row.published_version_id is not None:
            sync_triggers(
                conn,
                org_id=principal.org,
                workflow_id=workflow_id,
                version_id=row.published_version_id,
                plan=runtime.plan(conn, str(principal.org), row.plan_hash),
            )
        audit.record(
            conn, principal, "workflow.restored", "workflow", workflow_id, {"flow_id": row.flow_id}
        )
        return services.get_workflow(conn, principal.org, workflow_id)


# ---------------------------------------------------------------------------- checks and views


@post(
    "/workflows/validate",
    summary="Check a flow without saving it",
    description=(
        "Always 200 for a flow that could be read as a request: `ok` says whether it has "
        "errors, `diagnostics` lists every error and warning with its line and column."
    ),
    tags=WORKFLOWS,
    status_code=200,
    sync_to_thread=True,
    opt={**permission("workflows:read"), RAW_QUERY_FIELDS: ("path",)},
    **_SOURCE_BODY,
)
def validate_workflow(data: SourceCheck, principal: Caller) -> Validation:
    fmt = versions.detect_format(data.source, data.format, data.path)
    result = compile_source(data.source, data.path or versions.default_path(fmt), syntax=fmt)
    ok = result.ok and result.plan is not None
    return Validation(
        ok=ok,
        diagnostics=services.diagnostics_of(result),
        flow_id=result.flow.id if result.flow is not None else None,
        plan_hash=result.plan_hash if ok else None,
    )


@post(
    "/workflows/{workflow_id:uuid}/compile",
    summary="Compile a version to its execution plan",
    tags=WORKFLOWS,
    status_code=200,
    sync_to_thread=True,
    opt=permission("workflows:read"),
)
def compile_workflow(
    workflow_id: uuid.UUID, db: DB, principal: Caller, version: VersionRef = None
) -> CompiledPlan:
    """The plan (IR) the version compiles to today, with its hash and the warnings."""
    with db.connect() as conn:
        row = versions.resolve_version(conn, principal.org, workflow_id, version)
        source = versions.version_source(conn, row.id)
    result = versions.compile_or_raise(source, row.format)
    assert result.plan is not None and result.plan_hash is not None
    return CompiledPlan(
        version=services.summary_of(row),
        plan_hash=result.plan_hash,
        plan=result.plan,
        warnings=services.diagnostics_of(result),
    )


@get(
    "/workflows/{workflow_id:uuid}/graph",
    summary="The editor's graph view of a version",
    tags=WORKFLOWS,
    sync_to_thread=True,
    opt=permission("workflows:read"),
)
def workflow_graph(
    workflow_id: uuid.UUID, db: DB, principal: Caller, version: VersionRef = None
) -> WorkflowGraph:
    """Steps as nodes (containers hold their children through `parent`), control flow as
    edges, each step with its source span: what `flowpilot graph` prints."""
    with db.connect() as conn:
        row = versions.resolve_version(conn, principal.org, workflow_id, version)
        source = versions.version_source(conn, row.id)
    flow, _ = parse_source(source, versions.default_path(row.format), row.format)
    if flow is None:  # a saved version always parses; this would be a compiler change
        raise Conflict(
            f"version {row.number} cannot be read by this version of the compiler",
            code="version_unreadable",
            errors=[FieldError("version", "does not parse")],
        )
    return WorkflowGraph(version=services.summary_of(row), graph=flow_graph(flow))


# ---------------------------------------------------------------------------- templates


@get(
    "/workflow-templates",
    summary="Example flows to start a workflow from",
    tags=TEMPLATES,
    sync_to_thread=True,
    opt=permission("workflows:read"),
)
def list_templates(principal: Caller) -> TemplateList:
    return TemplateList(items=[t.info for t in templates.load_templates().values()])


@get(
    "/workflow-templates/{template_id:str}",
    summary="A template with its source",
    tags=TEMPLATES,
    sync_to_thread=True,
    opt=permission("workflows:read"),
)
def get_template(template_id: str, principal: Caller) -> TemplateDetail:
    return templates.template_detail(templates.get_template(template_id))


@post(
    "/workflow-templates/{template_id:str}/instantiate",
    summary="Create a workflow from a template",
    description=(
        "`flow_id` and `name` rename the flow (409 `workflow_exists` when the flow id is "
        "taken: pass another); `format` chooses the YAML or the text form."
    ),
    tags=TEMPLATES,
    status_code=201,
    sync_to_thread=True,
    opt=permission("workflows:write"),
)
def instantiate_template(
    template_id: str,
    data: TemplateInstantiate,
    db: DB,
    runtime: RuntimeDep,
    principal: Caller,
) -> Response[WorkflowSaved]:
    template = templates.get_template(template_id)
    source = templates.template_source(template, data.format, data.flow_id, data.name)
    with db.begin() as conn:
        saved = versions.create_workflow(
            conn,
            runtime,
            principal.org,
            source,
            data.format,
            author_id=principal.user_id,
            message=data.message or f"Created from the template {template_id}",
            origin={"type": "template", "template": template_id},
        )
        body = services.saved_workflow(conn, principal.org, saved)
        audit.record(
            conn,
            principal,
            "workflow.created",
            "workflow",
            saved.workflow_id,
            {"flow_id": body.flow_id, "version": 1, "hash": saved.hash, "template": template_id},
        )
    return Response(body, status_code=201, headers=_location(saved.workflow_id))


ROUTES = [
    create_workflow,
    list_workflows,
    get_workflow,
    update_workflow,
    patch_workflow,
    delete_workflow,
    restore_workflow,
    validate_workflow,
    compile_workflow,
    workflow_graph,
    list_templates,
    get_template,
    instantiate_template,
    *VERSION_ROUTES,
]
