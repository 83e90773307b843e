"""The runtime end to end on the real database: the in-process Dramatiq worker, the scheduler's
timers, step runs, logs and events as stored, exactly-once results, secrets kept out."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa

from flowpilot.compiler.pipeline import compile_source
from flowpilot.runtime.broker import make_broker
from flowpilot.runtime.inputs import InputError
from flowpilot.runtime.local import LocalRuntime
from flowpilot.runtime.secrets import DictSecretProvider
from flowpilot.runtime.service import Runtime


class Sink:
    """A local HTTP server that records every request (path, headers, body)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_first: int = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                sink.requests.append({"path": self.path, "headers": headers, "body": body.decode()})
                status = 200
                if sink.fail_first > 0:
                    sink.fail_first -= 1
                    status = 503
                payload = json.dumps({"path": self.path, "n": len(sink.requests)}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink()
    yield server
    server.close()


@pytest.fixture
def runtime(database: sa.Engine) -> Iterator[Runtime]:
    with LocalRuntime(db=database, broker=make_broker("memory://"), threads=4) as rt:
        rt.secrets = DictSecretProvider({"API_TOKEN": "tok-4f9a2c1e"})
        yield rt


def _deploy(rt: Runtime, source: str) -> tuple[str, str]:
    result = compile_source(source, "flow.flow.yaml")
    assert result.plan is not None, result.diagnostics
    org = rt.ensure_org()
    rt.save_plan(org, result.plan, result.plan_hash)
    return org, result.plan_hash


def _run(rt: Runtime, source: str, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    org, plan_hash = _deploy(rt, source)
    execution_id = rt.start_execution(org, plan_hash, inputs or {})
    return rt.wait_finished(execution_id, 30)


def _step_runs(rt: Runtime, execution_id: Any) -> list[Any]:
    with rt.db.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT step_key, attempt, status, inputs, output, error, args, idempotency_key "
                "FROM step_runs WHERE execution_id = :e ORDER BY created_at, attempt"
            ),
            {"e": execution_id},
        ).all()


def test_a_flow_of_http_and_logic_steps_runs_to_its_outputs(runtime: Runtime, sink: Sink) -> None:
    done = _run(
        runtime,
        f"""
flow: fetch-two
inputs: {{ n: number }}
steps:
  - id: first
    uses: http.request
    with: {{ url: "{sink.url}/a/${{{{ inputs.n }}}}" }}
  - id: mark
    set: {{ seen: "${{{{ steps.first.output.json.n }}}}" }}
  - id: second
    uses: http.request
    with: {{ url: "{sink.url}/b", method: POST, json: {{ after: "${{{{ vars.seen }}}}" }} }}
vars: {{ seen: 0 }}
outputs:
  paths: ${{{{ [steps.first.output.json.path, steps.second.output.json.path] }}}}
""",
        {"n": 7},
    )
    assert done["status"] == "succeeded", done["error"]
    assert done["outputs"] == {"paths": ["/a/7", "/b"]}
    assert json.loads(sink.requests[1]["body"]) == {"after": 1}
    runs = _step_runs(runtime, done["id"])
    assert [(r.step_key, r.status) for r in runs] == [
        ("first", "succeeded"),
        ("mark", "succeeded"),
        ("second", "succeeded"),
    ]
    assert runs[0].inputs["url"].endswith("/a/7")


def test_side_effects_carry_a_stable_idempotency_key_per_attempt(
    runtime: Runtime, sink: Sink
) -> None:
    sink.fail_first = 1
    done = _run(
        runtime,
        f"""
flow: retrying
steps:
  - id: post
    uses: http.request
    with: {{ url: "{sink.url}/p", method: POST }}
    retry: {{ max_attempts: 3, delay: 10ms, backoff: fixed }}
""",
    )
    assert done["status"] == "succeeded", done["error"]
    keys = [r["headers"].get("idempotency-key") for r in sink.requests]
    assert len(keys) == 2 and len(set(keys)) == 2
    assert keys[0] == f"{done['id']}:post:1"
    runs = _step_runs(runtime, done["id"])
    assert [(r.attempt, r.status) for r in runs] == [(1, "failed"), (2, "succeeded")]


def test_completing_a_step_twice_changes_nothing(runtime: Runtime, sink: Sink) -> None:
    done = _run(
        runtime,
        f"""
flow: once
steps:
  - {{ id: get, uses: http.request, with: {{ url: "{sink.url}/x" }} }}
""",
    )
    execution_id = str(done["id"])
    assert runtime.complete_step(execution_id, "get", 1, output={"forged": True}) is False
    again = runtime.get_execution(execution_id)
    assert again["outputs"] == done["outputs"]
    assert runtime.claim_step(execution_id, "get", 1) is None


