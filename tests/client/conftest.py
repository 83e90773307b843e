"""The client's tests run against the real server of tests/server (its ``live`` fixture:
the app under uvicorn on a fresh database), through API keys and users made there."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from flowpilot.client import FlowPilot, RetryPolicy
from tests.server import conftest as server
from tests.server.conftest import LiveServer, Member

# The server's fixtures, for the tests here: one live server per test module.
live = server.live
make_member = server.make_member
owner = server.owner

#: Retries without the production back-off, so tests of failures stay fast.
FAST_RETRY = RetryPolicy(retries=3, backoff=0.01, max_backoff=0.05)


def make_api_key(member: Member, role: str = "admin", scopes: list[str] | None = None) -> str:
    """A new API key of ``member``'s organization."""
    response = member.client.post(
        "/api/v1/api-keys",
        json={"name": f"client tests {role}", "role": role, "scopes": scopes or []},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


@pytest.fixture
def api_key(owner: Member) -> str:
    return make_api_key(owner)


@pytest.fixture
def connect(live: LiveServer) -> Iterator[Callable[..., FlowPilot]]:
    """Clients of the live server (closed after the test); arguments as for FlowPilot."""
    made: list[FlowPilot] = []

    def make(**kwargs: object) -> FlowPilot:
        kwargs.setdefault("retry", FAST_RETRY)
        client = FlowPilot(live.url, **kwargs)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(connect: Callable[..., FlowPilot], api_key: str) -> FlowPilot:
    """A client authenticated with an admin API key of a fresh organization."""
    return connect(api_key=api_key)
