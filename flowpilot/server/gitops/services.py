"""Syncing: a snapshot of a repository (posted by a client, or fetched by the server) planned
against the organization's workflows and applied in one transaction.

The plan is computed by :mod:`flowpilot.gitops.plan` from each workflow's head and the newest
version this repository synced (read with the ``workflow_versions_git_origin`` index). Applying
recomputes it under locks — the repository's advisory lock and the rows of the workflows it
touches — so what is written is what the state at that moment calls for. Any error (a flow with
errors, a webhook path another workflow owns when publishing, a permission missing) leaves
everything as it was; the failure is recorded in the sync history apart.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec
import sqlalchemy as sa

from flowpilot.gitops.config import DriftPolicy
from flowpilot.gitops.plan import (
    PlanItem,
    SyncOptions,
    WorkflowState,
    compute_plan,
    count,
    resolve_options,
)
from flowpilot.gitops.prepare import Prepared
from flowpilot.gitops.source import Snapshot
from flowpilot.runtime.service import Runtime
from flowpilot.server import audit
from flowpilot.server.errors import ApiError, FieldError, Invalid
from flowpilot.server.gitops.schemas import (
    SyncCounts,
    SyncItem,
    SyncPlan,
)
from flowpilot.server.security import Principal
from flowpilot.server.triggers.sync import remove_triggers
from flowpilot.server.workflows import history, versions
from flowpilot.server.workflows.schemas import Diagnostic
from flowpilot.store.ids import uuid7

#: Longest commit message kept in a version's origin (a version's own message is its summary).
MAX_ORIGIN_MESSAGE = 10_000
MAX_VERSION_MESSAGE = 2000


@dataclass(frozen=True)
class SyncContext:
    """Who syncs, how, and what the repository's settings say when the request does not."""

    org_id: uuid.UUID
    trigger: str
    principal: Principal | None = None
    repository_id: uuid.UUID | None = None
    prune: bool | None = None
    drift: DriftPolicy | None = None
    publish: bool = False
    default_prune: bool = False
    default_drift: DriftPolicy = "keep"

    @property
    def actor(self) -> tuple[str, uuid.UUID | None]:
        return self.principal.actor if self.principal else ("system", None)

    @property
    def author_id(self) -> uuid.UUID | None:
        return self.principal.user_id if self.principal else None


def options_of(prepared: Prepared, ctx: SyncContext) -> SyncOptions:
    return resolve_options(
        prepared.config,
        prune=ctx.prune,
        drift=ctx.drift,
        default_prune=ctx.default_prune,
        default_drift=ctx.default_drift,
    )


# ---------------------------------------------------------------------------- state


def load_states(
    conn: sa.Connection,
    org_id: uuid.UUID,
    repository: str,
    flow_ids: list[str],
    *,
    lock: bool = False,
) -> list[WorkflowState]:
    """The live workflows a sync of ``repository`` concerns: those with a flow id it has, and
    those it synced before (for pruning). With ``lock``, their rows are locked."""
    rows = conn.execute(
        sa.text(
            "SELECT w.id, w.flow_id, w.head_version_id = w.published_version_id AS published, "
            "h.number AS head_number, h.hash AS head_hash, h.origin AS head_origin, "
            "s.number AS synced_number, s.origin->>'commit' AS synced_commit, "
            "s.hash AS synced_hash "
            "FROM workflows w JOIN workflow_versions h ON h.id = w.head_version_id "
            "LEFT JOIN LATERAL (SELECT v.number, v.origin, v.hash FROM workflow_versions v "
            "  WHERE v.workflow_id = w.id AND v.origin->>'type' = 'git' "
            "  AND v.origin->>'repository' = :repo ORDER BY v.number DESC LIMIT 1) s ON true "
            "WHERE w.org_id = :o AND w.deleted_at IS NULL "
            "AND (w.flow_id = ANY(:flows) OR s.number IS NOT NULL) ORDER BY w.flow_id"
            + (" FOR UPDATE OF w" if lock else "")
        ),
        {"o": org_id, "repo": repository, "flows": flow_ids},
    ).all()
    return [
        WorkflowState(
            workflow_id=row.id,
            flow_id=row.flow_id,
            head_number=row.head_number,
            head_hash=row.head_hash,
            head_origin=row.head_origin or {},
            synced_number=row.synced_number,
            synced_commit=row.synced_commit,
            synced_hash=row.synced_hash,
            head_published=bool(row.published),
        )
        for row in rows
    ]