def test_secrets_are_sealed_for_workers_and_never_stored(runtime: Runtime, sink: Sink) -> None:
    done = _run(
        runtime,
        f"""
flow: secretive
steps:
  - id: call
    uses: http.request
    with:
      url: "{sink.url}/s"
      headers: {{ Authorization: "Bearer ${{{{ secrets.API_TOKEN }}}}" }}
""",
    )
    assert done["status"] == "succeeded", done["error"]
    assert sink.requests[0]["headers"]["authorization"] == "Bearer tok-4f9a2c1e"
    with runtime.db.connect() as conn:
        dumped = json.dumps(
            [
                [list(r) for r in conn.execute(sa.text(f"SELECT * FROM {table}")).all()]
                for table in ("step_runs", "execution_logs", "execution_events", "executions")
            ],
            default=str,
        )
    assert "tok-4f9a2c1e" not in dumped
    run = _step_runs(runtime, done["id"])[0]
    assert run.inputs["headers"]["Authorization"] == "Bearer ***"
    assert run.args["headers"]["Authorization"] == {
        "$sealed": ["Bearer ", {"$secret": "API_TOKEN"}]
    }


def test_bad_inputs_are_rejected_naming_each_field_and_nothing_is_written(
    runtime: Runtime,
) -> None:
    org, plan_hash = _deploy(
        runtime,
        "flow: typed\ninputs: { n: number, who: string }\nsteps: [ { id: s, set: { x: 1 } } ]\n",
    )
    with pytest.raises(InputError) as caught:
        runtime.start_execution(org, plan_hash, {"n": "three", "extra": 1})
    assert set(caught.value.problems) == {"n", "extra", "who"}
    with runtime.db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM executions")).scalar() == 0


def test_a_durable_wait_fires_from_its_timer(runtime: Runtime) -> None:
    done = _run(
        runtime,
        "flow: waits\nsteps:\n  - { id: pause, wait: 300ms }\n  - { id: after, set: { x: 1 } }\n",
    )
    assert done["status"] == "succeeded", done["error"]
    elapsed = (done["finished_at"] - done["started_at"]).total_seconds()
    assert elapsed >= 0.3
    with runtime.db.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT count(*) FROM timers WHERE fired_at IS NULL")).scalar()
            == 0
        )


def test_an_approval_waits_for_a_decision(runtime: Runtime) -> None:
    org, plan_hash = _deploy(
        runtime,
        """
flow: approve-me
steps:
  - id: ok
    uses: human.approval
    with: { message: "Ship it?", approvers: [boss@example.com] }
outputs:
  approved: ${{ steps.ok.output.approved }}
""",
    )
    execution_id = runtime.start_execution(org, plan_hash, {})
    waiting = runtime.wait_finished(execution_id, 1)
    assert waiting["status"] == "waiting"
    runtime.signal(execution_id, "ok", {"approved": True, "by": "boss@example.com"})
    done = runtime.wait_finished(execution_id, 10)
    assert done["status"] == "succeeded"
    assert done["outputs"] == {"approved": True}


def test_cancelling_a_waiting_execution_cancels_its_steps(runtime: Runtime) -> None:
    org, plan_hash = _deploy(runtime, "flow: slow\nsteps:\n  - { id: pause, wait: 1h }\n")
    execution_id = runtime.start_execution(org, plan_hash, {})
    assert runtime.wait_finished(execution_id, 0.5)["status"] == "waiting"
    assert runtime.cancel(execution_id) == "cancelled"
    runs = _step_runs(runtime, execution_id)
    assert [(r.step_key, r.status) for r in runs] == [("pause", "cancelled")]


def test_call_runs_a_child_execution_and_returns_its_outputs(runtime: Runtime) -> None:
    _deploy(
        runtime,
        "flow: child\ninputs: { x: number }\nsteps: [ { id: s, set: { y: 1 } } ]\n"
        "outputs: { doubled: '${{ inputs.x * 2 }}' }\n",
    )
    done = _run(
        runtime,
        "flow: parent\nsteps:\n  - { id: c, call: child, with: { x: 21 } }\n"
        "outputs: { got: '${{ steps.c.output.doubled }}' }\n",
    )
    assert done["status"] == "succeeded", done["error"]
    assert done["outputs"] == {"got": 42}


