"""Reading an organization's triggers and custom events (the list endpoints)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from flowpilot.server.errors import BadRequest, FieldError
from flowpilot.server.pagination import decode_cursor, encode_cursor
from flowpilot.server.triggers.schemas import Event, EventList, Trigger, TriggerList


def _bad_cursor() -> BadRequest:
    return BadRequest(
        "the cursor is not valid (pass back the next_cursor of a previous page)",
        code="invalid_cursor",
        errors=[FieldError("query.cursor", "not a cursor this endpoint issued")],
    )


def _cursor_id(cursor: str | None) -> uuid.UUID | None:
    values = decode_cursor(cursor, 1)
    if values is None:
        return None
    try:
        return uuid.UUID(str(values[0]))
    except ValueError:
        raise _bad_cursor() from None


def list_triggers(
    conn: sa.Connection,
    org_id: uuid.UUID,
    *,
    public_url: str,
    kind: str | None,
    workflow_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> TriggerList:
    """The organization's triggers, newest first (they are rewritten on every publish)."""
    where = ["t.org_id = :org", "w.deleted_at IS NULL"]
    params: dict[str, Any] = {"org": org_id, "n": limit + 1}
    if kind is not None:
        where.append("t.type = :kind")
        params["kind"] = kind
    if workflow_id is not None:
        where.append("t.workflow_id = :wf")
        params["wf"] = workflow_id
    after = _cursor_id(cursor)
    if after is not None:
        where.append("t.id < :after")
        params["after"] = after
    rows = conn.execute(
        sa.text(
            "SELECT t.id, t.trigger_id, t.type, t.workflow_id, w.flow_id, t.version_id, "
            "t.enabled, t.config, t.route, t.next_fire_at, t.last_fired_at, t.created_at "
            "FROM triggers t JOIN workflows w ON w.id = t.workflow_id "
            f"WHERE {' AND '.join(where)} ORDER BY t.id DESC LIMIT :n"
        ),
        params,
    ).all()
    items = [_trigger(row, public_url) for row in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return TriggerList(items=items, next_cursor=next_cursor)


def _trigger(row: Any, public_url: str) -> Trigger:
    config = row.config or {}
    webhook = row.type == "webhook"
    url_path = f"/hooks/{row.route}" if webhook else None
    return Trigger(
        id=row.id,
        trigger_id=row.trigger_id,
        type=row.type,
        workflow_id=row.workflow_id,
        flow_id=row.flow_id,
        version_id=row.version_id,
        enabled=row.enabled,
        url_path=url_path,
        url=f"{public_url.rstrip('/')}{url_path}" if url_path else None,
        method=str(config.get("method") or "POST").upper() if webhook else None,
        auth=(config.get("auth") or "none") if webhook else None,
        cron=config.get("cron") if row.type == "cron" else None,
        timezone=(config.get("timezone") or "UTC") if row.type == "cron" else None,
        event=row.route if row.type == "event" else None,
        next_fire_at=row.next_fire_at,
        last_fired_at=row.last_fired_at,
        created_at=row.created_at,
    )


def list_events(
    conn: sa.Connection,
    org_id: uuid.UUID,
    *,
    event_type: str | None,
    limit: int,
    cursor: str | None,
) -> EventList:
    """Custom events of the organization, newest first."""
    where = ["org_id = :org"]
    params: dict[str, Any] = {"org": org_id, "n": limit + 1}
    if event_type is not None:
        where.append("type = :type")
        params["type"] = event_type
    after = decode_cursor(cursor, 2)
    if after is not None:
        try:
            params["at"], params["after"] = datetime.fromisoformat(after[0]), uuid.UUID(after[1])
        except (TypeError, ValueError):
            raise _bad_cursor() from None
        where.append("(created_at, id) < (:at, :after)")
    rows = conn.execute(
        sa.text(
            "SELECT id, type, data, source, created_at FROM custom_events "
            f"WHERE {' AND '.join(where)} ORDER BY created_at DESC, id DESC LIMIT :n"
        ),
        params,
    ).all()
    items = [event_of(row) for row in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    next_cursor = encode_cursor(last.created_at.isoformat(), last.id) if last else None
    return EventList(items=items, next_cursor=next_cursor)


def event_of(row: Any) -> Event:
    return Event(
        id=row.id, type=row.type, data=row.data, source=row.source, created_at=row.created_at
    )
