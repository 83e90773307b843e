"""GitOps over HTTP: plan and apply a posted bundle (what ``flowpilot sync`` does) or a
registered repository, the push-webhook receiver, the sync history and the export.

Planning needs ``workflows:read`` and applying ``workflows:write`` (plus ``workflows:delete``
when it prunes and ``workflows:publish`` when it publishes); registering repositories needs
``gitops:manage``, reading them and the history ``gitops:read``.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from litestar import Request, Response, delete, get, patch, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, Parameter, RawBody

from flowpilot.gitops.config import FLOWS_DIR, join
from flowpilot.gitops.prepare import Prepared, prepare
from flowpilot.gitops.source import CommitInfo, Snapshot, check_root, redact, repository_identity
from flowpilot.runtime.service import Runtime
from flowpilot.server import audit
from flowpilot.server.config import Settings
from flowpilot.server.deps import DB, Caller, RuntimeDep, SettingsDep, permission
from flowpilot.server.errors import PROBLEM_JSON, ApiError, FieldError, Invalid, Unavailable
from flowpilot.server.gitops import history, repositories, services, webhooks
from flowpilot.server.gitops.schemas import (
    ExportPage,
    Repository,
    RepositoryCreate,
    RepositoryCreated,
    RepositoryList,
    RepositoryUpdate,
    Sync,
    SyncBundle,
    SyncList,
    SyncPlan,
    SyncRequest,
    WebhookOutcome,
)
from flowpilot.server.gitops.sealing import SealError
from flowpilot.server.openapi import Problem
from flowpilot.server.pagination import check_limit
from flowpilot.server.security import Principal
from flowpilot.store.ids import uuid7

GITOPS = ["gitops"]
REPOSITORIES = ["gitops repositories"]

Limit = Annotated[int, Parameter(description="Items per page (1 to 200)")]
Cursor = Annotated[
    str | None, Parameter(description="The next_cursor of the previous page", max_length=512)
]


# ---------------------------------------------------------------------------- bundles


def snapshot_of(bundle: SyncBundle) -> Snapshot:
    """The snapshot a bundle describes; 422 naming the field of a path that is not a flow
    file under ``<path>/flows/`` or that is given twice."""
    try:
        root = check_root(bundle.path)
    except ValueError as exc:
        raise Invalid(str(exc), errors=[FieldError("path", str(exc))]) from None
    prefix = join(root, FLOWS_DIR) + "/"
    files: dict[str, bytes] = {}
    problems: list[FieldError] = []
    for index, item in enumerate(bundle.files):
        parts = item.path.split("/")
        if (
            not item.path.startswith(prefix)
            or any(p in ("", ".", "..") for p in parts)
            or "\\" in item.path
        ):
            problems.append(
                FieldError(f"files.{index}.path", f"not a file under {prefix} ({item.path!r})")
            )
        elif item.path in files:
            problems.append(FieldError(f"files.{index}.path", f"{item.path} is given twice"))
        else:
            files[item.path] = item.source.encode("utf-8", "surrogatepass")
    if problems:
        raise Invalid(
            f"the bundle's files must be under {prefix}, each once: {problems[0].message}",
            code="invalid_bundle",
            errors=problems,
        )
    return Snapshot(
        repository=redact(bundle.repository),
        ref=bundle.ref,
        commit=CommitInfo(
            sha=bundle.commit,
            author=bundle.author,
            message=bundle.message,
            committed_at=bundle.committed_at,
        ),
        root=root,
        config=bundle.config,
        files=dict(sorted(files.items())),
        has_keep_file=bundle.has_keep_file,
    )


def _bundle_context(bundle: SyncBundle, principal: Principal) -> services.SyncContext:
    return services.SyncContext(
        org_id=principal.org,
        trigger="bundle",
        principal=principal,
        prune=bundle.prune,
        drift=bundle.drift,
        publish=bundle.publish,
    )


def _applied(db: sa.Engine, org_id: uuid.UUID, sync_id: uuid.UUID) -> Sync:
    with db.connect() as conn:
        return history.get_sync(conn, org_id, sync_id)


@post(
    "/gitops/plan",
    summary="Plan a sync of a posted bundle",
    description=(
        "The bundle is a repository as the client read it at one commit: its flow files under "
        "`flows/` and its `flowpilot.yaml`. Every flow is compiled; the plan compares each "
        "with the workflow of its flow id by content hash: `create`, `update`, `unchanged`, "
        "`drifted` (edited after the last sync from this repository), `delete` (with `prune`)."
        " Always 200 for a readable bundle: `ok` is false when a flow has errors, and "
        "`diagnostics` lists every one."
    ),
    tags=GITOPS,
    status_code=200,
    sync_to_thread=True,
    opt=permission("workflows:read"),
)
def plan_bundle(data: JSONBody[SyncBundle], db: DB, principal: Caller) -> SyncPlan:
    prepared = prepare(snapshot_of(data))
    with db.connect() as conn:
        return services.plan(conn, prepared, _bundle_context(data, principal))


@post(
    "/gitops/apply",
    summary="Apply a sync of a posted bundle, atomically",
    description=(
        "Plans as `POST /gitops/plan` does and applies the plan in one transaction: if any flow "
        "has errors nothing changes (422 `flow_has_errors` with every diagnostic; `errors` "
        "names each file). Each version written records in `origin` the repository, commit, "
        "path and the commit's author and message. Pruning needs `workflows:delete`, "
        "`publish` needs `workflows:publish`. The result is the sync's history entry."
    ),
    tags=GITOPS,
    status_code=200,
    sync_to_thread=True,
    opt=permission("workflows:write"),
)
def apply_bundle(
    data: JSONBody[SyncBundle], db: DB, runtime: RuntimeDep, principal: Caller
) -> Sync:
    prepared = prepare(snapshot_of(data))
    sync_id = services.apply(db, runtime, prepared, _bundle_context(data, principal))
    return _applied(db, principal.org, sync_id)


# ---------------------------------------------------------------------------- history, export


@get(
    "/gitops/syncs",
    summary="The sync history, newest first",
    tags=GITOPS,
    sync_to_thread=True,
    opt=permission("gitops:read"),
)
def list_syncs(
    db: DB,
    principal: Caller,
    repository_id: Annotated[
        uuid.UUID | None, Parameter(description="Only the syncs of this repository")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> SyncList:
    with db.connect() as conn:
        return history.list_syncs(
            conn,
            principal.org,
            repository_id=repository_id,
            limit=check_limit(limit),
            cursor=cursor,
        )


@get(
    "/gitops/syncs/{sync_id:uuid}",
    summary="One sync: what it did to each flow, and its diagnostics",
    tags=GITOPS,
    sync_to_thread=True,
    opt=permission("gitops:read"),
)
def get_sync(sync_id: FromPath[uuid.UUID], db: DB, principal: Caller) -> Sync:
    with db.connect() as conn:
        return history.get_sync(conn, principal.org, sync_id)


@get(
    "/gitops/export",
    summary="The organization's flows as files",
    description=(
        "Each live workflow's head (or with `version=published` its published version; "
        "unpublished workflows are then left out) with its source and the path `flowpilot "
        "export` writes it to, by flow id."
    ),
    tags=GITOPS,
    sync_to_thread=True,
    opt=permission("workflows:read"),
)
def export_flows(
    db: DB,
    principal: Caller,
    version: Annotated[
        Literal["head", "published"], Parameter(description="Which version of each workflow")
    ] = "head",
    limit: Limit = 100,
    cursor: Cursor = None,
) -> ExportPage:
    with db.connect() as conn:
        return history.export_flows(
            conn,
            principal.org,
            published=version == "published",
            limit=check_limit(limit),
            cursor=cursor,
        )


# ---------------------------------------------------------------------------- repositories


@get(
    "/gitops/repositories",
    summary="The organization's registered repositories",
    tags=REPOSITORIES,
    sync_to_thread=True,
    opt=permission("gitops:read"),
)
def list_repositories(db: DB, settings: SettingsDep, principal: Caller) -> RepositoryList:
    with db.connect() as conn:
        return repositories.list_repositories(conn, settings, principal.org)


@post(
    "/gitops/repositories",
    summary="Register a repository to sync from",
    description=(
        "`credentials` (a user name and a password or access token, for HTTPS) and the "
        "webhook secret are stored sealed with AES-256-GCM and never returned; the response "
        "shows the webhook secret this once (generated when not given). 409 "
        "`repository_exists` when the name is taken."
    ),
    tags=REPOSITORIES,
    status_code=201,
    sync_to_thread=True,
    opt=permission("gitops:manage"),
)
def create_repository(
    data: JSONBody[RepositoryCreate], db: DB, settings: SettingsDep, principal: Caller
) -> Response[RepositoryCreated]:
    with db.begin() as conn:
        created = repositories.create_repository(
            conn, settings, principal.org, principal.user_id, data
        )
        audit.record(
            conn,
            principal,
            "gitops.repository_created",
            "gitops_repository",
            created.id,
            {"name": created.name, "url": redact(created.url), "ref": created.ref},
        )
    headers = {"Location": f"/api/v1/gitops/repositories/{created.id}"}
    return Response(created, status_code=201, headers=headers)


@get(
    "/gitops/repositories/{repository_id:uuid}",
    summary="A registered repository",
    tags=REPOSITORIES,
    sync_to_thread=True,
    opt=permission("gitops:read"),
)
def get_repository(
    repository_id: FromPath[uuid.UUID], db: DB, settings: SettingsDep, principal: Caller
) -> Repository:
    with db.connect() as conn:
        return repositories.get_repository(conn, settings, principal.org, repository_id)


@patch(
    "/gitops/repositories/{repository_id:uuid}",
    summary="Change a registered repository",
    tags=REPOSITORIES,
    sync_to_thread=True,
    opt=permission("gitops:manage"),
)
def update_repository(
    repository_id: FromPath[uuid.UUID],
    data: JSONBody[RepositoryUpdate],
    db: DB,
    settings: SettingsDep,
    principal: Caller,
) -> Repository:
    with db.begin() as conn:
        updated = repositories.update_repository(conn, settings, principal.org, repository_id, data)
        changed = [
            name
            for name in RepositoryUpdate.__struct_fields__
            if getattr(data, name) not in (None, False)
        ]
        audit.record(
            conn,
            principal,
            "gitops.repository_updated",
            "gitops_repository",
            repository_id,
            {"changed": changed},
        )
        return updated


@delete(
    "/gitops/repositories/{repository_id:uuid}",
    summary="Forget a registered repository",
    description="Its workflows stay as they are; its sync history stays, unattached.",
    tags=REPOSITORIES,
    status_code=204,
    sync_to_thread=True,
    opt=permission("gitops:manage"),
)
def delete_repository(repository_id: FromPath[uuid.UUID], db: DB, principal: Caller) -> None:
    with db.begin() as conn:
        row = repositories.delete_repository(conn, principal.org, repository_id)
        audit.record(
            conn,
            principal,
            "gitops.repository_deleted",
            "gitops_repository",
            repository_id,
            {"name": row.name},
        )


def _repository_sync(
    db: sa.Engine,
    settings: Settings,
    org_id: uuid.UUID | None,
    repository_id: uuid.UUID,
    request: SyncRequest,
    principal: Principal | None,
    trigger: str,
) -> tuple[Prepared, services.SyncContext]:
    """The registered repository fetched and compiled, with the context of its sync. A
    repository that cannot be read is a 422 (recorded as a failed sync when applying)."""
    with db.connect() as conn:
        row = repositories.repository_row(conn, org_id, repository_id)
    ctx = services.SyncContext(
        org_id=row.org_id,
        trigger=trigger,
        principal=principal,
        repository_id=row.id,
        prune=request.prune,
        drift=request.drift,
        publish=row.publish if request.publish is None else request.publish,
        default_prune=row.prune,
        default_drift=row.drift,
    )
    try:
        snapshot = repositories.read_repository(settings, row, request.ref)
    except ApiError as exc:
        if trigger != "plan":
            sync_id = uuid7()
            services.record_failure(
                db,
                None,
                ctx,
                sync_id,
                exc.code,
                exc.detail,
                repository=repository_identity(row.url),
                ref=request.ref or row.ref,
            )
            exc.extra["sync_id"] = str(sync_id)
        raise
    return prepare(snapshot), ctx


@post(
    "/gitops/repositories/{repository_id:uuid}/plan",
    summary="Plan a sync of a registered repository",
    description=(
        "The server fetches the repository at its ref (or `ref`) and plans as `POST "
        "/gitops/plan` does. 422 `repository_unreadable` when it cannot be fetched."
    ),
    tags=REPOSITORIES,
    status_code=200,
    sync_to_thread=True,
    opt=permission("workflows:read"),
)
def plan_repository(
    repository_id: FromPath[uuid.UUID],
    db: DB,
    settings: SettingsDep,
    principal: Caller,
    data: JSONBody[SyncRequest | None] = None,
) -> SyncPlan:
    prepared, ctx = _repository_sync(
        db, settings, principal.org, repository_id, data or SyncRequest(), principal, "plan"
    )
    with db.connect() as conn:
        return services.plan(conn, prepared, ctx)


@post(
    "/gitops/repositories/{repository_id:uuid}/apply",
    summary="Sync a registered repository now, atomically",
    description=(
        "Fetches, plans and applies in one transaction as `POST /gitops/apply` does; the "
        "result is the sync's history entry. A failure (422 `repository_unreadable`, "
        "`flow_has_errors`…) changes nothing and is recorded in the history too."
    ),
    tags=REPOSITORIES,
    status_code=200,
    sync_to_thread=True,
    opt=permission("workflows:write"),
)
def apply_repository(
    repository_id: FromPath[uuid.UUID],
    db: DB,
    runtime: RuntimeDep,
    settings: SettingsDep,
    principal: Caller,
    data: JSONBody[SyncRequest | None] = None,
) -> Sync:
    prepared, ctx = _repository_sync(
        db, settings, principal.org, repository_id, data or SyncRequest(), principal, "manual"
    )
    sync_id = services.apply(db, runtime, prepared, ctx)
    return _applied(db, principal.org, sync_id)


@get(
    "/gitops/repositories/{repository_id:uuid}/syncs",
    summary="A registered repository's sync history, newest first",
    tags=REPOSITORIES,
    sync_to_thread=True,
    opt=permission("gitops:read"),
)
def list_repository_syncs(
    repository_id: FromPath[uuid.UUID],
    db: DB,
    principal: Caller,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> SyncList:
    with db.connect() as conn:
        repositories.repository_row(conn, principal.org, repository_id)
        return history.list_syncs(
            conn,
            principal.org,
            repository_id=repository_id,
            limit=check_limit(limit),
            cursor=cursor,
        )


# ---------------------------------------------------------------------------- push webhooks


def _receive_push(
    request: Request[Any, Any, Any],
    body: bytes,
    repository_id: uuid.UUID,
    db: sa.Engine,
    runtime: Runtime,
    settings: Settings,
) -> WebhookOutcome:
    provider, event = webhooks.identify(request.headers)
    with db.connect() as conn:
        row = repositories.repository_row(conn, None, repository_id)
    try:
        secret = repositories.webhook_secret(settings, row)
    except SealError as exc:
        raise Unavailable(
            f"the repository's webhook secret cannot be read ({exc}); set it again with PATCH",
            code="webhook_secret_unreadable",
        ) from None
    webhooks.verify(provider, request.headers, body, secret)
    if not webhooks.is_push(provider, event):
        return WebhookOutcome(
            provider=provider, event=event, status="ignored", detail=f"not a push ({event})"
        )
    push = webhooks.parse_push(body)
    wanted, why = webhooks.concerns(push, row.ref)
    if not wanted:
        return WebhookOutcome(provider=provider, event=event, status="ignored", detail=why)
    try:
        prepared, ctx = _repository_sync(
            db, settings, row.org_id, repository_id, SyncRequest(), None, "push"
        )
        sync_id = services.apply(db, runtime, prepared, ctx)
    except ApiError as exc:
        failed = exc.extra.get("sync_id")
        return WebhookOutcome(
            provider=provider,
            event=event,
            status="failed",
            detail=f"{why}: {exc.detail}",
            sync_id=uuid.UUID(str(failed)) if failed else None,
        )
    return WebhookOutcome(
        provider=provider, event=event, status="synced", detail=why, sync_id=sync_id
    )


@post(
    "/gitops/repositories/{repository_id:uuid}/webhook",
    summary="Receive a push webhook from GitHub, GitLab or Gitea",
    description=(
        "Point the git host's push webhook here with the repository's webhook secret: GitHub "
        "signs with `X-Hub-Signature-256`, Gitea with `X-Gitea-Signature` (HMAC-SHA256 of the "
        "raw body), GitLab sends `X-Gitlab-Token`. A push to the ref the repository syncs "
        "fetches and applies it (as `…/apply` does, with the repository's settings); other "
        "refs and events are `ignored`. 401 when the signature is missing or wrong. A sync "
        "that fails is still a 200 (`status: failed`): the delivery was received, and the "
        "failure is in the sync history."
    ),
    tags=REPOSITORIES,
    status_code=200,
    sync_to_thread=True,
    responses={
        503: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_JSON,
            description="The webhook secret cannot be read with the server's keys",
            generate_examples=False,
        )
    },
)
def receive_push(
    request: Request[Any, Any, Any],
    repository_id: FromPath[uuid.UUID],
    body: RawBody,
    db: DB,
    runtime: RuntimeDep,
    settings: SettingsDep,
) -> WebhookOutcome:
    return _receive_push(request, body, repository_id, db, runtime, settings)


ROUTES = [
    plan_bundle,
    apply_bundle,
    list_syncs,
    get_sync,
    export_flows,
    list_repositories,
    create_repository,
    get_repository,
    update_repository,
    delete_repository,
    plan_repository,
    apply_repository,
    list_repository_syncs,
    receive_push,
]