# ---------------------------------------------------------------------------- responses


def publishes(item: PlanItem, publish: bool) -> bool:
    """Whether applying with ``publish`` publishes this flow's head: every flow the sync writes,
    and unchanged ones whose head is not the published version."""
    if not publish or item.action == "delete" or item.flow is None:
        return False
    if item.writes:
        return True
    return item.action == "unchanged" and item.state is not None and not item.state.head_published


def sync_item(item: PlanItem, publish: bool, version: int | None = None) -> SyncItem:
    state, flow = item.state, item.flow
    return SyncItem(
        action=item.action,
        flow_id=item.flow_id,
        path=flow.path if flow else None,
        workflow_id=state.workflow_id if state else None,
        format=flow.format if flow else None,  # type: ignore[arg-type]
        hash=flow.hash if flow else None,
        head_version=state.head_number if state else None,
        head_hash=state.head_hash if state else None,
        writes=item.writes,
        publishes=publishes(item, publish),
        detail=item.detail,
        version=version,
    )


def diagnostics_json(prepared: Prepared) -> list[Diagnostic]:
    return [Diagnostic(**d.to_json()) for d in prepared.diagnostics]  # type: ignore[arg-type]


def sync_plan(
    prepared: Prepared,
    items: list[PlanItem],
    options: SyncOptions,
    ctx: SyncContext,
) -> SyncPlan:
    snapshot = prepared.snapshot
    return SyncPlan(
        ok=prepared.ok,
        repository=snapshot.repository,
        repository_id=ctx.repository_id,
        ref=snapshot.ref,
        commit=snapshot.commit.sha,
        author=snapshot.commit.author,
        message=snapshot.commit.message,
        committed_at=snapshot.commit.committed_at,
        prune=options.prune,
        drift=options.drift,
        publish=ctx.publish,
        counts=SyncCounts(**count(items)),
        items=[sync_item(i, ctx.publish) for i in items],
        excluded=prepared.excluded,
        diagnostics=diagnostics_json(prepared),
    )


def plan(conn: sa.Connection, prepared: Prepared, ctx: SyncContext) -> SyncPlan:
    """The plan of a sync, against the state now (nothing is written or locked)."""
    options = options_of(prepared, ctx)
    items: list[PlanItem] = []
    if prepared.ok:
        flow_ids = [f.flow_id for f in prepared.flows]
        states = load_states(conn, ctx.org_id, prepared.snapshot.repository, flow_ids)
        items = compute_plan(prepared.flows, states, options)
    return sync_plan(prepared, items, options, ctx)


# ---------------------------------------------------------------------------- applying


def flow_errors(prepared: Prepared, sync_id: uuid.UUID | None) -> Invalid:
    """422 ``flow_has_errors`` with every diagnostic (``errors`` as ``file`` →
    ``line:column code message``)."""
    errors = prepared.errors
    first = errors[0]
    return Invalid(
        f"{len(errors)} error(s) in the repository; nothing was changed. First: "
        f"{first.span.file}:{first.span.line}:{first.span.column} {first.code} {first.message}",
        code="flow_has_errors",
        errors=[
            FieldError(d.span.file, f"{d.span.line}:{d.span.column} {d.code} {d.message}")
            for d in errors
        ],
        diagnostics=[d.to_json() for d in prepared.diagnostics],
        sync_id=str(sync_id) if sync_id else None,
    )


