"""Reading what syncs did (the history, newest first) and what an export writes (every live
workflow's head or published source, by flow id)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import sqlalchemy as sa

from flowpilot.gitops.export import export_path
from flowpilot.server.errors import BadRequest, FieldError, NotFound
from flowpilot.server.gitops.schemas import (
    ExportedFlow,
    ExportPage,
    Sync,
    SyncCounts,
    SyncError,
    SyncItem,
    SyncList,
    SyncSummary,
)
from flowpilot.server.pagination import decode_cursor, encode_cursor
from flowpilot.server.workflows.schemas import Diagnostic

_SUMMARY = (
    "id, repository_id, repository, ref, commit_sha, author, message, trigger, status, counts, "
    "error, actor_type, actor_id, created_at"
)


def _summary_fields(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "repository_id": row.repository_id,
        "repository": row.repository,
        "ref": row.ref,
        "commit": row.commit_sha,
        "author": row.author,
        "message": row.message,
        "trigger": row.trigger,
        "status": row.status,
        "counts": SyncCounts(**row.counts),
        "error": SyncError(**row.error) if row.error else None,
        "actor_type": row.actor_type,
        "actor_id": row.actor_id,
        "created_at": row.created_at,
    }


def _cursor_id(cursor: str | None) -> uuid.UUID | None:
    values = decode_cursor(cursor, 1)
    if values is None:
        return None
    try:
        return uuid.UUID(str(values[0]))
    except ValueError:
        raise BadRequest(
            "the cursor is not valid (pass back the next_cursor of a previous page)",
            code="invalid_cursor",
            errors=[FieldError("query.cursor", "not a cursor this endpoint issued")],
        ) from None


def list_syncs(
    conn: sa.Connection,
    org_id: uuid.UUID,
    *,
    repository_id: uuid.UUID | None = None,
    limit: int,
    cursor: str | None,
) -> SyncList:
    """A page of the history, newest first (sync ids are time-ordered)."""
    where = ["org_id = :o"]
    params: dict[str, Any] = {"o": org_id, "limit": limit + 1}
    if repository_id is not None:
        where.append("repository_id = :rid")
        params["rid"] = repository_id
    after = _cursor_id(cursor)
    if after is not None:
        where.append("id < :after")
        params["after"] = after
    rows = conn.execute(
        sa.text(
            f"SELECT {_SUMMARY} FROM gitops_syncs WHERE {' AND '.join(where)} "
            "ORDER BY id DESC LIMIT :limit"
        ),
        params,
    ).all()
    items = [SyncSummary(**_summary_fields(row)) for row in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return SyncList(items=items, next_cursor=next_cursor)


def get_sync(conn: sa.Connection, org_id: uuid.UUID, sync_id: uuid.UUID) -> Sync:
    row = conn.execute(
        sa.text(
            f"SELECT {_SUMMARY}, items, diagnostics FROM gitops_syncs "
            "WHERE id = :id AND org_id = :o"
        ),
        {"id": sync_id, "o": org_id},
    ).one_or_none()
    if row is None:
        raise NotFound(f"no sync {sync_id}", code="sync_not_found")
    return Sync(
        **_summary_fields(row),
        items=msgspec.convert(row.items, list[SyncItem]),
        diagnostics=msgspec.convert(row.diagnostics, list[Diagnostic]),
    )


def export_flows(
    conn: sa.Connection,
    org_id: uuid.UUID,
    *,
    published: bool,
    limit: int,
    cursor: str | None,
) -> ExportPage:
    """A page of the organization's flows with their sources, by flow id: each workflow's
    head, or with ``published`` its published version (unpublished workflows are left out)."""
    column = "w.published_version_id" if published else "w.head_version_id"
    params: dict[str, Any] = {"o": org_id, "limit": limit + 1}
    where = ["w.org_id = :o", "w.deleted_at IS NULL"]
    after = decode_cursor(cursor, 1)
    if after is not None:
        where.append("w.flow_id > :after")
        params["after"] = str(after[0])
    rows = conn.execute(
        sa.text(
            "SELECT w.id, w.flow_id, v.format, v.number, v.hash, v.source FROM workflows w "
            f"JOIN workflow_versions v ON v.id = {column} WHERE {' AND '.join(where)} "
            "ORDER BY w.flow_id LIMIT :limit"
        ),
        params,
    ).all()
    items = [
        ExportedFlow(
            workflow_id=row.id,
            flow_id=row.flow_id,
            format=row.format,
            version=row.number,
            hash=row.hash,
            path=export_path(row.flow_id, row.format),
            source=row.source,
        )
        for row in rows[:limit]
    ]
    next_cursor = encode_cursor(rows[limit - 1].flow_id) if len(rows) > limit else None
    return ExportPage(items=items, next_cursor=next_cursor)
