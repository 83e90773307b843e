"""The runtime commands as a user runs them: real processes, a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.pg import fresh_database, server_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def database() -> Iterator[sa.Engine]:
    yield from fresh_database()


def _cli(database_url: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLOWPILOT_DATABASE_URL": database_url, "FLOWPILOT_BROKER_URL": ""}
    env.pop("FLOWPILOT_BROKER_URL")
    return subprocess.run(
        [sys.executable, "-m", "flowpilot.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def _url(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


FLOW = """
flow: cli-demo
inputs:
  who: string
  fail: { type: boolean, default: false }
steps:
  - id: greet
    uses: core.log
    with: { message: "hi {{ inputs.who }}" }
  - id: stop
    if: ${{ inputs.fail }}
    fail: { message: "asked to stop", type: user_stop }
outputs:
  who: ${{ inputs.who }}
"""


def test_run_prints_outputs_and_exits_0(database: sa.Engine, tmp_path: Path) -> None:
    flow = tmp_path / "demo.flow.yaml"
    flow.write_text(FLOW)
    done = _cli(_url(database), "run", str(flow), "--input", "who=Ada", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded"
    assert result["outputs"] == {"who": "Ada"}
    assert {s["step"]: s["status"] for s in result["steps"]} == {
        "greet": "succeeded",
        "stop": "skipped",
    }


def test_a_failing_run_names_the_step_its_error_and_its_line(
    database: sa.Engine, tmp_path: Path
) -> None:
    flow = tmp_path / "demo.flow.yaml"
    flow.write_text(FLOW)
    done = _cli(_url(database), "run", str(flow), "-i", "who=Ada", "-i", "fail=true")
    assert done.returncode == 1
    assert "failed at step 'stop'" in done.stdout
    assert "user_stop: asked to stop" in done.stdout
    assert f"{flow}:10:5" in done.stdout


def test_bad_inputs_exit_2_naming_each_input(database: sa.Engine, tmp_path: Path) -> None:
    flow = tmp_path / "demo.flow.yaml"
    flow.write_text(FLOW)
    done = _cli(_url(database), "run", str(flow), "-i", "fail=maybe", "-i", "extra=1")
    assert done.returncode == 2
    for name in ("who", "fail", "extra"):
        assert f"input '{name}'" in done.stdout


def test_a_flow_with_errors_is_not_run(database: sa.Engine, tmp_path: Path) -> None:
    flow = tmp_path / "broken.flow.yaml"
    flow.write_text("flow: broken\nsteps:\n  - { id: a, uses: core.lgo }\n")
    done = _cli(_url(database), "run", str(flow))
    assert done.returncode == 1
    assert "E101" in done.stdout + done.stderr
    with database.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM executions")).scalar() == 0


def test_executions_list_show_and_retry(database: sa.Engine, tmp_path: Path) -> None:
    flow = tmp_path / "demo.flow.yaml"
    flow.write_text(FLOW)
    run = _cli(_url(database), "run", str(flow), "-i", "who=Bo", "--json")
    execution_id = json.loads(run.stdout)["id"]
    listed = _cli(_url(database), "executions", "list")
    assert execution_id in listed.stdout and "succeeded" in listed.stdout
    shown = json.loads(_cli(_url(database), "executions", "show", execution_id, "--json").stdout)
    assert shown["outputs"] == {"who": "Bo"}
    assert [s["step_key"] for s in shown["steps"]] == ["greet", "stop"]
    assert any(log["message"] == "hi Bo" for log in shown["logs"])
    missing = _cli(_url(database), "executions", "show", str(uuid.uuid4()))
    assert missing.returncode == 1 and "no execution" in missing.stderr


def test_workers_refuse_an_unmigrated_database() -> None:
    base = server_url()
    name = f"fp_empty_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        env_url = url
        refused = _cli(env_url, "scheduler", timeout=60)
        assert refused.returncode == 1
        assert "flowpilot db upgrade" in refused.stderr
        upgraded = _cli(env_url, "db", "upgrade")
        assert upgraded.returncode == 0 and "migrated" in upgraded.stdout
        again = _cli(env_url, "db", "upgrade")
        assert "already at revision" in again.stdout
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_run_finds_called_flows_beside_the_file(database: sa.Engine, tmp_path: Path) -> None:
    (tmp_path / "double.flow.yaml").write_text(
        "flow: double\ninputs: { x: number }\nsteps: [ { id: s, set: { y: 1 } } ]\n"
        "outputs: { y: '${{ inputs.x * 2 }}' }\n"
    )
    parent = tmp_path / "parent.flow.yaml"
    parent.write_text(
        "flow: parent\nsteps:\n  - { id: c, call: double, with: { x: 21 } }\n"
        "outputs: { got: '${{ steps.c.output.y }}' }\n"
    )
    done = _cli(_url(database), "run", str(parent), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["outputs"] == {"got": 42}


def test_dlq_lists_and_requeues_dead_messages(database: sa.Engine) -> None:
    message = {
        "actor_name": "flowpilot_fire_timer",
        "queue_name": "flowpilot.control",
        "args": [str(uuid.uuid4())],
        "kwargs": {},
        "options": {},
    }
    with database.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO dead_letters (id, queue, actor, message, error) "
                "VALUES (:i, 'flowpilot.control', 'flowpilot_fire_timer', CAST(:m AS jsonb), "
                "'ConnectionError: the database went away')"
            ),
            {"i": uuid.uuid4(), "m": json.dumps(message)},
        )
    listed = _cli(_url(database), "dlq", "list")
    assert "flowpilot_fire_timer" in listed.stdout
    assert "the database went away" in listed.stdout
    requeued = _cli(_url(database), "dlq", "requeue", "--all")
    assert requeued.returncode == 0 and "requeued" in requeued.stdout
    assert "empty" in _cli(_url(database), "dlq", "list").stdout
    assert _cli(_url(database), "dlq", "requeue").returncode == 2  # ids or --all