def test_flow_concurrency_queues_executions_beyond_the_limit(runtime: Runtime) -> None:
    org, plan_hash = _deploy(
        runtime,
        "flow: one-at-a-time\nconcurrency: { limit: 1, on_limit: queue }\n"
        "steps:\n  - { id: pause, wait: 200ms }\n",
    )
    first = runtime.start_execution(org, plan_hash, {})
    second = runtime.start_execution(org, plan_hash, {})
    assert runtime.get_execution(second)["status"] == "pending"
    assert runtime.wait_finished(first, 10)["status"] == "succeeded"
    done = runtime.wait_finished(second, 10)
    assert done["status"] == "succeeded"
    assert done["started_at"] >= runtime.get_execution(first)["finished_at"]


def test_retrying_from_a_step_reuses_the_earlier_outputs(runtime: Runtime, sink: Sink) -> None:
    source = f"""
flow: resumable
inputs: {{ fail: boolean }}
steps:
  - {{ id: charge, uses: http.request, with: {{ url: "{sink.url}/charge", method: POST }} }}
  - {{ id: stamp, uses: core.uuid }}
  - id: ship
    uses: http.request
    with: {{ url: "{sink.url}/ship/${{{{ steps.charge.output.json.n }}}}", method: POST }}
"""
    org, plan_hash = _deploy(runtime, source)
    sink.fail_first = 0
    first = runtime.start_execution(org, plan_hash, {"fail": False})
    assert runtime.wait_finished(first, 20)["status"] == "succeeded"
    before = len(sink.requests)
    again = runtime.retry_execution(first, from_step="ship")
    done = runtime.wait_finished(again, 20)
    assert done["status"] == "succeeded", done["error"]
    assert [r["path"] for r in sink.requests[before:]] == ["/ship/1"]  # charge was not re-sent
    with pytest.raises(LookupError, match="did not run"):
        runtime.retry_execution(first, from_step="nowhere")


def test_a_finished_step_leaves_no_timeout_timer_behind(runtime: Runtime, sink: Sink) -> None:
    org, plan_hash = _deploy(
        runtime,
        f"""
flow: tidy-timers
defaults: {{ timeout: 1h }}
steps:
  - {{ id: get, uses: http.request, with: {{ url: "{sink.url}/t" }} }}
  - {{ id: pause, wait: 1h }}
""",
    )
    execution_id = runtime.start_execution(org, plan_hash, {})
    deadline = time.monotonic() + 10
    while runtime.get_execution(execution_id)["status"] != "waiting":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    with runtime.db.connect() as conn:
        kinds = conn.execute(sa.text("SELECT kind FROM timers WHERE fired_at IS NULL")).scalars()
        assert list(kinds) == ["wait"]
    runtime.cancel(execution_id)


def test_a_step_dispatched_and_cancelled_in_one_transition_is_stored_once(
    runtime: Runtime, sink: Sink
) -> None:
    done = _run(
        runtime,
        f"""
flow: fail-fast
steps:
  - id: fan
    parallel:
      - {{ id: slow, uses: http.request, with: {{ url: "{sink.url}/slow" }} }}
      - {{ id: boom, fail: {{ message: "no" }} }}
""",
    )
    assert done["status"] == "failed"
    runs = {r.step_key: r.status for r in _step_runs(runtime, done["id"])}
    assert runs == {"fan": "failed", "slow": "cancelled", "boom": "failed"}


def test_an_organization_limit_queues_executions_until_a_slot_frees(runtime: Runtime) -> None:
    org, first_plan = _deploy(runtime, "flow: first\nsteps:\n  - { id: pause, wait: 300ms }\n")
    _, second_plan = _deploy(runtime, "flow: second\nsteps:\n  - { id: s, set: { x: 1 } }\n")
    with runtime.db.begin() as conn:
        conn.execute(
            sa.text("UPDATE organizations SET max_concurrent_executions = 1 WHERE id = :o"),
            {"o": org},
        )
    first = runtime.start_execution(org, first_plan, {})
    second = runtime.start_execution(org, second_plan, {})
    assert runtime.get_execution(second)["status"] == "pending"
    done = runtime.wait_finished(second, 15)
    assert done["status"] == "succeeded"
    assert done["started_at"] >= runtime.get_execution(first)["finished_at"]


