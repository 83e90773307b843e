"""Live events over the WebSocket streams: an execution's until it finishes, the
organization's, resuming after the last event when the network drops the connection, renewing
an expired token, and refusals as typed errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from flowpilot.client import AsyncFlowPilot, FlowPilot, Forbidden, NotFound, Unauthorized
from flowpilot.client.models import ExecutionEvent
from tests.client.conftest import FAST_RETRY, CuttableProxy, LiveServer, Member, make_api_key
from tests.client.test_auth import expired_token, login_pair
from tests.server.test_executions import APPROVAL, GREET

Connect = Callable[..., FlowPilot]


def test_an_execution_s_events_arrive_in_order_until_it_finishes(client: FlowPilot) -> None:
    workflow = client.workflows.create(APPROVAL)
    started = client.executions.start(workflow.id)
    events: list[ExecutionEvent] = []
    for event in client.executions.events(started.id):
        events.append(event)
        if event.type == "approval.requested":
            assert event.step == "review" and event.data["message"] == "Ship it?"
            client.executions.approve(started.id, "review")
    types = [e.type for e in events]
    assert types[:2] == ["execution.created", "execution.started"]
    assert types[-1] == "execution.succeeded"
    assert [e.id for e in events] == sorted({e.id for e in events})
    assert {e.execution_id for e in events} == {started.id}
    # Resuming after an event sends exactly the ones after it.
    middle = events[len(events) // 2].id
    assert list(client.executions.events(started.id, after=middle)) == [
        e for e in events if e.id > middle
    ]


def test_a_dropped_connection_resumes_after_the_last_event(
    client: FlowPilot, connect: Connect, api_key: str, proxy: CuttableProxy
) -> None:
    workflow = client.workflows.create(APPROVAL)
    started = client.executions.start(workflow.id)
    through_proxy = FlowPilot(proxy.url, api_key=api_key, retry=FAST_RETRY)
    received: list[ExecutionEvent] = []
    for event in through_proxy.executions.events(started.id):
        received.append(event)
        if event.type == "approval.requested":
            proxy.cut()  # the network drops the socket while the execution goes on
            client.executions.approve(started.id, "review")
    through_proxy.close()
    assert proxy.connections >= 2
    assert received == list(client.executions.events(started.id))
    assert received[-1].type == "execution.succeeded"


def test_the_async_stream_resumes_too(
    live: LiveServer, client: FlowPilot, api_key: str, proxy: CuttableProxy
) -> None:
    workflow = client.workflows.create(APPROVAL)

    async def scenario() -> list[ExecutionEvent]:
        async with (
            AsyncFlowPilot(proxy.url, api_key=api_key, retry=FAST_RETRY) as remote,
            AsyncFlowPilot(live.url, api_key=api_key, retry=FAST_RETRY) as direct,
        ):
            started = await direct.executions.start(workflow.id)
            received = []
            async for event in remote.executions.events(started.id):
                received.append(event)
                if event.type == "approval.requested":
                    proxy.cut()
                    await direct.executions.approve(started.id, "review")
            return received

    received = asyncio.run(scenario())
    assert proxy.connections >= 2
    assert received == list(client.executions.events(received[0].execution_id))
    assert received[-1].type == "execution.succeeded"


def test_the_organization_stream_carries_its_own_executions(
    client: FlowPilot, connect: Connect, make_member: Callable[..., Member]
) -> None:
    other = connect(api_key=make_api_key(make_member()))
    other.workflows.create(GREET)
    other.executions.start("greet", {"who": "elsewhere"}, wait=30)
    client.workflows.create(GREET)
    done = client.executions.start("greet", {"who": "here"}, wait=30)
    seen: list[ExecutionEvent] = []
    for event in client.executions.stream(after=0):
        seen.append(event)
        if event.type == "execution.succeeded":
            break
    assert {e.execution_id for e in seen} == {done.id}
    assert [e.type for e in seen][:2] == ["execution.created", "execution.started"]


def test_a_stream_renews_an_expired_access_token(
    live: LiveServer, connect: Connect, client: FlowPilot, owner: Member
) -> None:
    client.workflows.create(GREET)
    done = client.executions.start("greet", {"who": "Di"}, wait=30)
    user = connect(
        access_token=expired_token(owner), refresh_token=login_pair(live, owner)["refresh_token"]
    )
    events = list(user.executions.events(done.id))
    assert events[-1].type == "execution.succeeded"
    assert user.credentials.generation == 1


def test_refused_streams_raise_typed_errors(
    connect: Connect, client: FlowPilot, owner: Member
) -> None:
    with pytest.raises(NotFound):
        list(client.executions.events("01a21541-0000-7000-8000-000000000000"))
    narrow = connect(api_key=make_api_key(owner, role="viewer", scopes=["workflows:read"]))
    with pytest.raises(Forbidden):
        next(iter(narrow.executions.stream()))
    with pytest.raises(Unauthorized):
        next(iter(connect(api_key="fp_000000000000_nope").executions.stream()))
