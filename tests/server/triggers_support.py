"""Helpers of the trigger tests: publish a flow straight in the database (the workflows API is
tested on its own), read back the executions triggers started."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from flowpilot.server.triggers.sync import sync_triggers
from flowpilot.server.workflows.versions import create_workflow
from tests.server.conftest import LiveServer


def publish(
    live: LiveServer, org_id: uuid.UUID, source: str, *, now: datetime | None = None
) -> uuid.UUID:
    """Create a workflow from YAML ``source``, publish its first version (cron triggers
    scheduled from ``now``); returns its id."""
    with live.db.begin() as conn:
        saved = create_workflow(conn, live.runtime, org_id, source, "yaml")
        conn.execute(
            sa.text("UPDATE workflows SET published_version_id = :v WHERE id = :w"),
            {"v": saved.version_id, "w": saved.workflow_id},
        )
        assert saved.result.plan is not None
        sync_triggers(
            conn,
            org_id=org_id,
            workflow_id=saved.workflow_id,
            version_id=saved.version_id,
            plan=saved.result.plan,
            now=now,
        )
    return saved.workflow_id


def executions_of(live: LiveServer, workflow_id: uuid.UUID) -> list[Any]:
    """The executions of a workflow, oldest first."""
    with live.db.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT id, status, inputs, outputs, trigger FROM executions "
                "WHERE workflow_id = :w ORDER BY id"
            ),
            {"w": workflow_id},
        ).all()


def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll ``check`` until it returns something truthy (work done by the background
    scheduler or worker); fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "the expected work did not happen in time"
        time.sleep(0.05)
