"""Reliability with real processes: killed workers, a restarted Redis, timers without a
scheduler, and a message that fails every delivery. Real PostgreSQL, real Redis, real HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from flowpilot.compiler.pipeline import compile_source
from flowpilot.runtime.broker import DramatiqDispatcher, install, make_broker
from flowpilot.runtime.scheduler import Scheduler
from flowpilot.runtime.service import Runtime
from tests.pg import service_url

pytestmark = pytest.mark.slow


class IdempotentSink:
    """An HTTP API that applies each Idempotency-Key once, as a payment API would."""

    def __init__(self, delay: float = 0.0) -> None:
        self.applied: Counter[str] = Counter()
        self.requests = 0
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                key = self.headers.get("Idempotency-Key") or "none"
                time.sleep(delay)
                with sink.lock:
                    sink.requests += 1
                    if key not in sink.applied:
                        sink.applied[key] += 1
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


FLOW = """
flow: pay
inputs: {{ n: number }}
steps:
  - id: charge
    uses: http.request
    with: {{ url: "{url}/charge", method: POST, json: {{ n: "${{{{ inputs.n }}}}" }} }}
  - id: note
    set: {{ done: true }}
  - id: receipt
    uses: http.request
    with: {{ url: "{url}/receipt", method: POST }}
vars: {{ done: false }}
outputs: {{ n: "${{{{ inputs.n }}}}" }}
"""


def _env(database: sa.Engine, redis_url: str, namespace: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        FLOWPILOT_DATABASE_URL=database.url.render_as_string(hide_password=False),
        FLOWPILOT_BROKER_URL=redis_url,
        FLOWPILOT_BROKER_NAMESPACE=namespace,
        FLOWPILOT_STEP_LEASE_SECONDS="2",
        FLOWPILOT_WORKER_IDLE_WAIT_MS="200",
    )
    return env


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "flowpilot.cli.main", "worker", "--threads", "4"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture
def redis_url() -> str:
    return service_url("FLOWPILOT_TEST_REDIS_URL")


@pytest.fixture
def namespace(monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"fp-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("FLOWPILOT_BROKER_NAMESPACE", name)
    return name


@pytest.fixture
def sink() -> Iterator[IdempotentSink]:
    server = IdempotentSink(delay=0.005)
    yield server
    server.close()


def _deploy(runtime: Runtime, source: str) -> tuple[str, str]:
    result = compile_source(source, "pay.flow.yaml")
    assert result.plan is not None, result.diagnostics
    org = runtime.ensure_org()
    runtime.save_plan(org, result.plan, result.plan_hash)
    return org, result.plan_hash


def _statuses(database: sa.Engine) -> Counter[str]:
    with database.connect() as conn:
        return Counter(conn.execute(sa.text("SELECT status FROM executions")).scalars())


def _wait_all(database: sa.Engine, count: int, timeout: float) -> Counter[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = _statuses(database)
        if sum(statuses[s] for s in ("succeeded", "failed", "cancelled")) >= count:
            return statuses
        time.sleep(0.2)
    return _statuses(database)


def test_killing_a_worker_mid_run_loses_nothing_and_applies_nothing_twice(
    database: sa.Engine, redis_url: str, namespace: str, sink: IdempotentSink
) -> None:
    env = _env(database, redis_url, namespace)
    broker = make_broker(redis_url)
    runtime = Runtime(database, dispatcher=DramatiqDispatcher(broker))
    install(runtime)
    scheduler = Scheduler(runtime, interval=0.2, requeue_after=3)
    scheduler.start_thread()
    workers = [_worker(env), _worker(env)]
    try:
        org, plan_hash = _deploy(runtime, FLOW.format(url=sink.url))
        ids = [runtime.start_execution(org, plan_hash, {"n": i}) for i in range(200)]
        deadline = time.monotonic() + 60
        while sink.requests < 60 and time.monotonic() < deadline:
            time.sleep(0.02)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait()
        time.sleep(0.5)
        workers[0] = _worker(env)
        statuses = _wait_all(database, len(ids), timeout=120)
    finally:
        scheduler.stop()
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(10)
        broker.close()
    assert statuses == Counter({"succeeded": 200}), statuses
    with database.connect() as conn:
        runs = conn.execute(
            sa.text(
                "SELECT step_key, count(*) FILTER (WHERE status = 'succeeded') AS ok "
                "FROM step_runs GROUP BY execution_id, step_key"
            )
        ).all()
    assert all(r.ok == 1 for r in runs)
    assert len(runs) == 600
    assert len(sink.applied) == 400  # one key per side effect, each applied once
    assert set(sink.applied.values()) == {1}


def test_a_restarted_redis_delays_work_but_loses_none(
    database: sa.Engine, namespace: str, sink: IdempotentSink, tmp_path: Path
) -> None:
    if not Path("/usr/bin/redis-server").exists():
        if os.environ.get("FLOWPILOT_REQUIRE_SERVICES"):
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed: this test restarts a private Redis")
    port = _free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"

    def start_redis() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [
                "/usr/bin/redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp_path),
            ],
            stdout=subprocess.DEVNULL,
        )
        time.sleep(0.3)
        return process

    redis_process = start_redis()
    env = _env(database, redis_url, namespace)
    broker = make_broker(redis_url)
    runtime = Runtime(database, dispatcher=DramatiqDispatcher(broker))
    install(runtime)
    scheduler = Scheduler(runtime, interval=0.2, requeue_after=2)
    scheduler.start_thread()
    worker = _worker(env)
    try:
        org, plan_hash = _deploy(runtime, FLOW.format(url=sink.url))
        ids = [runtime.start_execution(org, plan_hash, {"n": i}) for i in range(40)]
        time.sleep(0.3)
        redis_process.kill()  # every queued message is gone with it
        redis_process.wait()
        time.sleep(1)
        redis_process = start_redis()
        statuses = _wait_all(database, len(ids), timeout=90)
    finally:
        scheduler.stop()
        worker.terminate()
        worker.wait(10)
        broker.close()
        redis_process.kill()
        redis_process.wait()
    assert statuses == Counter({"succeeded": 40}), statuses
    assert set(sink.applied.values()) == {1}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_timer_due_while_no_scheduler_runs_fires_when_one_starts(database: sa.Engine) -> None:
    runtime = Runtime(database, dispatcher=None)  # no delayed message: only the sweep fires it
    org, plan_hash = _deploy(runtime, "flow: later\nsteps:\n  - { id: pause, wait: 300ms }\n")
    execution_id = runtime.start_execution(org, plan_hash, {})
    time.sleep(0.6)
    assert runtime.get_execution(execution_id)["status"] == "waiting"
    scheduler = Scheduler(runtime)
    assert scheduler.is_leader()
    assert scheduler.run_once()["timers"] == 1
    scheduler.resign()
    assert runtime.get_execution(execution_id)["status"] == "succeeded"


def test_a_message_that_fails_every_delivery_ends_in_the_dead_letter_queue(
    database: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowpilot.runtime import worker as worker_module
    from flowpilot.runtime.local import LocalRuntime

    deliveries = Counter[str]()

    def broken(runtime: Runtime, execution_id: str, step_key: str, attempt: int) -> None:
        deliveries[step_key] += 1
        raise ConnectionError("the database went away")

    monkeypatch.setattr(worker_module, "execute_step", broken)
    with LocalRuntime(db=database, broker=make_broker("memory://"), threads=2) as runtime:
        org, plan_hash = _deploy(
            runtime,
            "flow: doomed\nsteps:\n  - { id: call, uses: http.request, with: { url: 'http://127.0.0.1:9/' } }\n",
        )
        execution_id = runtime.start_execution(org, plan_hash, {})
        done = runtime.wait_finished(execution_id, 30)
        time.sleep(0.5)  # no further deliveries: it is not looping
        assert deliveries["call"] == 5
    assert done["status"] == "failed"
    assert done["error"]["type"] == "delivery_failed"
    with database.connect() as conn:
        letters = conn.execute(sa.text("SELECT actor, error FROM dead_letters")).all()
    assert len(letters) == 1
    assert letters[0].actor == "flowpilot_run_step_default"
    assert "the database went away" in letters[0].error
