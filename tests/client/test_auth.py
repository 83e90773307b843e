"""Credentials: API keys in either header, a user's email and password, and access tokens
renewed by themselves — once per expiry however many requests notice it, keeping each rotated
refresh token, and logging in again when the session is gone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from flowpilot.client import AsyncFlowPilot, FlowPilot, Unauthorized
from flowpilot.client.endpoints import API
from flowpilot.client.models import TokenPair
from flowpilot.server.security import issue_access_token
from tests.client.conftest import FAST_RETRY, Faults, FaultyTransport, LiveServer, Member
from tests.server.conftest import PASSWORD, SECRET_KEY

Connect = Callable[..., FlowPilot]


def expired_token(member: Member) -> str:
    return issue_access_token(SECRET_KEY, member.user_id, member.org_id, -60)[0]


def login_pair(live: LiveServer, member: Member) -> dict[str, str]:
    with live.client() as http:
        response = http.post(
            f"{API}/auth/login", json={"email": member.email, "password": PASSWORD}
        )
    assert response.status_code == 200, response.text
    return response.json()


def refresh_status(live: LiveServer, refresh_token: str) -> tuple[int, str | None]:
    with live.client() as http:
        response = http.post(f"{API}/auth/refresh", json={"refresh_token": refresh_token})
    return response.status_code, response.json().get("code")


def test_api_keys_go_as_bearer_tokens_or_in_x_api_key(connect: Connect, api_key: str) -> None:
    for header, sent in (("Authorization", f"Bearer {api_key}"), ("X-API-Key", api_key)):
        faults = Faults()
        client = connect(api_key=api_key, api_key_header=header, transport=FaultyTransport(faults))
        assert client.me().api_key is not None
        assert faults.seen[0].headers[header] == sent
    with pytest.raises(ValueError, match="starts with 'fp_'"):
        connect(api_key="not-a-key")


def test_email_and_password_log_in_on_the_first_call(connect: Connect, owner: Member) -> None:
    pairs: list[TokenPair] = []
    client = connect(email=owner.email, password=PASSWORD, on_tokens=pairs.append)
    me = client.me()
    assert me.user is not None and me.user.email == owner.email
    assert me.organization is not None and me.organization.id == owner.org_id
    assert len(pairs) == 1 and client.credentials.access_token == pairs[0].access_token

    with pytest.raises(Unauthorized) as wrong:
        connect(email=owner.email, password="wrong password!").me()
    assert wrong.value.code == "invalid_credentials"


def test_an_expired_access_token_is_refreshed_and_the_rotated_token_kept(
    live: LiveServer, connect: Connect, owner: Member
) -> None:
    first = login_pair(live, owner)
    pairs: list[TokenPair] = []
    client = connect(
        access_token=expired_token(owner),
        refresh_token=first["refresh_token"],
        on_tokens=pairs.append,
    )
    assert client.me().user is not None
    [pair] = pairs
    assert client.credentials.refresh_token == pair.refresh_token != first["refresh_token"]
    # The spent token is really spent: presenting it again is reuse, and the server logs the
    # session out — so the client, holding no password, cannot renew any more.
    assert refresh_status(live, first["refresh_token"]) == (401, "refresh_token_reused")
    stale = connect(access_token=expired_token(owner), refresh_token=pair.refresh_token)
    with pytest.raises(Unauthorized) as ended:
        stale.me()
    assert ended.value.code in ("invalid_refresh_token", "refresh_token_reused")


def test_with_a_password_the_client_logs_in_again_once_the_session_is_gone(
    live: LiveServer, connect: Connect, owner: Member
) -> None:
    client = connect(email=owner.email, password=PASSWORD)
    client.me()
    with live.client() as http:  # the session ends elsewhere (a logout from another device)
        http.post(f"{API}/auth/logout", json={"refresh_token": client.credentials.refresh_token})
    client.credentials.access_token = expired_token(owner)
    assert client.me().user is not None
    assert refresh_status(live, client.credentials.refresh_token or "")[0] == 200


def test_a_burst_of_requests_with_an_expired_token_refreshes_once(
    live: LiveServer, connect: Connect, owner: Member
) -> None:
    pairs: list[TokenPair] = []
    faults = Faults()
    client = connect(
        access_token=expired_token(owner),
        refresh_token=login_pair(live, owner)["refresh_token"],
        on_tokens=pairs.append,
        transport=FaultyTransport(faults),
    )
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: client.me(), range(16)))
    assert all(me.user is not None for me in answers)
    assert len(pairs) == 1
    assert faults.requests.count(f"POST {API}/auth/refresh") == 1
    # The session is intact: the kept refresh token still works.
    assert refresh_status(live, pairs[0].refresh_token)[0] == 200


def test_the_async_client_refreshes_once_for_concurrent_tasks(
    live: LiveServer, owner: Member
) -> None:
    pairs: list[TokenPair] = []

    async def scenario() -> None:
        async with AsyncFlowPilot(
            live.url,
            access_token=expired_token(owner),
            refresh_token=login_pair(live, owner)["refresh_token"],
            on_tokens=pairs.append,
            retry=FAST_RETRY,
        ) as client:
            answers = await asyncio.gather(*(client.me() for _ in range(8)))
            assert all(me.user is not None for me in answers)
            await client.logout()
            assert client.credentials.access_token is None

    asyncio.run(scenario())
    assert len(pairs) == 1
    assert refresh_status(live, pairs[0].refresh_token) == (401, "invalid_refresh_token")


def test_logout_ends_the_session_on_the_server(
    live: LiveServer, connect: Connect, owner: Member
) -> None:
    client = connect()
    pair = client.login(owner.email, PASSWORD)
    assert client.me().user is not None
    client.logout()
    assert refresh_status(live, pair.refresh_token) == (401, "invalid_refresh_token")
    with pytest.raises(Unauthorized):
        client.me()
