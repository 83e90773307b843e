"""``flowpilot --server URL --api-key KEY …``: the CLI's execution commands and ``run
--workflow`` act on the live server through the client, with the same output as locally."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from click.testing import CliRunner, Result

from flowpilot.cli.main import main
from flowpilot.client import FlowPilot
from tests.client.conftest import LiveServer
from tests.client.test_executions import until_approval_requested
from tests.server.test_executions import APPROVAL, GREET, WAITS

ROOT = Path(__file__).resolve().parents[2]


def cli(live: LiveServer, api_key: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--server", live.url, "--api-key", api_key, *args])


def test_run_a_stored_workflow_by_flow_id_and_wait(
    live: LiveServer, api_key: str, client: FlowPilot
) -> None:
    client.workflows.create(GREET)
    result = cli(live, api_key, "run", "--workflow", "greet", "-i", "who=Ada", "--wait")
    assert result.exit_code == 0, result.output
    outputs = result.stdout.split("succeeded outputs: ")[1]
    assert json.loads(outputs) == {"greeting": "ADA", "times": 1}
    assert "hello" in result.stdout and "shout" in result.stdout  # the steps table

    result = cli(
        live, api_key, "run", "-w", "greet", "-i", "who=Bo", "-i", "times=3", "--wait", "--json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded" and report["outputs"] == {"greeting": "BO", "times": 3}
    assert [s["step"] for s in report["steps"]] == ["hello", "shout"]


def test_run_without_wait_prints_the_id_to_follow_up_on(
    live: LiveServer, api_key: str, client: FlowPilot
) -> None:
    workflow = client.workflows.create(GREET)
    result = cli(live, api_key, "run", "--workflow", str(workflow.id), "-i", "who=Cy")
    assert result.exit_code == 0, result.output
    execution_id = result.stdout.strip()
    assert uuid.UUID(execution_id) and f"started greet · {execution_id}" in result.stderr
    client.executions.wait(execution_id, timeout=60)

    shown = cli(live, api_key, "executions", "show", execution_id)
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0] == f"{execution_id}  greet  succeeded"
    assert json.loads(lines[1].removeprefix("outputs: ")) == {"greeting": "CY", "times": 1}
    assert "  [info] hello: hello Cy" in lines
    listed = cli(live, api_key, "executions", "list", "--flow", "greet", "--json")
    assert [e["id"] for e in json.loads(listed.stdout)] == [execution_id]


def test_approve_cancel_and_retry_through_the_server(
    live: LiveServer, api_key: str, client: FlowPilot
) -> None:
    approval = client.workflows.create(APPROVAL)
    started = client.executions.start(approval.id)
    until_approval_requested(client, started.id)
    result = cli(live, api_key, "approve", str(started.id), "review", "--comment", "fine")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{started.id}: approved; execution ")
    done = client.executions.wait(started.id, timeout=60)
    assert done.outputs["comment"] == "fine"

    waits = client.workflows.create(WAITS)
    waiting = client.executions.start(waits.id)
    cancelled = cli(live, api_key, "executions", "cancel", str(waiting.id))
    assert cancelled.stdout == f"{waiting.id}: cancelled\n"
    again = cli(live, api_key, "executions", "cancel", str(waiting.id))
    assert again.exit_code == 1
    assert "409 execution_finished" in again.stderr and "request id" in again.stderr
    retried = cli(live, api_key, "executions", "retry", str(waiting.id))
    assert retried.exit_code == 0, retried.output
    assert client.executions.get(retried.stdout.strip()).trigger["of"] == str(waiting.id)


def test_mistakes_are_reported_as_the_user_made_them(
    live: LiveServer, api_key: str, client: FlowPilot, tmp_path: Path
) -> None:
    client.workflows.create(GREET)
    bad_input = cli(live, api_key, "run", "-w", "greet", "-i", "who=1", "-i", "colour=red")
    assert bad_input.exit_code == 2
    assert "input 'colour': unknown input" in bad_input.stderr
    assert "input 'who': 1 is not of type 'string'" in bad_input.stderr
    unknown = cli(live, api_key, "executions", "show", str(uuid.uuid4()))
    assert unknown.exit_code == 1 and "404 execution_not_found" in unknown.stderr
    missing = cli(live, api_key, "run", "-w", "no-such-flow")
    assert missing.exit_code == 1 and "404 workflow_not_found" in missing.stderr
    by = cli(live, api_key, "approve", str(uuid.uuid4()), "review", "--by", "someone")
    assert by.exit_code == 2 and "--by is for the local database" in by.stderr

    runner = CliRunner()
    no_server = runner.invoke(
        main, ["run", "--workflow", "greet"], env={"FLOWPILOT_SERVER_URL": ""}
    )
    assert no_server.exit_code == 2 and "--workflow acts on a server" in no_server.stderr
    no_key = runner.invoke(
        main, ["--server", live.url, "executions", "list"], env={"FLOWPILOT_API_KEY": ""}
    )
    assert no_key.exit_code == 2 and "--server needs an API key" in no_key.stderr
    flow = tmp_path / "greet.flow.yaml"
    flow.write_text(GREET)
    both = cli(live, api_key, "run", str(flow), "--workflow", "greet")
    assert both.exit_code == 2 and "not both" in both.stderr


def test_the_real_command_reads_the_server_from_the_environment(
    live: LiveServer, api_key: str, client: FlowPilot
) -> None:
    client.workflows.create(GREET)
    env = {**os.environ, "FLOWPILOT_SERVER_URL": live.url, "FLOWPILOT_API_KEY": api_key}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "flowpilot.cli.main",
            "run",
            "-w",
            "greet",
            "-i",
            "who=Env",
            "--wait",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["outputs"] == {"greeting": "ENV", "times": 1}
    assert client.executions.get(report["id"]).trigger["by"]["type"] == "api_key"
