"""Accepting an execution without starting it (what triggers under load use): one atomic
statement, started by a worker after the commit, or by the scheduler if the message is lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from flowpilot.compiler.pipeline import compile_source
from flowpilot.runtime.broker import make_broker
from flowpilot.runtime.inputs import InputError
from flowpilot.runtime.local import LocalRuntime
from flowpilot.runtime.service import Dispatcher, Runtime, StartSender

FLOW = """\
flow: accepted
inputs:
  who: { type: string }
steps:
  - { id: greet, set: { text: "${{ 'hi ' ~ inputs.who }}" } }
  - { id: pause, wait: 10ms }
outputs:
  text: ${{ vars.text }}
"""


@pytest.fixture
def runtime(database: sa.Engine) -> Iterator[Runtime]:
    with LocalRuntime(db=database, broker=make_broker("memory://"), threads=2) as rt:
        yield rt


def _deploy(rt: Runtime, source: str = FLOW) -> tuple[str, str]:
    result = compile_source(source, "flow.flow.yaml")
    assert result.plan is not None and result.plan_hash is not None, result.diagnostics
    org = rt.ensure_org()
    rt.save_plan(org, result.plan, result.plan_hash)
    return org, result.plan_hash


def _accept(rt: Runtime, org: str, plan_hash: str, inputs: dict, **kwargs: object) -> str:
    with rt.transaction() as (conn, post):
        return rt.accept_execution(conn, org, plan_hash, inputs, post=post, **kwargs)  # type: ignore[arg-type]


def _events(rt: Runtime, execution_id: str) -> list[str]:
    with rt.db.connect() as conn:
        return list(
            conn.execute(
                sa.text("SELECT type FROM execution_events WHERE execution_id = :e ORDER BY id"),
                {"e": execution_id},
            ).scalars()
        )


def test_an_accepted_execution_is_pending_then_started_by_a_worker(runtime: Runtime) -> None:
    org, plan_hash = _deploy(runtime)
    ids = [_accept(runtime, org, plan_hash, {"who": f"n{i}"}) for i in range(3)]
    done = [runtime.wait_finished(i, 20) for i in ids]
    assert [d["status"] for d in done] == ["succeeded"] * 3
    assert done[0]["outputs"] == {"text": "hi n0"}
    events = _events(runtime, ids[0])
    assert events[0] == "execution.created" and "execution.started" in events
    assert events[-1] == "execution.succeeded"


def test_a_lost_start_message_is_made_good_by_the_scheduler(
    runtime: Runtime, database: sa.Engine
) -> None:
    org, plan_hash = _deploy(runtime)
    silent = Runtime(database)  # no dispatcher: nothing tells a worker
    silent.save_plan(org, *_plan(runtime, org, plan_hash))
    execution_id = _accept(silent, org, plan_hash, {"who": "late"})
    assert runtime.get_execution(execution_id)["status"] == "pending"
    assert runtime.wait_finished(execution_id, 20)["status"] == "succeeded"


def _plan(rt: Runtime, org: str, plan_hash: str) -> tuple[dict, str]:
    with rt.db.connect() as conn:
        return rt.plan(conn, org, plan_hash), plan_hash


def test_bad_inputs_are_refused_before_anything_is_written(runtime: Runtime) -> None:
    org, plan_hash = _deploy(runtime)
    with pytest.raises(InputError) as raised:
        _accept(runtime, org, plan_hash, {"who": 42})
    assert "who" in raised.value.problems
    with runtime.db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM executions")).scalar() == 0


def test_the_extra_write_commits_with_the_execution_or_neither_does(runtime: Runtime) -> None:
    org, plan_hash = _deploy(runtime)
    guard = (
        "INSERT INTO webhook_deliveries (route, signature) VALUES (:a_route, :a_sig)",
        {"a_route": "o/f/p", "a_sig": "abc"},
    )
    first = _accept(runtime, org, plan_hash, {"who": "a"}, also=guard)
    with pytest.raises(sa.exc.IntegrityError):
        _accept(runtime, org, plan_hash, {"who": "b"}, also=guard)
    with runtime.db.connect() as conn:
        ids = list(conn.execute(sa.text("SELECT id FROM executions")).scalars())
    assert [str(i) for i in ids] == [first]


def test_a_flow_with_a_concurrency_setting_must_be_judged_on_arrival(runtime: Runtime) -> None:
    org, plan_hash = _deploy(
        runtime, FLOW.replace("inputs:", "concurrency: { limit: 1, on_limit: fail }\ninputs:", 1)
    )
    with pytest.raises(ValueError, match="concurrency"):
        _accept(runtime, org, plan_hash, {"who": "x"})


def test_start_messages_are_merged_by_flow_and_sent_in_parts() -> None:
    release = threading.Event()
    sent: list[tuple[str, str, int]] = []

    class Recording(Dispatcher):
        def send_step(self, execution_id: str, step_key: str, attempt: int, priority: str) -> None:
            raise AssertionError("no steps here")

        def send_start(self, org_id: str, flow_id: str, count: int = 1) -> None:
            release.wait(10)
            sent.append((org_id, flow_id, count))

    sender = StartSender(Recording())
    sender.add([("o", "f")])
    time.sleep(0.2)  # the first message is on its way (held by the dispatcher)
    sender.add([("o", "f")] * 19 + [("o", "g")])
    release.set()
    deadline = time.monotonic() + 10
    while sum(c for *_, c in sent) < 21 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sent == [("o", "f", 1), ("o", "f", 8), ("o", "f", 8), ("o", "f", 3), ("o", "g", 1)]
