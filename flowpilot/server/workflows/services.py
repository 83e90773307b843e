"""Reading workflows: one workflow with its head and published versions, and the searchable,
keyset-paginated list. Sources are never read here except on request for one workflow."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from litestar import Response

from flowpilot.compiler.pipeline import CompileResult
from flowpilot.server.errors import BadRequest, FieldError, NotFound
from flowpilot.server.pagination import decode_cursor, encode_cursor
from flowpilot.server.workflows.schemas import (
    Diagnostic,
    VersionSummary,
    Workflow,
    WorkflowList,
    WorkflowSaved,
)
from flowpilot.server.workflows.versions import SavedVersion

_SUMMARY_FIELDS = (
    "id",
    "number",
    "hash",
    "plan_hash",
    "format",
    "message",
    "author_id",
    "created_at",
)


def _version_columns(alias: str) -> str:
    return ", ".join(f"{alias}.{name} AS {alias}_{name}" for name in _SUMMARY_FIELDS)


_WORKFLOW_SELECT = (
    "SELECT w.id, w.flow_id, w.name, w.description, w.labels, w.created_by, w.created_at, "
    f"w.updated_at, w.deleted_at, {_version_columns('h')}, {_version_columns('p')} "
    "FROM workflows w JOIN workflow_versions h ON h.id = w.head_version_id "
    "LEFT JOIN workflow_versions p ON p.id = w.published_version_id"
)


def summary_of(row: Any, prefix: str = "") -> VersionSummary:
    """A :class:`VersionSummary` from a row with the summary columns (``prefix``-ed)."""
    return VersionSummary(
        **{name: getattr(row, prefix + name) for name in _SUMMARY_FIELDS},
    )


def workflow_of(row: Any, source: str | None = None) -> Workflow:
    return Workflow(
        id=row.id,
        flow_id=row.flow_id,
        name=row.name,
        description=row.description,
        labels=row.labels,
        head=summary_of(row, "h_"),
        published=summary_of(row, "p_") if row.p_id is not None else None,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        deleted_at=row.deleted_at,
        source=source,
    )


def not_found(workflow_id: object) -> NotFound:
    return NotFound(f"no workflow {workflow_id}", code="workflow_not_found")


def get_workflow(
    conn: sa.Connection,
    org_id: uuid.UUID,
    workflow_id: uuid.UUID,
    *,
    with_source: bool = False,
    deleted: bool = False,
) -> Workflow:
    """One workflow of ``org_id`` (a live one, or with ``deleted`` one in the trash); 404
    otherwise, whatever organization it belongs to."""
    source_column = ", h.source AS source" if with_source else ""
    select = _WORKFLOW_SELECT.replace(" FROM workflows", f"{source_column} FROM workflows", 1)
    row = conn.execute(
        sa.text(
            f"{select} WHERE w.id = :id AND w.org_id = :o AND w.deleted_at IS "
            + ("NOT NULL" if deleted else "NULL")
        ),
        {"id": workflow_id, "o": org_id},
    ).one_or_none()
    if row is None:
        raise not_found(workflow_id)
    return workflow_of(row, row.source if with_source else None)


def diagnostics_of(result: CompileResult) -> list[Diagnostic]:
    return [Diagnostic(**d.to_json()) for d in result.diagnostics]  # type: ignore[arg-type]


def saved_workflow(conn: sa.Connection, org_id: uuid.UUID, saved: SavedVersion) -> WorkflowSaved:
    """The response to a save: the workflow as it now is, the version saved and the warnings."""
    workflow = get_workflow(conn, org_id, saved.workflow_id)
    version = conn.execute(
        sa.text(
            f"SELECT {_version_columns('v')} FROM workflow_versions v WHERE v.id = :id",
        ),
        {"id": saved.version_id},
    ).one()
    fields = {name: getattr(workflow, name) for name in Workflow.__struct_fields__}
    return WorkflowSaved(
        **fields,
        created=saved.created,
        version=summary_of(version, "v_"),
        warnings=[d for d in diagnostics_of(saved.result) if d.severity != "error"],
    )


def save_response(body: WorkflowSaved) -> Response[WorkflowSaved]:
    """201 pointing at the new version, or 200 when the save wrote nothing."""
    if not body.created:
        return Response(body, status_code=200)
    location = f"/api/v1/workflows/{body.id}/versions/{body.version.number}"
    return Response(body, status_code=201, headers={"Location": location})


# ---------------------------------------------------------------------------- listing


@dataclass(frozen=True)
class WorkflowFilter:
    q: str | None = None
    labels: tuple[str, ...] = ()
    published: bool | None = None
    deleted: bool = False


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WORD = re.compile(r"[\w-]*\w[\w-]*")
MAX_QUERY_WORDS = 8


def search_query(q: str) -> str | None:
    """A prefix ``tsquery`` for a search string: each word must start a word of the name, the
    flow id or the description (``invoi`` finds "Invoice triage", ``getting-st`` finds the
    flow id ``getting-started``). None when ``q`` holds no word.

    The ``search`` column is built with the ``simple`` configuration, which keeps a hyphenated
    flow id both whole and in parts, so the GIN index answers flow-id prefixes too."""
    words = _WORD.findall(q.lower())[:MAX_QUERY_WORDS]
    if not words:
        return None
    # Words hold only letters, digits, '_' and '-': nothing to escape inside the quotes.
    return " & ".join(f"'{w}':*" for w in words)


def parse_labels(values: tuple[str, ...]) -> dict[str, str]:
    """``key:value`` filters into one object every workflow's labels must contain."""
    wanted: dict[str, str] = {}
    for value in values:
        key, sep, label = value.partition(":")
        if not sep or not key.strip() or _CONTROL.search(value) or len(value) > 200:
            raise BadRequest(
                f"label filter {value!r} is not key:value",
                code="invalid_request",
                errors=[FieldError("query.label", "expected key:value, like team:finance")],
            )
        wanted[key.strip()] = label.strip()
    return wanted


