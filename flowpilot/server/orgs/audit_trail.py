"""Reading an organization's audit trail (entries are written by :mod:`flowpilot.server.audit`)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from flowpilot.server.orgs.schemas import AuditEntry
from flowpilot.server.orgs.services import bigint, time_cursor
from flowpilot.server.pagination import encode_cursor

_COLUMNS = "id, ts, actor_type, actor_id, action, resource_type, resource_id, data, request_id"


def list_audit(
    conn: sa.Connection,
    org_id: object,
    *,
    limit: int,
    cursor: str | None = None,
    action: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
) -> tuple[list[AuditEntry], str | None]:
    """Newest first. ``action`` is a prefix (``member.`` matches every membership change)."""
    after = time_cursor(cursor, bigint)
    filters = ["org_id = :o"]
    params: dict[str, Any] = {"o": org_id, "n": limit + 1}
    if after is not None:
        filters.append("(ts, id) < (:ts, :id)")
        params["ts"], params["id"] = after
    if action:
        filters.append("starts_with(action, :action)")
        params["action"] = action
    if resource_type:
        filters.append("resource_type = :rt")
        params["rt"] = resource_type
    if resource_id:
        filters.append("resource_id = :rid")
        params["rid"] = resource_id
    rows = conn.execute(
        sa.text(
            f"SELECT {_COLUMNS} FROM audit_log WHERE {' AND '.join(filters)} "
            "ORDER BY ts DESC, id DESC LIMIT :n"
        ),
        params,
    ).all()
    items = [
        AuditEntry(
            id=r.id,
            ts=r.ts,
            actor_type=r.actor_type,
            actor_id=r.actor_id,
            action=r.action,
            resource_type=r.resource_type,
            resource_id=r.resource_id,
            data=r.data,
            request_id=r.request_id,
        )
        for r in rows[:limit]
    ]
    last = rows[limit - 1] if len(rows) > limit else None
    return items, encode_cursor(last.ts, last.id) if last else None
