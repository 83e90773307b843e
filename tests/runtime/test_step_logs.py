"""A long step's log lines reach the database while it runs, with secrets masked."""

from __future__ import annotations

import time

import sqlalchemy as sa

from flowpilot.runtime.secrets import DictSecretProvider, SecretsView
from flowpilot.runtime.service import Runtime
from flowpilot.runtime.worker import StepLogs
from flowpilot.store.ids import uuid7


def _lines(database: sa.Engine, execution_id: str) -> list[tuple[str, str]]:
    with database.connect() as conn:
        return [
            (r.level, r.message)
            for r in conn.execute(
                sa.text(
                    "SELECT level, message FROM execution_logs WHERE execution_id = :e ORDER BY id"
                ),
                {"e": execution_id},
            )
        ]


def test_logs_are_written_while_the_step_runs_and_masked(database: sa.Engine) -> None:
    runtime = Runtime(database)
    org = runtime.ensure_org()
    execution_id = str(uuid7())
    secrets = SecretsView(DictSecretProvider({"TOKEN": "s3cr3t-value"}), org)
    secrets.get("TOKEN")
    logs = StepLogs(runtime, execution_id, org, "slow", secrets, interval=0.05)
    logs.add("info", "starting", {})
    assert _lines(database, execution_id) == []  # batched: not yet
    time.sleep(0.06)
    logs.add("warning", "token s3cr3t-value refused, retrying", {})
    assert _lines(database, execution_id) == [
        ("info", "starting"),
        ("warning", "token *** refused, retrying"),
    ]
    logs.add("info", "done", {})
    logs.flush()
    assert _lines(database, execution_id)[-1] == ("info", "done")