def list_workflows(
    conn: sa.Connection,
    org_id: uuid.UUID,
    filters: WorkflowFilter,
    *,
    limit: int,
    cursor: str | None,
) -> WorkflowList:
    """A page of workflows, most recently updated first.

    Served by ``workflows_org_updated`` (org, updated_at desc, id desc) for the order and the
    keyset, with the GIN indexes on ``search`` and ``labels`` for the filters."""
    where = ["w.org_id = :org", "w.deleted_at IS " + ("NOT NULL" if filters.deleted else "NULL")]
    params: dict[str, Any] = {"org": org_id, "limit": limit + 1}
    if filters.q:
        tsquery = search_query(filters.q)
        if tsquery is not None:
            where.append("w.search @@ to_tsquery('simple', :tsq)")
            params["tsq"] = tsquery
    if filters.labels:
        where.append("w.labels @> CAST(:labels AS jsonb)")
        params["labels"] = json.dumps(parse_labels(filters.labels))
    if filters.published is not None:
        where.append("w.published_version_id IS " + ("NOT NULL" if filters.published else "NULL"))
    after = decode_cursor(cursor, 2)
    if after is not None:
        try:
            params["ts"], params["after"] = datetime.fromisoformat(after[0]), uuid.UUID(after[1])
        except (TypeError, ValueError):
            raise BadRequest(
                "the cursor is not valid (pass back the next_cursor of a previous page)",
                code="invalid_cursor",
                errors=[FieldError("query.cursor", "not a cursor this endpoint issued")],
            ) from None
        where.append("(w.updated_at, w.id) < (:ts, :after)")
    rows = conn.execute(
        sa.text(
            f"{_WORKFLOW_SELECT} WHERE {' AND '.join(where)} "
            "ORDER BY w.updated_at DESC, w.id DESC LIMIT :limit"
        ),
        params,
    ).all()
    items = [workflow_of(row) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.updated_at.isoformat(), last.id)
    return WorkflowList(items=items, next_cursor=next_cursor)
