"""Keeping the ``triggers`` table equal to what the published versions declare.

Publishing a version replaces its workflow's trigger rows with the plan's triggers (webhook
routes ``<org slug>/<flow id>/<path>``, cron schedules with their next occurrence, event
subscriptions); unpublishing or deleting a workflow removes them. Runs in the caller's
transaction, so a publish that fails (a webhook path another workflow already owns) leaves the
previous triggers in place.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from croniter import croniter

from flowpilot.server.errors import Conflict, FieldError
from flowpilot.store.ids import uuid7


def webhook_path(trigger: dict[str, Any]) -> str:
    path = trigger["config"].get("path") or trigger["id"]
    return str(path).strip("/")


def next_occurrence(expression: str, timezone: str | None, after: datetime) -> datetime:
    """The first occurrence of a five-field cron expression strictly after ``after``,
    evaluated in ``timezone`` (DST-aware), returned in UTC."""
    zone = ZoneInfo(timezone or "UTC")
    local = after.astimezone(zone)
    return croniter(expression, local).get_next(datetime).astimezone(UTC)


def remove_triggers(conn: sa.Connection, workflow_id: uuid.UUID) -> None:
    conn.execute(sa.text("DELETE FROM triggers WHERE workflow_id = :wf"), {"wf": workflow_id})


def sync_triggers(
    conn: sa.Connection,
    *,
    org_id: uuid.UUID,
    workflow_id: uuid.UUID,
    version_id: uuid.UUID,
    plan: dict[str, Any],
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Replace the workflow's triggers with those of ``plan`` (its newly published version).
    A cron trigger that existed before keeps its ``last_fired_at``, so republishing does not
    re-fire an occurrence. Returns the rows written (for the response and the audit log)."""
    now = now or datetime.now(UTC)
    org_slug = conn.execute(
        sa.text("SELECT slug FROM organizations WHERE id = :o"), {"o": org_id}
    ).scalar_one()
    flow_id = plan["flow"]["id"]
    previous = {
        row.trigger_id: row
        for row in conn.execute(
            sa.text(
                "SELECT trigger_id, type, config, last_fired_at FROM triggers "
                "WHERE workflow_id = :wf"
            ),
            {"wf": workflow_id},
        )
    }
    remove_triggers(conn, workflow_id)
    written: list[dict[str, Any]] = []
    for trigger in plan.get("triggers") or []:
        kind = trigger["type"]
        config = dict(trigger.get("config") or {})
        route: str | None = None
        next_fire: datetime | None = None
        last_fired: datetime | None = None
        if kind == "webhook":
            route = f"{org_slug}/{flow_id}/{webhook_path(trigger)}"
            owner = conn.execute(
                sa.text(
                    "SELECT w.id, w.flow_id FROM triggers t JOIN workflows w ON w.id = "
                    "t.workflow_id WHERE t.type = 'webhook' AND t.route = :r"
                ),
                {"r": route},
            ).one_or_none()
            if owner is not None:
                raise Conflict(
                    f"the webhook path /hooks/{route} belongs to workflow '{owner.flow_id}'",
                    code="webhook_path_taken",
                    errors=[FieldError(f"triggers.{trigger['id']}.path", "already in use")],
                )
        elif kind == "cron":
            before = previous.get(trigger["id"])
            if before is not None and before.type == "cron" and before.config == config:
                last_fired = before.last_fired_at
            next_fire = next_occurrence(config["cron"], config.get("timezone"), now)
        elif kind == "event":
            route = str(config["on"])
        row = {
            "id": uuid7(),
            "org": org_id,
            "wf": workflow_id,
            "v": version_id,
            "tid": trigger["id"],
            "type": kind,
            "config": json.dumps({**config, "inputs": trigger.get("inputs") or {}}),
            "route": route,
            "next": next_fire,
            "last": last_fired,
        }
        conn.execute(
            sa.text(
                "INSERT INTO triggers (id, org_id, workflow_id, version_id, trigger_id, type, "
                "config, route, next_fire_at, last_fired_at) VALUES (:id, :org, :wf, :v, :tid, "
                ":type, CAST(:config AS jsonb), :route, :next, :last)"
            ),
            row,
        )
        written.append(
            {
                "id": trigger["id"],
                "type": kind,
                "route": route,
                "url_path": f"/hooks/{route}" if kind == "webhook" else None,
                "next_fire_at": next_fire.isoformat() if next_fire else None,
            }
        )
    return written