def _origin(snapshot: Snapshot, ctx: SyncContext, sync_id: uuid.UUID, path: str) -> dict[str, Any]:
    commit = snapshot.commit
    return {
        "type": "git",
        "repository": snapshot.repository,
        "repository_id": str(ctx.repository_id) if ctx.repository_id else None,
        "ref": snapshot.ref,
        "commit": commit.sha,
        "path": path,
        "author": commit.author,
        "message": commit.message[:MAX_ORIGIN_MESSAGE],
        "committed_at": commit.committed_at.isoformat() if commit.committed_at else None,
        "sync_id": str(sync_id),
    }


def _version_message(snapshot: Snapshot) -> str:
    summary = snapshot.commit.summary or f"Synced from commit {snapshot.commit.sha[:12]}"
    return summary[:MAX_VERSION_MESSAGE]


def _check_permissions(ctx: SyncContext, items: list[PlanItem]) -> None:
    """Deleting and publishing need their own permissions (a push-triggered sync acts with
    the settings an administrator gave the repository)."""
    if ctx.principal is None:
        return
    if any(i.action == "delete" for i in items):
        ctx.principal.require("workflows:delete")
    if any(publishes(i, ctx.publish) for i in items):
        ctx.principal.require("workflows:publish")


def _write(
    conn: sa.Connection,
    runtime: Runtime,
    item: PlanItem,
    snapshot: Snapshot,
    ctx: SyncContext,
    sync_id: uuid.UUID,
) -> tuple[uuid.UUID | None, Any]:
    """Apply one item; returns (workflow id, the version row written or None)."""
    flow, state = item.flow, item.state
    if item.action == "delete":
        assert state is not None
        conn.execute(
            sa.text("UPDATE workflows SET deleted_at = now(), updated_at = now() WHERE id = :id"),
            {"id": state.workflow_id},
        )
        remove_triggers(conn, state.workflow_id)
        audit.record(
            conn,
            ctx.principal,
            "workflow.deleted",
            "workflow",
            state.workflow_id,
            {"flow_id": state.flow_id, "sync_id": str(sync_id)},
            org_id=ctx.org_id,
            actor=ctx.actor,
        )
        return state.workflow_id, None
    assert flow is not None
    common = {
        "author_id": ctx.author_id,
        "message": _version_message(snapshot),
        "origin": _origin(snapshot, ctx, sync_id, flow.path),
        "path": flow.path,
    }
    if item.action == "create":
        saved = versions.create_workflow(
            conn, runtime, ctx.org_id, flow.source, flow.format, **common
        )
        action = "workflow.created"
    else:
        assert state is not None
        saved = versions.save_version(
            conn, runtime, ctx.org_id, state.workflow_id, flow.source, flow.format, **common
        )
        action = "workflow.version_saved"
    audit.record(
        conn,
        ctx.principal,
        action,
        "workflow",
        saved.workflow_id,
        {
            "flow_id": flow.flow_id,
            "version": saved.number,
            "hash": saved.hash,
            "sync_id": str(sync_id),
        },
        org_id=ctx.org_id,
        actor=ctx.actor,
    )
    return saved.workflow_id, saved


