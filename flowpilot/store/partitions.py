"""Monthly partitions of the execution tables, created ahead of time.

Partition bounds are UUIDv7 values (the first id of each month), because the tables are
partitioned by execution id. :func:`ensure_partitions` is idempotent and cheap; the migrations
call it, and so do the scheduler (daily) and every process that starts executions (on start), so
a month never begins without its partitions.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from flowpilot.store.ids import uuid7_floor

PARTITIONED_TABLES = ("executions", "step_runs", "execution_logs", "execution_events")
MONTHS_AHEAD = 3


def _month_start(year: int, month: int) -> datetime:
    while month > 12:
        year, month = year + 1, month - 12
    while month < 1:
        year, month = year - 1, month + 12
    return datetime(year, month, 1, tzinfo=UTC)


def month_bounds(moment: datetime, offset: int = 0) -> tuple[datetime, datetime]:
    start = _month_start(moment.year, moment.month + offset)
    return start, _month_start(start.year, start.month + 1)


def ensure_partitions(
    conn: sa.Connection, *, now: datetime | None = None, months_back: int = 1
) -> list[str]:
    """Create the partitions from ``months_back`` months ago to :data:`MONTHS_AHEAD` ahead;
    return the names created."""
    now = now or datetime.now(UTC)
    existing = set(
        conn.execute(
            sa.text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = ANY(:tables)"
            ),
            {"tables": list(PARTITIONED_TABLES)},
        ).scalars()
    )
    created = []
    for offset in range(-months_back, MONTHS_AHEAD + 1):
        start, end = month_bounds(now, offset)
        for table in PARTITIONED_TABLES:
            name = f"{table}_y{start.year}m{start.month:02d}"
            if name in existing:
                continue
            conn.execute(
                sa.text(
                    f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} "
                    f"FOR VALUES FROM ('{uuid7_floor(start)}') TO ('{uuid7_floor(end)}')"
                )
            )
            created.append(name)
    return created