def test_a_worker_notices_that_another_process_changed_the_execution(
    database: sa.Engine,
) -> None:
    """A worker driving a chain keeps the state it wrote; a change made elsewhere meanwhile
    (here a cancel from another process) wins, and the worker's stale result changes nothing."""
    worker = Runtime(database, dispatcher=None)
    other = Runtime(database, dispatcher=None)
    org, plan_hash = _deploy(
        worker,
        "flow: chain\nsteps:\n"
        "  - { id: a, uses: http.request, with: { url: 'http://127.0.0.1:9/a' } }\n"
        "  - { id: b, uses: http.request, with: { url: 'http://127.0.0.1:9/b' } }\n"
        "  - { id: c, uses: http.request, with: { url: 'http://127.0.0.1:9/c' } }\n",
    )
    execution_id = worker.start_execution(org, plan_hash, {})
    assert worker.claim_step(execution_id, "a", 1) is not None
    taken = worker.complete_and_take_next(execution_id, "a", 1, output={"status": 200})
    assert taken is not None and taken["step_key"] == "b"
    assert other.cancel(execution_id) == "cancelled"
    assert worker.complete_and_take_next(execution_id, "b", 1, output={"status": 200}) is None
    done = worker.get_execution(execution_id)
    assert done["status"] == "cancelled"
    runs = {r.step_key: r.status for r in _step_runs(worker, execution_id)}
    assert runs == {"a": "succeeded", "b": "cancelled"}


def test_a_large_output_is_stored_apart_and_read_back(database: sa.Engine) -> None:
    from flowpilot.runtime.engine_support import Limits

    with LocalRuntime(db=database, broker=make_broker("memory://"), threads=2) as rt:
        rt.limits = Limits(inline_payload_bytes=2_000)
        org, plan_hash = _deploy(
            rt,
            "flow: big\nsteps:\n"
            "  - id: make\n    uses: core.transform\n"
            "    with: { items: '${{ [1, 2, 3] }}', map: \"${{ {'n': item, 'pad': 'x' * 1000} }}\" }\n"
            "  - { id: pause, wait: 100ms }\n"
            "outputs: { n: '${{ len(steps.make.output) }}' }\n",
        )
        execution_id = rt.start_execution(org, plan_hash, {})
        done = rt.wait_finished(execution_id, 20)
    assert done["status"] == "succeeded", done["error"]
    assert done["outputs"] == {"n": 3}
    with database.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM payloads")).scalar() == 1
        state = conn.execute(
            sa.text("SELECT state FROM executions WHERE id = :e"), {"e": execution_id}
        ).scalar()
        output = conn.execute(
            sa.text("SELECT output FROM step_runs WHERE step_key = 'make'")
        ).scalar()
    assert len(json.dumps(state)) < 2_000
    assert set(output) == {"$payload", "size"}


def test_every_transition_writes_with_one_of_three_fixed_statements(
    runtime: Runtime, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever a transition does (dispatch, record, log, arm and disarm timers, emit, finish),
    its writes go in a statement whose text never changes, so drivers and PostgreSQL can
    prepare it once per connection."""
    from flowpilot.runtime import persist, transition_sql

    sent: list[str] = []
    fetch = persist.fetch

    def record(conn: sa.Connection, statement: str, params: dict[str, Any]) -> Any:
        if statement.startswith("WITH d AS"):
            sent.append(statement)
        return fetch(conn, statement, params)

    monkeypatch.setattr(persist, "fetch", record)
    done = _run(
        runtime,
        f"""
flow: mixed
inputs: {{ n: number }}
steps:
  - {{ id: hello, uses: core.log, with: {{ message: "n is ${{{{ inputs.n }}}}" }} }}
  - id: get
    uses: http.request
    with: {{ url: "{sink.url}/x/${{{{ inputs.n }}}}" }}
    timeout: 30s
  - {{ id: pause, wait: 10ms }}
  - id: each
    foreach: ${{{{ [1, 2, 3] }}}}
    steps:
      - {{ id: sq, set: {{ last: "${{{{ item * item }}}}" }} }}
outputs: {{ last: "${{{{ vars.last }}}}" }}
""",
        {"n": 3},
    )
    assert done["status"] == "succeeded", done["error"]
    assert done["outputs"] == {"last": 9}
    assert len(sent) >= 4
    fixed = {
        transition_sql.UPDATE_EXECUTION,
        transition_sql.INSERT_EXECUTION,
        transition_sql.WRITES_ONLY,
    }
    assert set(sent) <= fixed
    with runtime.db.connect() as conn:
        logs = conn.execute(
            sa.text("SELECT message FROM execution_logs WHERE execution_id = :e"),
            {"e": done["id"]},
        ).scalars()
        assert "n is 3" in list(logs)
        assert (
            conn.execute(
                sa.text("SELECT count(*) FROM timers WHERE execution_id = :e AND fired_at IS NULL"),
                {"e": done["id"]},
            ).scalar()
            == 0
        )
