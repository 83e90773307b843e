"""Saving workflow source as immutable versions, and resolving which plan a run uses.

The core every other domain builds on: the workflows API saves through :func:`create_workflow`
and :func:`save_version`, executions and triggers find their plan with :func:`resolve_version`,
GitOps records where a version came from in ``origin``.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from flowpilot.compiler.pipeline import CompileResult, compile_source, syntax_of
from flowpilot.runtime.service import Runtime
from flowpilot.server.errors import Conflict, FieldError, Invalid, NotFound
from flowpilot.store.ids import uuid7

FORMATS = ("yaml", "text")


@dataclass(frozen=True)
class SavedVersion:
    workflow_id: uuid.UUID
    version_id: uuid.UUID
    number: int
    hash: str
    plan_hash: str
    #: False when the source equals the head version's (nothing new was written).
    created: bool
    result: CompileResult


def source_hash(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


def detect_format(source: str, fmt: str | None = None, path: str | None = None) -> str:
    """``fmt`` when given, else what ``path`` says, else the form ``source`` is written in
    (the text form opens with ``flow <id> {`` after any comments)."""
    if fmt:
        return fmt
    if path:
        return syntax_of(path)
    for line in source.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "//")):
            continue
        text_form = stripped.startswith("flow ") and not stripped.startswith("flow:")
        return "text" if text_form else "yaml"
    return "yaml"


def default_path(fmt: str) -> str:
    return "workflow.flow" if fmt == "text" else "workflow.flow.yaml"


def compile_or_raise(source: str, fmt: str, path: str | None = None) -> CompileResult:
    """Compile ``source``; a flow with errors is a 422 carrying every diagnostic."""
    if fmt not in FORMATS:
        raise Invalid(
            f"format must be one of {', '.join(FORMATS)}",
            errors=[FieldError("format", f"unknown format {fmt!r}")],
        )
    result = compile_source(source, path or default_path(fmt), syntax=fmt)
    if not result.ok or result.plan is None:
        diagnostics = [d.to_json() for d in result.diagnostics]
        first = result.errors[0] if result.errors else None
        summary = (
            f"{len(result.errors)} error(s); first: {first.code} at line {first.span.line}, "
            f"column {first.span.column}: {first.message}"
            if first
            else "the flow could not be compiled"
        )
        raise Invalid(
            f"the flow has errors: {summary}",
            code="flow_has_errors",
            errors=[
                FieldError("source", f"{d.span.line}:{d.span.column} {d.code} {d.message}")
                for d in result.errors
            ],
            diagnostics=diagnostics,
        )
    return result


def _insert_version(
    conn: sa.Connection,
    runtime: Runtime,
    org_id: uuid.UUID,
    workflow_id: uuid.UUID,
    number: int,
    parent_id: uuid.UUID | None,
    source: str,
    fmt: str,
    result: CompileResult,
    author_id: uuid.UUID | None,
    message: str,
    origin: dict[str, Any] | None,
) -> SavedVersion:
    assert result.plan is not None and result.plan_hash is not None
    runtime.save_plan(str(org_id), result.plan, result.plan_hash, conn=conn)
    version_id = uuid7()
    digest = source_hash(source)
    conn.execute(
        sa.text(
            "INSERT INTO workflow_versions (id, org_id, workflow_id, number, hash, parent_id, "
            "format, source, plan_hash, author_id, message, origin) VALUES (:id, :org, :wf, "
            ":n, :h, :parent, :fmt, :src, :plan, :author, :msg, CAST(:origin AS jsonb))"
        ),
        {
            "id": version_id,
            "org": org_id,
            "wf": workflow_id,
            "n": number,
            "h": digest,
            "parent": parent_id,
            "fmt": fmt,
            "src": source,
            "plan": result.plan_hash,
            "author": author_id,
            "msg": message,
            "origin": json.dumps(origin or {}),
        },
    )
    flow = result.plan["flow"]
    conn.execute(
        sa.text(
            "UPDATE workflows SET head_version_id = :v, name = :name, description = :d, "
            "labels = CAST(:labels AS jsonb), updated_at = now() WHERE id = :wf"
        ),
        {
            "v": version_id,
            "wf": workflow_id,
            "name": flow.get("name") or flow["id"],
            "d": flow.get("description") or "",
            "labels": json.dumps(flow.get("labels") or {}),
        },
    )
    return SavedVersion(workflow_id, version_id, number, digest, result.plan_hash, True, result)


def create_workflow(
    conn: sa.Connection,
    runtime: Runtime,
    org_id: uuid.UUID,
    source: str,
    fmt: str,
    *,
    author_id: uuid.UUID | None = None,
    message: str = "",
    origin: dict[str, Any] | None = None,
    path: str | None = None,
) -> SavedVersion:
    """A new workflow whose first version is ``source``. The flow's ``id`` must be free in the
    organization (409 otherwise, naming the workflow that has it)."""
    result = compile_or_raise(source, fmt, path)
    assert result.plan is not None
    flow_id = result.plan["flow"]["id"]
    taken = conn.execute(
        sa.text(
            "SELECT id FROM workflows WHERE org_id = :o AND flow_id = :f AND deleted_at IS NULL"
        ),
        {"o": org_id, "f": flow_id},
    ).scalar()
    if taken is not None:
        raise flow_id_taken(flow_id, taken)
    workflow_id = uuid7()
    flow = result.plan["flow"]
    try:
        # A savepoint, so that losing a race with another creation of the same flow id is a
        # 409 rather than an aborted transaction.
        with conn.begin_nested():
            conn.execute(
                sa.text(
                    "INSERT INTO workflows (id, org_id, flow_id, name, created_by) "
                    "VALUES (:id, :o, :f, :name, :by)"
                ),
                {
                    "id": workflow_id,
                    "o": org_id,
                    "f": flow_id,
                    "name": flow.get("name") or flow_id,
                    "by": author_id,
                },
            )
    except sa.exc.IntegrityError:
        raise flow_id_taken(flow_id, None) from None
    return _insert_version(
        conn,
        runtime,
        org_id,
        workflow_id,
        1,
        None,
        source,
        fmt,
        result,
        author_id,
        message,
        origin,
    )


def flow_id_taken(flow_id: str, workflow_id: uuid.UUID | None) -> Conflict:
    """409: a live workflow of the organization already has ``flow_id``."""
    which = f" ({workflow_id})" if workflow_id else ""
    return Conflict(
        f"a workflow with flow id '{flow_id}' already exists{which}; save a new version of it "
        "instead, or use another flow id",
        code="workflow_exists",
        errors=[FieldError("source.id", f"flow id '{flow_id}' is taken")],
        workflow_id=str(workflow_id) if workflow_id else None,
    )


def lock_workflow(conn: sa.Connection, org_id: uuid.UUID, workflow_id: uuid.UUID) -> Any:
    """The live workflow row, locked for update; 404 when absent, deleted or another org's."""
    row = conn.execute(
        sa.text(
            "SELECT w.*, v.number AS head_number, v.hash AS head_hash FROM workflows w "
            "LEFT JOIN workflow_versions v ON v.id = w.head_version_id "
            "WHERE w.id = :id AND w.org_id = :o AND w.deleted_at IS NULL FOR UPDATE OF w"
        ),
        {"id": workflow_id, "o": org_id},
    ).one_or_none()
    if row is None:
        raise NotFound(f"no workflow {workflow_id}", code="workflow_not_found")
    return row


def save_version(
    conn: sa.Connection,
    runtime: Runtime,
    org_id: uuid.UUID,
    workflow_id: uuid.UUID,
    source: str,
    fmt: str,
    *,
    parent_id: uuid.UUID | None = None,
    author_id: uuid.UUID | None = None,
    message: str = "",
    origin: dict[str, Any] | None = None,
    path: str | None = None,
) -> SavedVersion:
    """A new head version of a workflow. ``parent_id`` is the version the author edited: when
    it is not the head any more, someone saved in between, and this is a 409 naming both.
    Saving the head's exact source again writes nothing (``created`` is False)."""
    row = lock_workflow(conn, org_id, workflow_id)
    if parent_id is not None and parent_id != row.head_version_id:
        parent_number = conn.execute(
            sa.text("SELECT number FROM workflow_versions WHERE id = :v AND workflow_id = :wf"),
            {"v": parent_id, "wf": workflow_id},
        ).scalar()
        yours = f"version {parent_number}" if parent_number else "that version"
        raise Conflict(
            f"you edited {yours} ({parent_id}), but version {row.head_number} "
            f"({row.head_version_id}) is the latest now; merge your change into it and save "
            "again",
            code="stale_parent",
            errors=[FieldError("parent_version_id", "not the head version")],
            your_parent=str(parent_id),
            your_parent_number=parent_number,
            head_version_id=str(row.head_version_id),
            head_number=row.head_number,
        )
    result = compile_or_raise(source, fmt, path)
    assert result.plan is not None
    if result.plan["flow"]["id"] != row.flow_id:
        raise Invalid(
            f"the flow id cannot change (this workflow is '{row.flow_id}', the source says "
            f"'{result.plan['flow']['id']}'); create a new workflow instead",
            code="flow_id_changed",
            errors=[FieldError("source.id", f"must stay '{row.flow_id}'")],
        )
    if source_hash(source) == row.head_hash:
        return SavedVersion(
            workflow_id,
            row.head_version_id,
            row.head_number,
            row.head_hash,
            result.plan_hash or "",
            False,
            result,
        )
    return _insert_version(
        conn,
        runtime,
        org_id,
        workflow_id,
        row.head_number + 1,
        row.head_version_id,
        source,
        fmt,
        result,
        author_id,
        message,
        origin,
    )


#: The columns of a version every reader wants (never the source: it can be large).
VERSION_COLUMNS = (
    "v.id, v.number, v.hash, v.plan_hash, v.format, v.message, v.author_id, v.created_at, "
    "v.parent_id, v.origin, v.workflow_id"
)

_MAX_NUMBER = 2**31 - 1
_NUMBER = re.compile(r"^[vV]?(\d{1,10})$")
_HASH_PREFIX = re.compile(r"^[0-9a-f]{7,64}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
#: Longer refs, or refs with control characters, cannot name anything (and PostgreSQL refuses
#: NUL in text): they are answered without a query.
_MAX_REF = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def resolve_version(
    conn: sa.Connection,
    org_id: uuid.UUID,
    workflow_id: uuid.UUID,
    ref: str | None = None,
    *,
    field: str = "version",
) -> Any:
    """The version a run uses: ``ref`` may be a version id, a number (``3`` or ``v3``), a tag,
    a hash prefix of 7+ hex digits (the newest version with that content), ``head``/``latest``,
    or ``published``; without one, the published version, else the head.

    Returns the row (:data:`VERSION_COLUMNS` plus ``flow_id``); 404 naming ``ref`` and ``field``
    (where the ref came from, for the error), 409 when a hash prefix is ambiguous."""
    wf = conn.execute(
        sa.text(
            "SELECT id, flow_id, head_version_id, published_version_id FROM workflows "
            "WHERE id = :id AND org_id = :o AND deleted_at IS NULL"
        ),
        {"id": workflow_id, "o": org_id},
    ).one_or_none()
    if wf is None:
        raise NotFound(f"no workflow {workflow_id}", code="workflow_not_found")
    version_id = _version_id_of(conn, wf, ref, field)
    row = None
    if version_id is not None:
        row = conn.execute(
            sa.text(
                f"SELECT {VERSION_COLUMNS}, :flow AS flow_id FROM workflow_versions v "
                "WHERE v.id = :vid AND v.workflow_id = :wf"
            ),
            {"vid": version_id, "wf": workflow_id, "flow": wf.flow_id},
        ).one_or_none()
    if row is None:
        why = (
            "it is not published"
            if ref == "published" or (ref is None and wf.head_version_id is None)
            else "no such version, tag or hash"
        )
        raise NotFound(
            f"workflow {workflow_id} has no version {ref!r} ({why})",
            code="version_not_found",
            errors=[FieldError(field, f"no version {ref!r}")],
            ref=ref,
        )
    return row


def _version_id_of(conn: sa.Connection, wf: Any, ref: str | None, field: str) -> Any:
    """The id ``ref`` names in workflow ``wf``, or None. Refs are tried in a fixed order
    (keywords, numbers, ids, tags, hash prefixes); tag names that could be read as one of the
    others are refused when tags are set, so the order never has to break a tie."""
    if ref is None:
        return wf.published_version_id or wf.head_version_id
    if ref == "published":
        return wf.published_version_id
    if ref in ("head", "latest"):
        return wf.head_version_id
    if len(ref) > _MAX_REF or _CONTROL.search(ref):
        return None
    number = _NUMBER.match(ref)
    if number:
        n = int(number.group(1))
        if n > _MAX_NUMBER:
            return None
        return conn.execute(
            sa.text("SELECT id FROM workflow_versions WHERE workflow_id = :wf AND number = :n"),
            {"wf": wf.id, "n": n},
        ).scalar()
    lowered = ref.lower()
    if _UUID.match(lowered):
        return uuid.UUID(lowered)
    tagged = conn.execute(
        sa.text("SELECT version_id FROM workflow_tags WHERE workflow_id = :wf AND name = :t"),
        {"wf": wf.id, "t": ref},
    ).scalar()
    if tagged is not None or not _HASH_PREFIX.match(lowered):
        return tagged
    # A range rather than LIKE, so the (workflow_id, hash) index serves it under any collation:
    # every hash starting with the prefix sorts between it and the prefix followed by 'g'.
    matches = conn.execute(
        sa.text(
            "SELECT DISTINCT ON (hash) hash, id FROM workflow_versions WHERE workflow_id = :wf "
            "AND hash >= :lo AND hash < :hi ORDER BY hash, number DESC LIMIT 2"
        ),
        {"wf": wf.id, "lo": lowered, "hi": lowered + "g"},
    ).all()
    if len(matches) > 1:
        raise Conflict(
            f"the hash prefix {ref!r} matches more than one version; give more digits",
            code="ambiguous_ref",
            errors=[FieldError(field, "ambiguous hash prefix")],
            ref=ref,
        )
    return matches[0].id if matches else None


def version_source(conn: sa.Connection, version_id: uuid.UUID) -> str:
    """The source text of a version (read apart from the summaries, which never carry it)."""
    return str(
        conn.execute(
            sa.text("SELECT source FROM workflow_versions WHERE id = :v"), {"v": version_id}
        ).scalar_one()
    )
