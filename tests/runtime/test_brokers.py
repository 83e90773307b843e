"""The same flow over each real broker: Redis and RabbitMQ, with an in-process worker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from flowpilot.compiler.pipeline import compile_source
from flowpilot.runtime.broker import make_broker
from flowpilot.runtime.local import LocalRuntime
from tests.pg import service_url
from tests.runtime.test_service import Sink


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink()
    yield server
    server.close()


@pytest.mark.parametrize("env", ["FLOWPILOT_TEST_REDIS_URL", "FLOWPILOT_TEST_AMQP_URL"])
def test_a_flow_with_a_retry_and_a_wait_runs_over_the_broker(
    env: str, database: sa.Engine, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = service_url(env)
    monkeypatch.setenv("FLOWPILOT_BROKER_NAMESPACE", f"fp-test-{uuid.uuid4().hex[:8]}")
    sink.fail_first = 1
    source = f"""
flow: over-broker
steps:
  - id: first
    uses: http.request
    with: {{ url: "{sink.url}/one", method: POST }}
    retry: {{ max_attempts: 2, delay: 50ms }}
  - {{ id: pause, wait: 200ms }}
  - id: fan
    parallel:
      - {{ id: left, uses: http.request, with: {{ url: "{sink.url}/left" }} }}
      - {{ id: right, uses: http.request, with: {{ url: "{sink.url}/right" }} }}
outputs:
  paths: ${{{{ [steps.left.output.json.path, steps.right.output.json.path] }}}}
"""
    result = compile_source(source, "b.flow.yaml")
    assert result.plan is not None
    with LocalRuntime(db=database, broker=make_broker(url), threads=4) as runtime:
        org = runtime.ensure_org()
        runtime.save_plan(org, result.plan, result.plan_hash)
        execution_id = runtime.start_execution(org, result.plan_hash, {})
        done = runtime.wait_finished(execution_id, 30)
    assert done["status"] == "succeeded", done["error"]
    assert done["outputs"] == {"paths": ["/left", "/right"]}
    assert [r["path"] for r in sink.requests][:2] == ["/one", "/one"]