def apply(db: sa.Engine, runtime: Runtime, prepared: Prepared, ctx: SyncContext) -> uuid.UUID:
    """Apply the sync in one transaction and record it; returns the sync's id. On any error
    nothing is written but the failure's history entry, and the error is raised."""
    sync_id = uuid7()
    snapshot = prepared.snapshot
    options = options_of(prepared, ctx)
    if not prepared.ok:
        record_failure(db, prepared, ctx, sync_id, "flow_has_errors", "the flows have errors")
        raise flow_errors(prepared, sync_id)
    try:
        with db.begin() as conn:
            conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                {"key": f"gitops:{ctx.org_id}:{snapshot.repository}"},
            )
            flow_ids = [f.flow_id for f in prepared.flows]
            states = load_states(conn, ctx.org_id, snapshot.repository, flow_ids, lock=True)
            items = compute_plan(prepared.flows, states, options)
            _check_permissions(ctx, items)
            written: list[SyncItem] = []
            for item in items:
                version: int | None = item.state.head_number if item.state else None
                if item.writes:
                    workflow_id, saved = _write(conn, runtime, item, snapshot, ctx, sync_id)
                    version = saved.number if saved is not None else None
                else:
                    workflow_id = item.state.workflow_id if item.state else None
                if publishes(item, ctx.publish) and workflow_id is not None:
                    history.publish(conn, runtime, ctx.org_id, workflow_id, "head")
                entry = sync_item(item, ctx.publish, version)
                if entry.workflow_id is None and workflow_id is not None:
                    entry = msgspec.structs.replace(entry, workflow_id=workflow_id)
                written.append(entry)
            _insert_sync(conn, prepared, ctx, sync_id, "applied", written, None)
            if ctx.repository_id is not None:
                conn.execute(
                    sa.text(
                        "UPDATE gitops_repositories SET last_commit = :c, last_synced_at = now() "
                        "WHERE id = :id"
                    ),
                    {"c": snapshot.commit.sha, "id": ctx.repository_id},
                )
            audit.record(
                conn,
                ctx.principal,
                "gitops.synced",
                "gitops_sync",
                sync_id,
                {
                    "repository": snapshot.repository,
                    "commit": snapshot.commit.sha,
                    "counts": count(items),
                },
                org_id=ctx.org_id,
                actor=ctx.actor,
            )
    except ApiError as exc:
        record_failure(db, prepared, ctx, sync_id, exc.code, exc.detail)
        exc.extra.setdefault("sync_id", str(sync_id))
        raise
    return sync_id


# ---------------------------------------------------------------------------- history


def _insert_sync(
    conn: sa.Connection,
    prepared: Prepared | None,
    ctx: SyncContext,
    sync_id: uuid.UUID,
    status: str,
    items: list[SyncItem],
    error: dict[str, str] | None,
    *,
    snapshot: Snapshot | None = None,
    repository: str | None = None,
    ref: str | None = None,
) -> None:
    snapshot = prepared.snapshot if prepared else snapshot
    counts = dict.fromkeys(("create", "update", "unchanged", "drifted", "delete"), 0)
    for item in items:
        counts[item.action] += 1
    actor_type, actor_id = ctx.actor
    commit = snapshot.commit if snapshot else None
    conn.execute(
        sa.text(
            "INSERT INTO gitops_syncs (id, org_id, repository_id, repository, ref, commit_sha, "
            "author, message, trigger, status, counts, items, diagnostics, error, actor_type, "
            "actor_id) VALUES (:id, :o, :rid, :repo, :ref, :sha, :author, :msg, :trigger, "
            ":status, CAST(:counts AS jsonb), CAST(:items AS jsonb), CAST(:diag AS jsonb), "
            "CAST(:error AS jsonb), :at, :aid)"
        ),
        {
            "id": sync_id,
            "o": ctx.org_id,
            "rid": ctx.repository_id,
            "repo": snapshot.repository if snapshot else repository or "",
            "ref": snapshot.ref if snapshot else ref,
            "sha": commit.sha if commit else None,
            "author": commit.author if commit else None,
            "msg": commit.message[:MAX_ORIGIN_MESSAGE] if commit else None,
            "trigger": ctx.trigger,
            "status": status,
            "counts": json.dumps(counts),
            "items": msgspec.json.encode(items).decode(),
            "diag": msgspec.json.encode(diagnostics_json(prepared) if prepared else []).decode(),
            "error": json.dumps(error) if error else None,
            "at": actor_type,
            "aid": actor_id,
        },
    )


def record_failure(
    db: sa.Engine,
    prepared: Prepared | None,
    ctx: SyncContext,
    sync_id: uuid.UUID,
    code: str,
    detail: str,
    *,
    repository: str | None = None,
    ref: str | None = None,
    snapshot: Snapshot | None = None,
) -> None:
    """A failed sync's history entry, in a transaction of its own."""
    with db.begin() as conn:
        _insert_sync(
            conn,
            prepared,
            ctx,
            sync_id,
            "failed",
            [],
            {"code": code, "detail": detail},
            snapshot=snapshot,
            repository=repository,
            ref=ref,
        )
