"""The server under test: the real app served by uvicorn on 127.0.0.1 over real HTTP, one per
test module, on its own fresh database, with an in-process worker on the memory broker.

Tests stay independent by working in organizations of their own: ``make_member`` creates a
user with a role in a new (or a given) organization directly in the database and returns an
``httpx.Client`` authenticated as them, so tests of one domain do not depend on another's
endpoints. The auth tests drive register/login themselves.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from flowpilot.runtime.broker import make_broker
from flowpilot.runtime.local import LocalRuntime
from flowpilot.runtime.service import Runtime
from flowpilot.server.app import create_app
from flowpilot.server.config import Settings
from flowpilot.server.security import hash_password, issue_access_token
from flowpilot.store.ids import uuid7
from tests.pg import fresh_database

SECRET_KEY = "test-secret-key-" + "x" * 32
PASSWORD = "correct horse battery staple"
_PASSWORD_HASH = hash_password(PASSWORD)  # hashing is deliberately slow: once per session


@dataclass
class LiveServer:
    url: str
    db: sa.Engine
    runtime: Runtime
    settings: Settings

    def client(self, token: str | None = None, **kwargs: object) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]


@dataclass
class Member:
    user_id: uuid.UUID
    org_id: uuid.UUID
    org_slug: str
    email: str
    role: str
    token: str
    client: httpx.Client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(settings: Settings, runtime: Runtime) -> Iterator[str]:
    """Run the app in a uvicorn thread; yields its base URL."""
    app = create_app(settings, runtime=runtime)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    for db in fresh_database():
        settings = Settings(secret_key=SECRET_KEY, webhook_replay_seconds=300)
        with LocalRuntime(db=db, broker=make_broker("memory://"), threads=4) as runtime:
            for url in serve(settings, runtime):
                yield LiveServer(url=url, db=db, runtime=runtime, settings=settings)


def create_member(live: LiveServer, role: str = "owner", org_id: uuid.UUID | None = None) -> Member:
    """A user with ``role`` in ``org_id`` (a new organization when None), straight in the DB."""
    user_id = uuid7()
    email = f"user-{user_id.hex[-12:]}@example.com"
    with live.db.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO users (id, email, name, password_hash) VALUES (:id, :e, :n, :p)"),
            {"id": user_id, "e": email, "n": f"User {user_id.hex[-6:]}", "p": _PASSWORD_HASH},
        )
        if org_id is None:
            org_id = uuid7()
            conn.execute(
                sa.text(
                    "INSERT INTO organizations (id, slug, name, created_by) "
                    "VALUES (:id, :s, :n, :u)"
                ),
                {"id": org_id, "s": f"org-{org_id.hex[-12:]}", "n": "Test org", "u": user_id},
            )
        conn.execute(
            sa.text("INSERT INTO org_members (org_id, user_id, role) VALUES (:o, :u, :r)"),
            {"o": org_id, "u": user_id, "r": role},
        )
        slug = conn.execute(
            sa.text("SELECT slug FROM organizations WHERE id = :o"), {"o": org_id}
        ).scalar_one()
    token, _ = issue_access_token(SECRET_KEY, user_id, org_id, 900)
    return Member(user_id, org_id, slug, email, role, token, live.client(token))


@pytest.fixture
def make_member(live: LiveServer) -> Iterator[Callable[..., Member]]:
    made: list[Member] = []

    def make(role: str = "owner", org_id: uuid.UUID | None = None) -> Member:
        member = create_member(live, role, org_id)
        made.append(member)
        return member

    yield make
    for member in made:
        member.client.close()


@pytest.fixture
def owner(make_member: Callable[..., Member]) -> Member:
    """An owner of a fresh organization."""
    return make_member("owner")


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> dict:
    """The response is an RFC 9457 problem with ``status`` (and ``code``); returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body = response.json()
    assert body["status"] == status and body["type"].startswith("urn:flowpilot:error:")
    assert body["request_id"] == response.headers["x-request-id"]
    if code is not None:
        assert body["code"] == code, body
    return body


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """Set a secret for the server (``FLOWPILOT_SECRET_<NAME>``); returns its value."""

    def make(name: str) -> str:
        value = f"s3cret-{uuid.uuid4().hex}"
        monkeypatch.setenv(f"FLOWPILOT_SECRET_{name}", value)
        return value

    return make
