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
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from croniter import croniter

from flowpilot.server.errors import Conflict, FieldError
from flowpilot.store.ids import uuid7

_generation = 0


def routes_generation() -> int:
    """A number that changes whenever this process changes trigger rows: webhook receivers
    drop the routes they remember when it does (other processes' changes reach them when their
    short-lived entries expire)."""
    return _generation


def _routes_changed() -> None:
    global _generation
    _generation += 1


def webhook_path(trigger: dict[str, Any]) -> str:
    path = trigger["config"].get("path") or trigger["id"]
    return str(path).strip("/")


def _fixed_hours(expression: str) -> bool:
    fields = expression.split()
    return len(fields) > 1 and not fields[1].startswith("*")


def _repeated(moment: datetime, zone: ZoneInfo, fixed_hours: bool) -> bool:
    """Whether ``moment`` is the second pass of a wall-clock time (clocks went back) of a
    schedule at fixed hours: that time already fired at its first pass. Schedules whose hour
    field is ``*`` keep their rhythm in real time and fire in both passes."""
    return fixed_hours and moment.astimezone(zone).fold == 1


def next_occurrence(expression: str, timezone: str | None, after: datetime) -> datetime:
    """The first occurrence of a five-field cron expression strictly after ``after``,
    evaluated in ``timezone``, returned in UTC.

    Daylight saving time: a wall-clock time that does not exist (clocks go forward) fires
    when the clock jumps (``30 2 * * *`` fires at 03:00 that day); a wall-clock time that
    exists twice (clocks go back) fires once, at its first pass, unless the hour field is
    ``*`` (``*/15 * * * *`` goes on firing every 15 minutes of real time)."""
    zone = ZoneInfo(timezone or "UTC")
    fixed = _fixed_hours(expression)
    occurrences = croniter(expression, after.astimezone(zone))
    while True:
        found: datetime = occurrences.get_next(datetime).astimezone(UTC)
        if not _repeated(found, zone, fixed):
            return found


def previous_occurrences(
    expression: str, timezone: str | None, *, until: datetime, since: datetime, limit: int
) -> list[datetime]:
    """Up to ``limit`` occurrences in ``[since, until]``, newest first, in UTC (with the
    daylight-saving rules of :func:`next_occurrence`). Walks backwards from ``until``, so a
    long gap costs no more than ``limit`` steps."""
    zone = ZoneInfo(timezone or "UTC")
    fixed = _fixed_hours(expression)
    # Start just past `until` so that an occurrence exactly at `until` is included.
    occurrences = croniter(expression, (until + timedelta(seconds=1)).astimezone(zone))
    found: list[datetime] = []
    while len(found) < limit:
        moment: datetime = occurrences.get_prev(datetime).astimezone(UTC)
        if moment < since:
            break
        if moment <= until and not _repeated(moment, zone, fixed):
            found.append(moment)
    return found


def _same_schedule(before: Any, config: dict[str, Any]) -> bool:
    return (
        before.type == "cron"
        and before.config.get("cron") == config.get("cron")
        and (before.config.get("timezone") or "UTC") == (config.get("timezone") or "UTC")
    )


def remove_triggers(conn: sa.Connection, workflow_id: uuid.UUID) -> None:
    _routes_changed()
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
    A cron trigger whose schedule is unchanged keeps its ``last_fired_at`` and its
    ``next_fire_at``: republishing neither fires an occurrence again nor loses one that was due
    but not fired yet. Returns the rows written (for the response and the audit log)."""
    _routes_changed()
    now = now or datetime.now(UTC)
    org_slug = conn.execute(
        sa.text("SELECT slug FROM organizations WHERE id = :o"), {"o": org_id}
    ).scalar_one()
    flow_id = plan["flow"]["id"]
    previous = {
        row.trigger_id: row
        for row in conn.execute(
            sa.text(
                # Locked: a scheduler firing one of them finishes first, and we see where it
                # left the schedule (not an occurrence it has just fired).
                "SELECT trigger_id, type, config, next_fire_at, last_fired_at FROM triggers "
                "WHERE workflow_id = :wf FOR UPDATE"
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
            next_fire = next_occurrence(config["cron"], config.get("timezone"), now)
            if before is not None and _same_schedule(before, config):
                last_fired = before.last_fired_at
                next_fire = before.next_fire_at or next_fire
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
