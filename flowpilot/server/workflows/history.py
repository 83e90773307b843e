"""A workflow's history: its versions, tags, diffs, rollbacks and which version is published.

Each function runs in the caller's transaction and checks that the workflow is a live one of
the organization (404 otherwise), so the controllers stay thin.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from flowpilot.runtime.service import Runtime
from flowpilot.server.errors import BadRequest, FieldError, NotFound
from flowpilot.server.pagination import decode_cursor, encode_cursor
from flowpilot.server.triggers.sync import remove_triggers, sync_triggers
from flowpilot.server.workflows import diff
from flowpilot.server.workflows.schemas import (
    PublishedTrigger,
    Tag,
    VersionDetail,
    VersionDiff,
    VersionInfo,
    VersionList,
)
from flowpilot.server.workflows.services import not_found, summary_of
from flowpilot.server.workflows.versions import (
    VERSION_COLUMNS,
    SavedVersion,
    resolve_version,
    save_version,
    version_source,
)

_INFO_SELECT = (
    f"SELECT {VERSION_COLUMNS}, u.name AS author_name FROM workflow_versions v "
    "LEFT JOIN users u ON u.id = v.author_id"
)


def live_workflow(conn: sa.Connection, org_id: uuid.UUID, workflow_id: uuid.UUID) -> Any:
    row = conn.execute(
        sa.text(
            "SELECT id, flow_id, head_version_id, published_version_id FROM workflows "
            "WHERE id = :id AND org_id = :o AND deleted_at IS NULL"
        ),
        {"id": workflow_id, "o": org_id},
    ).one_or_none()
    if row is None:
        raise not_found(workflow_id)
    return row


def _tags_by_version(
    conn: sa.Connection, workflow_id: uuid.UUID, version_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    tags: dict[uuid.UUID, list[str]] = {}
    if not version_ids:
        return tags
    rows = conn.execute(
        sa.text(
            "SELECT version_id, name FROM workflow_tags WHERE workflow_id = :wf "
            "AND version_id = ANY(:ids) ORDER BY name"
        ),
        {"wf": workflow_id, "ids": version_ids},
    )
    for row in rows:
        tags.setdefault(row.version_id, []).append(row.name)
    return tags


def _info_fields(row: Any, wf: Any, tags: dict[uuid.UUID, list[str]]) -> dict[str, Any]:
    return {
        **{name: getattr(row, name) for name in summary_of(row).__struct_fields__},
        "parent_id": row.parent_id,
        "author_name": row.author_name,
        "origin": row.origin or {},
        "tags": tags.get(row.id, []),
        "head": row.id == wf.head_version_id,
        "published": row.id == wf.published_version_id,
    }


def list_versions(
    conn: sa.Connection,
    org_id: uuid.UUID,
    workflow_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
) -> VersionList:
    """Newest first, by the (workflow_id, number) unique index; the cursor is a number."""
    wf = live_workflow(conn, org_id, workflow_id)
    after = decode_cursor(cursor, 1)
    where, params = "v.workflow_id = :wf", {"wf": workflow_id, "limit": limit + 1}
    if after is not None:
        if type(after[0]) is not int or not 1 <= after[0] <= 2**31 - 1:
            raise BadRequest(
                "the cursor is not valid (pass back the next_cursor of a previous page)",
                code="invalid_cursor",
                errors=[FieldError("query.cursor", "not a cursor this endpoint issued")],
            )
        where += " AND v.number < :after"
        params["after"] = after[0]
    rows = conn.execute(
        sa.text(f"{_INFO_SELECT} WHERE {where} ORDER BY v.number DESC LIMIT :limit"), params
    ).all()
    page = rows[:limit]
    tags = _tags_by_version(conn, workflow_id, [r.id for r in page])
    return VersionList(
        items=[VersionInfo(**_info_fields(r, wf, tags)) for r in page],
        next_cursor=encode_cursor(page[-1].number) if len(rows) > limit else None,
    )


def version_detail(
    conn: sa.Connection, org_id: uuid.UUID, workflow_id: uuid.UUID, ref: str
) -> VersionDetail:
    wf = live_workflow(conn, org_id, workflow_id)
    found = resolve_version(conn, org_id, workflow_id, ref, field="path.ref")
    row = conn.execute(sa.text(f"{_INFO_SELECT} WHERE v.id = :id"), {"id": found.id}).one()
    tags = _tags_by_version(conn, workflow_id, [row.id])
    return VersionDetail(**_info_fields(row, wf, tags), source=version_source(conn, row.id))


# ---------------------------------------------------------------------------- tags

_TAG = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,62}$")
_LOOKS_LIKE_NUMBER = re.compile(r"^[vV]\d+$")
_LOOKS_LIKE_HASH = re.compile(r"^[0-9a-fA-F]{7,}$")
RESERVED_REFS = frozenset({"head", "latest", "published"})


def check_tag_name(name: str) -> str:
    """``name`` when it can be a tag: one a ref could never read as something else."""
    if not _TAG.match(name):
        problem = "1 to 63 letters, digits, '.', '_' or '-', starting with a letter"
    elif name in RESERVED_REFS:
        problem = f"'{name}' is a reserved ref"
    elif _LOOKS_LIKE_NUMBER.match(name):
        problem = "looks like a version number"
    elif _LOOKS_LIKE_HASH.match(name):
        problem = "looks like a hash prefix"
    else:
        return name
    raise BadRequest(
        f"{name!r} cannot be a tag name: {problem}",
        code="invalid_tag_name",
        errors=[FieldError("path.name", problem)],
    )


def set_tag(
    conn: sa.Connection,
    org_id: uuid.UUID,
    workflow_id: uuid.UUID,
    name: str,
    ref: str,
    author_id: uuid.UUID | None,
) -> tuple[Tag, uuid.UUID | None]:
    """Point tag ``name`` at the version ``ref`` names (creating or moving it). Returns the tag
    and the version it pointed at before (None when new)."""
    check_tag_name(name)
    live_workflow(conn, org_id, workflow_id)
    version = resolve_version(conn, org_id, workflow_id, ref)
    before = conn.execute(
        sa.text(
            "SELECT version_id FROM workflow_tags WHERE workflow_id = :wf AND name = :n FOR UPDATE"
        ),
        {"wf": workflow_id, "n": name},
    ).scalar()
    row = conn.execute(
        sa.text(
            "INSERT INTO workflow_tags (workflow_id, name, org_id, version_id, created_by) "
            "VALUES (:wf, :n, :o, :v, :by) ON CONFLICT (workflow_id, name) DO UPDATE SET "
            "version_id = EXCLUDED.version_id, created_by = EXCLUDED.created_by, "
            "created_at = now() RETURNING created_by, created_at"
        ),
        {"wf": workflow_id, "n": name, "o": org_id, "v": version.id, "by": author_id},
    ).one()
    tag = Tag(
        name=name,
        version=summary_of(version),
        created_by=row.created_by,
        created_at=row.created_at,
    )
    return tag, before


def delete_tag(conn: sa.Connection, org_id: uuid.UUID, workflow_id: uuid.UUID, name: str) -> Any:
    """Remove a tag; returns the version id it named. 404 naming the tag when absent."""
    check_tag_name(name)
    live_workflow(conn, org_id, workflow_id)
    version_id = conn.execute(
        sa.text(
            "DELETE FROM workflow_tags WHERE workflow_id = :wf AND name = :n RETURNING version_id"
        ),
        {"wf": workflow_id, "n": name},
    ).scalar()
    if version_id is None:
        raise NotFound(
            f"workflow {workflow_id} has no tag {name!r}",
            code="tag_not_found",
            errors=[FieldError("path.name", f"no tag {name!r}")],
        )
    return version_id


def list_tags(conn: sa.Connection, org_id: uuid.UUID, workflow_id: uuid.UUID) -> list[Tag]:
    live_workflow(conn, org_id, workflow_id)
    rows = conn.execute(
        sa.text(
            f"SELECT t.name, t.created_by AS tag_by, t.created_at AS tag_at, {VERSION_COLUMNS} "
            "FROM workflow_tags t JOIN workflow_versions v ON v.id = t.version_id "
            "WHERE t.workflow_id = :wf ORDER BY t.name"
        ),
        {"wf": workflow_id},
    )
    return [
        Tag(name=r.name, version=summary_of(r), created_by=r.tag_by, created_at=r.tag_at)
        for r in rows
    ]


# ---------------------------------------------------------------------------- diff, rollback


def diff_versions(
    conn: sa.Connection,
    runtime: Runtime,
    org_id: uuid.UUID,
    workflow_id: uuid.UUID,
    from_ref: str | None,
    to_ref: str | None,
) -> VersionDiff:
    """``to`` (default: the head) against ``from`` (default: the version ``to`` was saved on)."""
    new = resolve_version(conn, org_id, workflow_id, to_ref or "head", field="query.to")
    if from_ref is None:
        if new.parent_id is None:
            raise BadRequest(
                f"version {new.number} is the first: name the version to compare it with",
                code="invalid_request",
                errors=[FieldError("query.from", "required when 'to' has no parent")],
            )
        from_ref = str(new.parent_id)
    old = resolve_version(conn, org_id, workflow_id, from_ref, field="query.from")
    old_plan = runtime.plan(conn, str(org_id), old.plan_hash)
    new_plan = runtime.plan(conn, str(org_id), new.plan_hash)
    old_source, new_source = version_source(conn, old.id), version_source(conn, new.id)
    return VersionDiff(
        from_version=summary_of(old),
        to_version=summary_of(new),
        identical=old.hash == new.hash,
        unified=diff.unified_diff(old_source, new_source, f"v{old.number}", f"v{new.number}"),
        steps=diff.diff_steps(old_plan, new_plan),
        inputs=diff.diff_keyed(old_plan.get("inputs"), new_plan.get("inputs")),
        vars=diff.diff_keyed(old_plan.get("vars"), new_plan.get("vars"), key="name"),
        outputs=diff.diff_keyed(old_plan.get("outputs"), new_plan.get("outputs")),
        triggers=diff.diff_keyed(old_plan.get("triggers"), new_plan.get("triggers")),
        settings=diff.diff_settings(old_plan, new_plan),
    )


def rollback(
    conn: sa.Connection,
    runtime: Runtime,
    org_id: uuid.UUID,
    workflow_id: uuid.UUID,
    ref: str,
    *,
    author_id: uuid.UUID | None,
    message: str | None,
) -> tuple[SavedVersion, Any]:
    """A new head version with the content of the version ``ref`` names. Returns the save
    and the version rolled back to."""
    target = resolve_version(conn, org_id, workflow_id, ref, field="to")
    saved = save_version(
        conn,
        runtime,
        org_id,
        workflow_id,
        version_source(conn, target.id),
        target.format,
        author_id=author_id,
        message=message or f"Roll back to version {target.number}",
        origin={"type": "rollback", "version_id": str(target.id), "number": target.number},
    )
    return saved, target


# ---------------------------------------------------------------------------- publishing


def publish(
    conn: sa.Connection,
    runtime: Runtime,
    org_id: uuid.UUID,
    workflow_id: uuid.UUID,
    ref: str,
) -> tuple[Any, list[PublishedTrigger]]:
    """Make the version ``ref`` names the one triggers run, rewriting the workflow's triggers
    from its plan in this transaction (a webhook path another workflow owns is a 409 and
    changes nothing). Returns the version and the triggers written."""
    conn.execute(
        sa.text("SELECT id FROM workflows WHERE id = :id AND org_id = :o FOR UPDATE"),
        {"id": workflow_id, "o": org_id},
    )
    version = resolve_version(conn, org_id, workflow_id, ref)
    plan = runtime.plan(conn, str(org_id), version.plan_hash)
    conn.execute(
        sa.text(
            "UPDATE workflows SET published_version_id = :v, updated_at = now() WHERE id = :id"
        ),
        {"v": version.id, "id": workflow_id},
    )
    written = sync_triggers(
        conn, org_id=org_id, workflow_id=workflow_id, version_id=version.id, plan=plan
    )
    triggers = [
        PublishedTrigger(
            id=t["id"],
            type=t["type"],
            route=t["route"],
            url_path=t["url_path"],
            next_fire_at=datetime.fromisoformat(t["next_fire_at"]) if t["next_fire_at"] else None,
        )
        for t in written
    ]
    return version, triggers


def unpublish(conn: sa.Connection, org_id: uuid.UUID, workflow_id: uuid.UUID) -> Any:
    """No version runs from triggers any more; returns the version that was published."""
    wf = conn.execute(
        sa.text(
            "SELECT published_version_id FROM workflows WHERE id = :id AND org_id = :o "
            "AND deleted_at IS NULL FOR UPDATE"
        ),
        {"id": workflow_id, "o": org_id},
    ).one_or_none()
    if wf is None:
        raise not_found(workflow_id)
    if wf.published_version_id is not None:
        conn.execute(
            sa.text(
                "UPDATE workflows SET published_version_id = NULL, updated_at = now() "
                "WHERE id = :id"
            ),
            {"id": workflow_id},
        )
        remove_triggers(conn, workflow_id)
    return wf.published_version_id
