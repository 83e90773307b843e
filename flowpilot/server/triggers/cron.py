"""Firing cron triggers: every due occurrence exactly once, whatever the number of schedulers.

The scheduler's leader calls :func:`fire_due_cron` every round. Each due trigger is handled in
its own transaction that locks the trigger row (``SKIP LOCKED``: two schedulers never wait for
each other) and inserts ``trigger_fires (trigger_id, occurrence)`` before creating the
execution; the primary key makes a second insert of the same occurrence a no-op, so even a
scheduler working from a stale read never fires an occurrence twice.

**Missed runs.** When the server was down across occurrences, what fires on its return is set
per deployment by ``FLOWPILOT_CRON_CATCHUP``:

- ``latest`` (default): the most recent missed occurrence fires once; older ones are skipped.
- ``none``: missed occurrences are skipped; only one seen within
  ``FLOWPILOT_CRON_GRACE_SECONDS`` (default 60) of its time fires.
- ``all``: every missed occurrence fires, oldest first, but no more than the
  ``FLOWPILOT_CRON_CATCHUP_MAX`` (default 10) most recent ones.

Each execution gets ``trigger.scheduled_at``, the occurrence it stands for.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa

from flowpilot.runtime.persist import PostCommit, execute
from flowpilot.runtime.service import Runtime
from flowpilot.server.config import ConfigError
from flowpilot.server.triggers.firing import (
    Target,
    TriggerRejected,
    absorb,
    iso,
    start_execution,
    trigger_names,
)
from flowpilot.server.triggers.sync import next_occurrence, previous_occurrences

log = logging.getLogger("flowpilot.triggers")


class CatchUp(StrEnum):
    latest = "latest"
    none = "none"
    all = "all"


@dataclass(frozen=True)
class CronPolicy:
    """What fires when occurrences were missed (see the module's docstring)."""

    catchup: CatchUp = CatchUp.latest
    #: With ``all``: the most missed occurrences fired at once (the most recent ones).
    max_catchup: int = 10
    #: An occurrence seen this late is still on time (with ``none``, a later one is skipped).
    grace_seconds: float = 60.0

    @classmethod
    def from_env(cls) -> CronPolicy:
        raw = os.environ.get("FLOWPILOT_CRON_CATCHUP", "latest").strip().lower()
        try:
            catchup = CatchUp(raw)
        except ValueError:
            choices = ", ".join(c.value for c in CatchUp)
            raise ConfigError(
                f"FLOWPILOT_CRON_CATCHUP must be one of {choices}, not {raw!r}"
            ) from None
        return cls(
            catchup=catchup,
            max_catchup=_positive("FLOWPILOT_CRON_CATCHUP_MAX", cls.max_catchup),
            grace_seconds=_positive("FLOWPILOT_CRON_GRACE_SECONDS", int(cls.grace_seconds)),
        )


def _positive(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    if not raw.isdigit() or int(raw) <= 0:
        raise ConfigError(f"{name} must be a positive integer, not {raw!r}")
    return int(raw)


def due_occurrences(
    expression: str,
    timezone: str | None,
    *,
    first_due: datetime,
    now: datetime,
    policy: CronPolicy,
) -> list[datetime]:
    """The occurrences to fire at ``now``, oldest first, when ``first_due`` is the earliest
    one not handled yet."""
    wanted = policy.max_catchup if policy.catchup is CatchUp.all else 1
    recent = previous_occurrences(expression, timezone, until=now, since=first_due, limit=wanted)
    if policy.catchup is CatchUp.none:
        recent = [o for o in recent if (now - o).total_seconds() <= policy.grace_seconds]
    return sorted(recent)


_DUE = (
    "SELECT id FROM triggers WHERE type = 'cron' AND enabled AND next_fire_at <= :now "
    "ORDER BY next_fire_at LIMIT :n"
)
_LOCK = (
    "SELECT t.id, t.org_id, t.workflow_id, t.trigger_id, t.config, t.next_fire_at, "
    "v.plan_hash FROM triggers t JOIN workflow_versions v ON v.id = t.version_id "
    "WHERE t.id = :id AND t.type = 'cron' AND t.next_fire_at <= :now "
    "FOR UPDATE OF t SKIP LOCKED"
)
_CLAIM = (
    "INSERT INTO trigger_fires (trigger_id, occurrence) VALUES (:t, :o) "
    "ON CONFLICT DO NOTHING RETURNING 1"
)


def fire_due_cron(
    runtime: Runtime,
    *,
    now: datetime | None = None,
    policy: CronPolicy | None = None,
    limit: int = 100,
) -> int:
    """Fire the cron triggers due at ``now`` (up to ``limit`` of them); returns how many
    executions started."""
    now = now or datetime.now(UTC)
    policy = policy or CronPolicy()
    with runtime.db.connect() as conn:
        due = list(execute(conn, _DUE, {"now": now, "n": limit}).scalars())
    started = 0
    for trigger_row in due:
        try:
            started += fire_cron(runtime, trigger_row, now=now, policy=policy)
        except Exception:
            log.exception("cron trigger %s could not fire", trigger_row)
    return started


def fire_cron(
    runtime: Runtime, trigger_row: uuid.UUID, *, now: datetime, policy: CronPolicy
) -> int:
    """Fire the due occurrences of one cron trigger and schedule its next one; returns how
    many executions started (0 when it is not due or another scheduler holds it)."""
    with runtime.transaction() as (conn, post):
        row = execute(conn, _LOCK, {"id": trigger_row, "now": now}).one_or_none()
        if row is None:
            return 0
        target = Target.of(row)
        expression, zone = target.config["cron"], target.config.get("timezone")
        occurrences = due_occurrences(
            expression, zone, first_due=row.next_fire_at, now=now, policy=policy
        )
        started = 0
        for occurrence in occurrences:
            if execute(conn, _CLAIM, {"t": target.id, "o": occurrence}).first() is None:
                continue  # fired already (by a scheduler that read this row before us)
            execution_id = _start(runtime, conn, post, target, occurrence, now)
            if execution_id is not None:
                started += 1
                execute(
                    conn,
                    "UPDATE trigger_fires SET execution_id = :e WHERE trigger_id = :t "
                    "AND occurrence = :o",
                    {"e": execution_id, "t": target.id, "o": occurrence},
                )
        if not occurrences or occurrences[0] > row.next_fire_at:
            log.info(
                "cron trigger %s of workflow %s skipped occurrences since %s (catch-up: %s)",
                target.trigger_id,
                target.workflow_id,
                iso(row.next_fire_at),
                policy.catchup.value,
            )
        execute(
            conn,
            "UPDATE triggers SET next_fire_at = :next, "
            "last_fired_at = coalesce(:last, last_fired_at) WHERE id = :id",
            {
                "next": next_occurrence(expression, zone, now),
                "last": occurrences[-1] if occurrences else None,
                "id": target.id,
            },
        )
    return started


def _start(
    runtime: Runtime,
    conn: sa.Connection,
    post: PostCommit,
    target: Target,
    occurrence: datetime,
    now: datetime,
) -> str | None:
    """Start one occurrence's execution in a savepoint: a trigger whose inputs do not fit its
    flow (or a bug) costs that occurrence, not the others or the schedule."""
    trigger = {
        "type": "cron",
        "id": target.trigger_id,
        "scheduled_at": iso(occurrence),
        "fired_at": iso(now),
        "cron": target.config["cron"],
        "timezone": target.config.get("timezone") or "UTC",
    }
    nested = PostCommit()
    try:
        with conn.begin_nested():
            names = trigger_names(
                runtime, target, runtime.plan(conn, str(target.org_id), target.plan_hash), trigger
            )
            execution_id = start_execution(runtime, conn, nested, target, trigger, names)
    except TriggerRejected as exc:
        log.warning(
            "cron trigger %s of workflow %s did not start its flow at %s: %s",
            target.trigger_id,
            target.workflow_id,
            iso(occurrence),
            ", ".join(sorted(exc.problems)),
        )
        return None
    except Exception:
        log.exception("cron trigger %s failed at %s", target.trigger_id, iso(occurrence))
        return None
    absorb(post, nested)
    return execution_id
