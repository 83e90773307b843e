"""A workflow's versions: history, one version, diffs, rollback, tags and publishing.

A *ref* names a version everywhere: its number (``3`` or ``v3``), its id, a tag, a prefix of
its content hash (7+ hex digits), ``head`` or ``published``. A ref that names nothing is a 404
saying which ref.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Response, delete, get, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from flowpilot.server import audit
from flowpilot.server.deps import DB, Caller, RuntimeDep, permission
from flowpilot.server.pagination import check_limit
from flowpilot.server.workflows import history, services
from flowpilot.server.workflows.schemas import (
    PLAIN_TEXT,
    Publication,
    PublishRequest,
    RollbackRequest,
    Tag,
    TagList,
    TagSet,
    VersionDetail,
    VersionDiff,
    VersionList,
    Workflow,
    WorkflowSaved,
)

VERSIONS = ["workflow versions"]


@get(
    "/workflows/{workflow_id:uuid}/versions",
    summary="A workflow's history, newest first",
    tags=VERSIONS,
    sync_to_thread=True,
    opt=permission("workflows:read"),
)
def list_versions(
    workflow_id: uuid.UUID,
    db: DB,
    principal: Caller,
    limit: Annotated[int, Parameter(description="Items per page (1 to 200)")] = 50,
    cursor: Annotated[
        str | None, Parameter(description="The next_cursor of the previous page", max_length=512)
    ] = None,
) -> VersionList:
    with db.connect() as conn:
        return history.list_versions(
            conn, principal.org, workflow_id, limit=check_limit(limit), cursor=cursor
        )


@get(
    "/workflows/{workflow_id:uuid}/versions/{ref:str}",
    summary="One version, with its source",
    tags=VERSIONS,
    sync_to_thread=True,
    opt=permission("workflows:read"),
)
def get_version(workflow_id: uuid.UUID, ref: str, db: DB, principal: Caller) -> VersionDetail:
    """`ref` is a number (`3`, `v3`), an id, a tag, a hash prefix, `head` or `published`."""
    with db.connect() as conn:
        return history.version_detail(conn, principal.org, workflow_id, ref)


@get(
    "/workflows/{workflow_id:uuid}/diff",
    summary="What changed between two versions",
    description=(
        "A unified diff of the source and a structural diff of the plans: steps added, "
        "removed and changed (with the changed fields, nested steps included), and changed "
        "inputs, vars, outputs, triggers and settings. `to` defaults to the head, `from` to "
        "the version `to` was saved on."
    ),
    tags=VERSIONS,
    sync_to_thread=True,
    opt=permission("workflows:read"),
)
def diff_versions(
    workflow_id: uuid.UUID,
    db: DB,
    runtime: RuntimeDep,
    principal: Caller,
    from_ref: Annotated[
        str | None, Parameter(query="from", max_length=100, pattern=PLAIN_TEXT)
    ] = None,
    to_ref: Annotated[str | None, Parameter(query="to", max_length=100, pattern=PLAIN_TEXT)] = None,
) -> VersionDiff:
    with db.connect() as conn:
        return history.diff_versions(conn, runtime, principal.org, workflow_id, from_ref, to_ref)


@post(
    "/workflows/{workflow_id:uuid}/rollback",
    summary="Save an old version's content as the new head",
    description=(
        "History is never rewritten: the result is a new version whose content is the old "
        "one's. 200 with `created: false` when the head already has that content."
    ),
    tags=VERSIONS,
    status_code=201,
    sync_to_thread=True,
    responses={
        200: ResponseSpec(
            data_container=WorkflowSaved, description="The head already had that content"
        )
    },
    opt=permission("workflows:write"),
)
def rollback(
    workflow_id: uuid.UUID, data: RollbackRequest, db: DB, runtime: RuntimeDep, principal: Caller
) -> Response[WorkflowSaved]:
    with db.begin() as conn:
        saved, target = history.rollback(
            conn,
            runtime,
            principal.org,
            workflow_id,
            data.to,
            author_id=principal.user_id,
            message=data.message,
        )
        if saved.created:
            audit.record(
                conn,
                principal,
                "workflow.rolled_back",
                "workflow",
                workflow_id,
                {"to_version": target.number, "version": saved.number, "hash": saved.hash},
            )
        body = services.saved_workflow(conn, principal.org, saved)
    return services.save_response(body)


# ---------------------------------------------------------------------------- tags


@get(
    "/workflows/{workflow_id:uuid}/tags",
    summary="A workflow's tags",
    tags=VERSIONS,
    sync_to_thread=True,
    opt=permission("workflows:read"),
)
def list_tags(workflow_id: uuid.UUID, db: DB, principal: Caller) -> TagList:
    """By name, each with the version it points at."""
    with db.connect() as conn:
        return TagList(items=history.list_tags(conn, principal.org, workflow_id))


@put(
    "/workflows/{workflow_id:uuid}/tags/{name:str}",
    summary="Tag a version (or move the tag)",
    description=(
        "Tag names are 1 to 63 letters, digits, `.`, `_` or `-`, starting with a letter, and "
        "cannot look like another kind of ref (`v3`, a hash prefix, `head`). 201 when the tag "
        "is new, 200 when it moved."
    ),
    tags=VERSIONS,
    status_code=201,
    sync_to_thread=True,
    responses={200: ResponseSpec(data_container=Tag, description="An existing tag moved")},
    opt=permission("workflows:write"),
)
def set_tag(
    workflow_id: uuid.UUID, name: str, data: TagSet, db: DB, principal: Caller
) -> Response[Tag]:
    with db.begin() as conn:
        tag, before = history.set_tag(
            conn, principal.org, workflow_id, name, data.version, principal.user_id
        )
        audit.record(
            conn,
            principal,
            "workflow.tagged",
            "workflow",
            workflow_id,
            {
                "tag": name,
                "version": tag.version.number,
                "moved_from": str(before) if before else None,
            },
        )
    return Response(tag, status_code=200 if before else 201)


@delete(
    "/workflows/{workflow_id:uuid}/tags/{name:str}",
    summary="Remove a tag",
    tags=VERSIONS,
    status_code=204,
    sync_to_thread=True,
    opt=permission("workflows:write"),
)
def delete_tag(workflow_id: uuid.UUID, name: str, db: DB, principal: Caller) -> None:
    with db.begin() as conn:
        version_id = history.delete_tag(conn, principal.org, workflow_id, name)
        audit.record(
            conn,
            principal,
            "workflow.untagged",
            "workflow",
            workflow_id,
            {"tag": name, "version_id": str(version_id)},
        )


# ---------------------------------------------------------------------------- publishing


@post(
    "/workflows/{workflow_id:uuid}/publish",
    summary="Choose the version triggers run",
    description=(
        "Rewrites the workflow's triggers (webhooks, schedules, event subscriptions) from the "
        "version's plan, in the same transaction: a webhook path another workflow already "
        "owns is a 409 `webhook_path_taken` and leaves everything as it was. `version` "
        "defaults to the head."
    ),
    tags=VERSIONS,
    status_code=200,
    sync_to_thread=True,
    opt=permission("workflows:publish"),
)
def publish(
    workflow_id: uuid.UUID, data: PublishRequest, db: DB, runtime: RuntimeDep, principal: Caller
) -> Publication:
    with db.begin() as conn:
        version, triggers = history.publish(conn, runtime, principal.org, workflow_id, data.version)
        audit.record(
            conn,
            principal,
            "workflow.published",
            "workflow",
            workflow_id,
            {"version": version.number, "triggers": [t.id for t in triggers]},
        )
        return Publication(
            workflow=services.get_workflow(conn, principal.org, workflow_id), triggers=triggers
        )


@post(
    "/workflows/{workflow_id:uuid}/unpublish",
    summary="Stop the workflow's triggers",
    description="Runs can still be started by hand (they use the head).",
    tags=VERSIONS,
    status_code=200,
    sync_to_thread=True,
    opt=permission("workflows:publish"),
)
def unpublish(workflow_id: uuid.UUID, db: DB, principal: Caller) -> Workflow:
    with db.begin() as conn:
        was = history.unpublish(conn, principal.org, workflow_id)
        if was is not None:
            audit.record(
                conn,
                principal,
                "workflow.unpublished",
                "workflow",
                workflow_id,
                {"version_id": str(was)},
            )
        return services.get_workflow(conn, principal.org, workflow_id)


VERSION_ROUTES = [
    list_versions,
    get_version,
    diff_versions,
    rollback,
    list_tags,
    set_tag,
    delete_tag,
    publish,
    unpublish,
]
