"""The schema: migrations apply, partitions exist ahead, unmigrated databases are refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from flowpilot.store import migrate
from flowpilot.store.ids import uuid7, uuid7_floor, uuid7_time
from flowpilot.store.models import Base
from flowpilot.store.partitions import PARTITIONED_TABLES, ensure_partitions


def test_a_migrated_database_is_at_head(database: sa.Engine) -> None:
    assert migrate.current_revision(database) == migrate.head_revision()
    migrate.require_migrated(database)
    assert migrate.upgrade(database)[0] == migrate.head_revision()  # idempotent


def test_an_unmigrated_database_is_refused_with_the_command_to_run(database: sa.Engine) -> None:
    with database.begin() as conn:
        conn.execute(sa.text("DELETE FROM alembic_version"))
    with pytest.raises(migrate.NotMigrated, match="flowpilot db upgrade"):
        migrate.require_migrated(database)


def test_partitions_cover_this_month_and_the_next_three(database: sa.Engine) -> None:
    with database.connect() as conn:
        names = set(
            conn.execute(
                sa.text(
                    "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE '%_y%m%'"
                )
            ).scalars()
        )
    now = datetime.now(UTC)
    for table in PARTITIONED_TABLES:
        assert f"{table}_y{now.year}m{now.month:02d}" in names
    assert len([n for n in names if n.startswith("executions_y")]) >= 4


def test_ensure_partitions_creates_future_months_once(database: sa.Engine) -> None:
    later = datetime(2031, 6, 15, tzinfo=UTC)
    with database.begin() as conn:
        created = ensure_partitions(conn, now=later, months_back=0)
        again = ensure_partitions(conn, now=later, months_back=0)
    assert "executions_y2031m06" in created and "step_runs_y2031m09" in created
    assert again == []


def test_uuid7_is_time_ordered_and_falls_in_its_month_partition() -> None:
    ids = [uuid7() for _ in range(2000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 2000
    assert ids[0].version == 7
    moment = uuid7_time(ids[0])
    start = datetime(moment.year, moment.month, 1, tzinfo=UTC)
    assert uuid7_floor(start) <= ids[0]


def test_models_name_every_column_the_migrations_create(database: sa.Engine) -> None:
    inspector = sa.inspect(database)
    for table in Base.metadata.sorted_tables:
        actual = {c["name"] for c in inspector.get_columns(table.name)}
        assert {c.name for c in table.columns} == actual, table.name
