"""Problems become typed exceptions, and failed requests are retried only when sending them
again is safe: what a caller relies on when the server refuses or the network fails."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest

from flowpilot.client import (
    AsyncFlowPilot,
    BadRequest,
    ConnectionFailed,
    FlowPilot,
    FlowPilotError,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from flowpilot.client.endpoints import API
from tests.client.conftest import (
    FAST_RETRY,
    AsyncFaultyTransport,
    Faults,
    FaultyTransport,
    LiveServer,
    Member,
    make_api_key,
)
from tests.server.test_executions import APPROVAL, GREET

Connect = Callable[..., FlowPilot]


def test_each_status_is_its_own_exception_with_the_problem_details(
    client: FlowPilot, owner: Member, connect: Connect
) -> None:
    with pytest.raises(NotFound) as missing:
        client.workflows.get("01a21541-0000-7000-8000-000000000000")
    error = missing.value
    assert (error.status, error.code) == (404, "workflow_not_found")
    assert error.request_id and len(error.request_id) == 32
    assert error.instance == f"{API}/workflows/01a21541-0000-7000-8000-000000000000"
    assert str(error).startswith("404 workflow_not_found: ")
    assert f"(request id {error.request_id})" in str(error)

    with pytest.raises(BadRequest) as bad:
        client.workflows.list(page_size=500).first(1)
    assert bad.value.code == "invalid_request"
    assert [(e.field, e.message) for e in bad.value.errors] == [
        ("query.limit", "must be between 1 and 200")
    ]

    viewer = connect(api_key=make_api_key(owner, role="viewer"))
    with pytest.raises(Forbidden) as forbidden:
        viewer.workflows.create(GREET)
    assert forbidden.value.permission == "workflows:write"

    with pytest.raises(Unauthorized) as refused:
        connect(api_key="fp_000000000000_not-a-real-key").me()
    assert refused.value.code == "invalid_api_key"
    assert isinstance(refused.value, FlowPilotError)


def test_idempotent_requests_are_retried_on_503_and_refused_connections(
    connect: Connect, api_key: str
) -> None:
    faults = Faults("503", "connect", "503")
    client = connect(api_key=api_key, transport=FaultyTransport(faults))
    assert client.me().api_key is not None
    assert faults.requests == [f"GET {API}/me"] * 4

    gone = Faults(*["503"] * 10)
    with pytest.raises(ServiceUnavailable) as unavailable:
        connect(api_key=api_key, transport=FaultyTransport(gone)).me()
    assert unavailable.value.detail == "the database is unreachable"
    assert len(gone.seen) == FAST_RETRY.retries + 1


def test_starting_an_execution_is_never_sent_twice(
    connect: Connect, client: FlowPilot, api_key: str
) -> None:
    workflow = client.workflows.create(GREET)
    for fault, error in (("503", ServiceUnavailable), ("connect", ConnectionFailed)):
        faults = Faults(fault)
        flaky = connect(api_key=api_key, transport=FaultyTransport(faults))
        with pytest.raises(error):
            flaky.executions.start(workflow.id, {"who": "once"})
        assert faults.requests == [f"POST {API}/workflows/{workflow.id}/executions"]
    # A save on a named parent is not repeated either (the repeat would be a stale parent).
    faults = Faults("503")
    flaky = connect(api_key=api_key, transport=FaultyTransport(faults))
    with pytest.raises(ServiceUnavailable):
        flaky.workflows.save(workflow.id, GREET + "\n", parent_version_id=workflow.version.id)
    assert len(faults.seen) == 1
    # Nothing reached the server; a plain save (idempotent) goes through on a retry.
    saved = connect(api_key=api_key, transport=FaultyTransport(Faults("503"))).workflows.save(
        workflow.id, GREET + "\n"
    )
    assert saved.created and saved.version.number == 2


def test_an_unreachable_server_is_a_connection_failure_after_the_retries(
    connect: Connect,
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = FlowPilot(f"http://127.0.0.1:{port}", api_key="fp_x_y", retry=FAST_RETRY)
    with pytest.raises(ConnectionFailed) as failed:
        client.workflows.get("01a21541-0000-7000-8000-000000000000")
    assert failed.value.status is None
    assert f"GET http://127.0.0.1:{port}{API}/workflows/" in str(failed.value)
    assert "after 4 tries" in str(failed.value)
    client.close()


def test_a_server_side_wait_extends_the_read_timeout(connect: Connect, api_key: str) -> None:
    client = connect(api_key=api_key, timeout=1.0)
    workflow = client.workflows.create(APPROVAL)
    # The server holds the answer 2 s (the approval never comes): longer than the timeout.
    started = client.executions.start(workflow.id, wait=2)
    assert started.status in ("running", "waiting")


def test_the_async_client_maps_errors_and_retries_the_same_way(
    live: LiveServer, api_key: str
) -> None:
    async def scenario() -> None:
        faults = Faults("connect", "503")
        async with AsyncFlowPilot(
            live.url, api_key=api_key, retry=FAST_RETRY, transport=AsyncFaultyTransport(faults)
        ) as client:
            assert (await client.me()).api_key is not None
            assert faults.requests == [f"GET {API}/me"] * 3
            with pytest.raises(NotFound) as missing:
                await client.executions.get("01a21541-0000-7000-8000-000000000000")
            assert missing.value.code == "execution_not_found"
            faults.pending = ["503"]
            with pytest.raises(ServiceUnavailable):
                await client.workflows.create(GREET)
            assert faults.requests[-1] == f"POST {API}/workflows"
            assert [w async for w in client.workflows.list()] == []

    asyncio.run(scenario())
