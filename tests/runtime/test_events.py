"""The event stream: in order, live, and resumable from the last id a client saw."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from flowpilot.compiler.pipeline import compile_source
from flowpilot.runtime.broker import make_broker
from flowpilot.runtime.events import events_after, follow
from flowpilot.runtime.local import LocalRuntime
from flowpilot.runtime.service import Runtime

FLOW = """
flow: evented
steps:
  - { id: first, set: { x: 1 } }
  - { id: pause, wait: 400ms }
  - { id: last, set: { x: 2 } }
"""


@pytest.fixture
def runtime(database: sa.Engine) -> Iterator[Runtime]:
    with LocalRuntime(db=database, broker=make_broker("memory://"), threads=2) as rt:
        yield rt


def test_follow_yields_events_as_they_commit_and_resumes_without_gaps(runtime: Runtime) -> None:
    result = compile_source(FLOW, "e.flow.yaml")
    org = runtime.ensure_org()
    runtime.save_plan(org, result.plan, result.plan_hash)
    seen: list[dict] = []
    ready = threading.Event()

    def listen() -> None:
        ready.set()
        for event in follow(runtime.db, org, poll=0.2, stop_after=2.0):
            seen.append(event)
            if event["type"] == "execution.succeeded":
                return

    listener = threading.Thread(target=listen)
    listener.start()
    ready.wait()
    execution_id = runtime.start_execution(org, result.plan_hash, {})
    listener.join(15)
    assert not listener.is_alive()
    types = [e["type"] for e in seen]
    assert types[0] == "execution.created"
    assert types[-1] == "execution.succeeded"
    assert "step.waiting" in types
    ids = [e["id"] for e in seen]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert {e["execution_id"] for e in seen} == {execution_id}

    # A client that saw the first three events reconnects and gets exactly the rest.
    rest = events_after(runtime.db, org, after_id=ids[2], execution_id=execution_id)
    assert [e["id"] for e in rest] == ids[3:]
    other_org = runtime.ensure_org("other", "Other")
    assert events_after(runtime.db, other_org) == []
