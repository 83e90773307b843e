"""Executions through the client, sync and async, against the live server: start (with the
server holding the answer, or waiting over the live stream), list, logs, cancel, retry,
approvals and dry runs."""

from __future__ import annotations

import asyncio

import pytest

from flowpilot.client import (
    AsyncFlowPilot,
    Conflict,
    FlowPilot,
    NotFound,
    ValidationFailed,
    WaitTimeout,
)
from tests.client.conftest import FAST_RETRY, LiveServer
from tests.server.test_executions import APPROVAL, FAILS, GREET, NOTIFY, WAITS


def until_approval_requested(client: FlowPilot, execution_id: object) -> str:
    """Follow the execution's events until it asks for an approval; the step asked for."""
    for event in client.executions.events(str(execution_id)):
        if event.type == "approval.requested":
            return str(event.step)
    raise AssertionError("the execution finished without asking for an approval")


def test_start_with_wait_returns_the_finished_execution(client: FlowPilot) -> None:
    client.workflows.create(GREET)
    done = client.executions.start("greet", {"who": "Ada", "token": "s3cret"}, wait=30)
    assert done.finished and done.status == "succeeded"
    assert done.outputs == {"greeting": "ADA", "times": 1}
    assert done.inputs["token"] == "***"
    assert done.trigger["by"]["type"] == "api_key"
    assert done.links.self_ == f"/api/v1/executions/{done.id}"


def test_run_waits_over_the_live_stream_and_returns_every_step(client: FlowPilot) -> None:
    wf = client.workflows.create(GREET)
    done = client.executions.run(wf, {"who": "Bo", "times": 2}, timeout=60)
    assert done.status == "succeeded" and done.outputs == {"greeting": "BO", "times": 2}
    assert [s.step_key for s in done.steps] == ["hello", "shout"]
    assert done.steps[0].node_type == "core.log" and done.steps[0].duration_ms is not None
    logs = list(client.executions.logs(done.id))
    assert [line.message for line in logs] == ["hello Bo"]


def test_bad_inputs_are_named_one_by_one(client: FlowPilot) -> None:
    wf = client.workflows.create(GREET)
    with pytest.raises(ValidationFailed) as refused:
        client.executions.start(wf.id, {"who": 42, "colour": "red"})
    assert refused.value.code == "invalid_inputs"
    assert [e.field for e in refused.value.errors] == ["inputs.colour", "inputs.who"]


def test_list_filters_and_pages_through_executions(client: FlowPilot) -> None:
    greet = client.workflows.create(GREET)
    fails = client.workflows.create(FAILS)
    ok = [client.executions.start(greet.id, {"who": f"n{i}"}, wait=30).id for i in range(5)]
    bad = client.executions.start(fails.id, wait=30)
    assert bad.status == "failed" and bad.error and bad.error["message"] == "it broke"

    listed = client.executions.list(workflow_id=greet.id, page_size=2)
    assert [len(p.items) for p in listed.pages()] == [2, 2, 1]
    assert [e.id for e in listed] == list(reversed(ok))  # newest first
    failed = list(client.executions.list(status=["failed", "timed_out"]))
    assert [(e.id, e.error_message) for e in failed] == [(bad.id, "it broke")]
    assert [e.id for e in client.executions.list(flow_id="fails")] == [bad.id]


def test_cancel_then_retry_from_a_step(client: FlowPilot) -> None:
    wf = client.workflows.create(WAITS)
    running = client.executions.start(wf.id)
    assert running.status == "waiting"
    cancelled = client.executions.cancel(running.id)
    assert cancelled.status == "cancelled" and cancelled.error is not None
    with pytest.raises(Conflict) as again:
        client.executions.cancel(running.id)
    assert again.value.code == "execution_finished"
    assert again.value.extra["execution_status"] == "cancelled"

    retried = client.executions.retry(running.id, from_step="pause")
    assert retried.id != running.id
    assert retried.trigger["type"] == "retry" and retried.trigger["of"] == str(running.id)
    client.executions.cancel(retried.id)
    with pytest.raises(ValidationFailed) as unknown:
        client.executions.retry(running.id, from_step="nowhere")
    assert unknown.value.code == "step_not_found"


def test_approve_and_reject_waiting_approvals(client: FlowPilot) -> None:
    wf = client.workflows.create(APPROVAL)
    first = client.executions.start(wf.id)
    assert until_approval_requested(client, first.id) == "review"
    client.executions.approve(first.id, "review", comment="ship it")
    approved = client.executions.wait(first.id, timeout=60)
    assert approved.status == "succeeded"
    assert approved.outputs["approved"] is True and approved.outputs["comment"] == "ship it"
    with pytest.raises(Conflict) as decided:
        client.executions.reject(first.id, "review")
    assert decided.value.code == "not_waiting_for_approval"

    second = client.executions.start(wf.id)
    until_approval_requested(client, second.id)
    client.executions.reject(second.id, "review")
    rejected = client.executions.wait(second.id, timeout=60)
    assert rejected.outputs["approved"] is False
    assert rejected.outputs["by"].startswith("api key")


def test_dry_run_uses_the_mocks_given(client: FlowPilot) -> None:
    wf = client.workflows.create(NOTIFY)
    mocks = {"notify": {"status": 202, "delivery_id": "dlv_1", "elapsed_ms": 3}}
    done = client.executions.start(wf.id, dry_run=True, mocks=mocks, wait=30)
    assert done.dry_run and done.outputs == {"status": 202, "delivery": "dlv_1"}
    with pytest.raises(ValidationFailed) as refused:
        client.executions.start(wf.id, dry_run=True, mocks={"note": {}})
    assert refused.value.code == "invalid_mocks"


def test_waiting_gives_up_after_the_timeout_and_the_execution_goes_on(
    client: FlowPilot,
) -> None:
    wf = client.workflows.create(APPROVAL)
    started = client.executions.start(wf.id)
    with pytest.raises(WaitTimeout):
        client.executions.wait(started.id, timeout=0.5)
    assert client.executions.get(started.id).status == "waiting"
    with pytest.raises(NotFound) as missing:
        client.executions.get("01a21541-0000-7000-8000-000000000000")
    assert missing.value.code == "execution_not_found"


def test_the_async_client_runs_and_steers_executions(live: LiveServer, api_key: str) -> None:
    async def scenario() -> None:
        async with AsyncFlowPilot(live.url, api_key=api_key, retry=FAST_RETRY) as client:
            greet = await client.workflows.create(GREET)
            approval = await client.workflows.create(APPROVAL)
            done = await client.executions.run("greet", {"who": "Cy"}, timeout=60)
            assert done.outputs == {"greeting": "CY", "times": 1}
            waiting = await client.executions.start(approval.id)
            waiter = asyncio.ensure_future(client.executions.wait(waiting.id, timeout=60))
            async for event in client.executions.events(waiting.id):
                if event.type == "approval.requested":
                    break
            decided = await client.executions.approve(waiting.id, "review")
            finished = await waiter
            assert decided.id == waiting.id
            assert finished.status == "succeeded" and finished.outputs["approved"] is True
            ids = [e.id async for e in client.executions.list(workflow_id=greet.id)]
            assert ids == [done.id]
            assert [x.message async for x in client.executions.logs(done.id)] == ["hello Cy"]

    asyncio.run(scenario())
