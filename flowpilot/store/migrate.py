"""Applying migrations (``flowpilot db upgrade``) and refusing to run on an unmigrated database."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).parent / "migrations"


class NotMigrated(RuntimeError):
    """The database schema is older (or newer) than this FlowPilot's."""


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> tuple[str | None, str]:
    """Apply migrations up to ``revision``; returns (before, after). Safe to run concurrently:
    an advisory lock serialises migrators."""
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(7134001)"))
        before = MigrationContext.configure(conn).get_current_revision()
        command.upgrade(_config(conn), revision)
        after = MigrationContext.configure(conn).get_current_revision()
    return before, after or ""


def require_migrated(engine: sa.Engine) -> None:
    """Raise :class:`NotMigrated` with what to do unless the database is at the head revision."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        state = "has no FlowPilot schema" if current is None else f"is at revision {current}"
        raise NotMigrated(
            f"the database {state}, this FlowPilot needs revision {head}: "
            "run `flowpilot db upgrade` first"
        )
