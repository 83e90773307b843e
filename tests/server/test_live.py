"""Live event streams over real WebSockets: one execution's (in order, closing when it ends),
the organization's, resuming with the last event id, and refusing bad credentials."""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from flowpilot.server.executions import hub
from flowpilot.server.executions.live import OrgRead, SettleGate
from flowpilot.server.security import issue_access_token, new_api_key
from flowpilot.store.ids import uuid7
from tests.server.conftest import SECRET_KEY, LiveServer, Member
from tests.server.test_executions import (
    APPROVAL,
    GREET,
    LOOP,
    make_workflow,
    started,
    until_status,
)

Event = dict[str, Any]


def open_socket(
    live: LiveServer,
    path: str,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    **params: Any,
) -> ClientConnection:
    url = live.url.replace("http://", "ws://") + path
    if params:
        url += "?" + urlencode(params)
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    return connect(url, additional_headers=sent, open_timeout=10)


def receive(
    ws: ClientConnection, until: Callable[[Event], bool] | None = None
) -> tuple[list[Event], int | None]:
    """Events until ``until`` holds for one (then the code is None) or the server closes
    (then the close code)."""
    events: list[Event] = []
    try:
        while True:
            events.append(json.loads(ws.recv(timeout=20)))
            if until is not None and until(events[-1]):
                return events, None
    except ConnectionClosed as closed:
        return events, closed.rcvd.code if closed.rcvd else None


def events_path(execution_id: str) -> str:
    return f"/api/v1/executions/{execution_id}/events"


def test_execution_stream_sends_events_in_order_and_closes_when_done(
    live: LiveServer, owner: Member
) -> None:
    workflow_id = make_workflow(live, owner.org_id, APPROVAL)
    execution_id = started(owner.client, workflow_id)["id"]
    with open_socket(live, events_path(execution_id), owner.token) as ws:
        before, _ = receive(ws, until=lambda e: e["type"] == "approval.requested")
        approve = f"/api/v1/executions/{execution_id}/steps/review/approve"
        assert owner.client.post(approve).status_code == 200
        after, code = receive(ws)
    events = before + after
    assert code == 1000
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert {e["execution_id"] for e in events} == {execution_id}
    types = [e["type"] for e in events]
    assert types[:2] == ["execution.created", "execution.started"]
    assert types[-1] == "execution.succeeded"
    assert types.index("approval.requested") < types.index("execution.succeeded")
    review = [e["type"] for e in events if e["step"] == "review"]
    assert review[0] == "approval.requested" and review[-1] == "step.succeeded"


def test_reconnecting_with_the_last_id_misses_nothing_and_repeats_nothing(
    live: LiveServer, owner: Member
) -> None:
    workflow_id = make_workflow(live, owner.org_id, APPROVAL)
    execution_id = started(owner.client, workflow_id)["id"]
    path = events_path(execution_id)
    with open_socket(live, path, owner.token) as ws:
        first, _ = receive(ws, until=lambda e: e["type"] == "approval.requested")
    # While nobody listens, the execution moves on.
    owner.client.post(f"/api/v1/executions/{execution_id}/steps/review/approve")
    until_status(owner.client, execution_id, "succeeded")
    with open_socket(live, path, owner.token, after=first[-1]["id"]) as ws:
        rest, code = receive(ws)
    with open_socket(live, path, owner.token) as ws:
        everything, _ = receive(ws)
    assert code == 1000
    assert first + rest == everything
    assert rest and rest[-1]["type"] == "execution.succeeded"
    middle = everything[2]["id"]
    header = {"Last-Event-ID": str(middle)}
    with open_socket(live, path, owner.token, headers=header) as ws:
        resumed, _ = receive(ws)
    assert resumed == everything[3:]


def test_org_stream_carries_the_organizations_events_only(
    live: LiveServer, owner: Member, make_member: Callable[..., Member]
) -> None:
    mine = make_workflow(live, owner.org_id, LOOP)
    other = make_member("owner")
    theirs = make_workflow(live, other.org_id, GREET)
    with open_socket(live, "/api/v1/events/stream", owner.token) as ws:
        started(other.client, theirs, inputs={"who": "x"}, wait=20)
        first = started(owner.client, mine, wait=20)["id"]
        events, _ = receive(
            ws, until=lambda e: e["type"] == "execution.succeeded" and e["execution_id"] == first
        )
    assert {e["execution_id"] for e in events} == {first}
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and events[0]["type"] == "execution.created"
    second = started(owner.client, mine, wait=20)["id"]
    with open_socket(live, "/api/v1/events/stream", owner.token, after=ids[-1]) as ws:
        resumed, _ = receive(
            ws, until=lambda e: e["type"] == "execution.succeeded" and e["execution_id"] == second
        )
    assert {e["execution_id"] for e in resumed} == {second}
    assert resumed[0]["type"] == "execution.created" and resumed[0]["id"] > ids[-1]


def test_browsers_authenticate_with_an_access_token_in_the_url(
    live: LiveServer, owner: Member, make_member: Callable[..., Member]
) -> None:
    workflow_id = make_workflow(live, owner.org_id, GREET)
    execution_id = started(owner.client, workflow_id, inputs={"who": "x"}, wait=20)["id"]
    viewer = make_member("viewer", owner.org_id)
    server_log = logging.getLogger("uvicorn.error")
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    level = server_log.level
    server_log.addHandler(handler)
    server_log.setLevel(logging.INFO)
    try:
        path = events_path(execution_id)
        with open_socket(live, path, access_token=viewer.token, after=0) as ws:
            events, code = receive(ws)
    finally:
        server_log.removeHandler(handler)
        server_log.setLevel(level)
    assert code == 1000 and events[-1]["type"] == "execution.succeeded"
    # The server logs each WebSocket it accepts, with its URL: never with the token.
    assert any(f"{path}?after=0" in line for line in lines), lines
    assert not any(viewer.token in line for line in lines)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no credentials", 4401),
        ("bad token", 4401),
        ("api key in the url", 4401),
        ("another organization's execution", 4404),
        ("unknown execution", 4404),
        ("not an id", 4404),
        ("bad after", 4400),
        ("no organization", 4403),
    ],
)
def test_stream_refusals_close_with_a_code(
    live: LiveServer, owner: Member, make_member: Callable[..., Member], case: str, expected: int
) -> None:
    workflow_id = make_workflow(live, owner.org_id, GREET)
    execution_id = started(owner.client, workflow_id, inputs={"who": "x"})["id"]
    path = events_path(execution_id)
    token: str | None = owner.token
    params: dict[str, Any] = {}
    if case == "no credentials":
        token = None
    elif case == "bad token":
        token = "not-a-token"
    elif case == "api key in the url":
        token = None
        params["access_token"] = _api_key(live, owner.org_id)
    elif case == "another organization's execution":
        token = make_member("owner").token
    elif case == "unknown execution":
        path = events_path(str(uuid7()))
    elif case == "not an id":
        path = events_path("nope")
    elif case == "bad after":
        params["after"] = "yesterday"
    elif case == "no organization":
        token, _ = issue_access_token(SECRET_KEY, make_member("owner").user_id, None, 900)
    with open_socket(live, path, token, **params) as ws:
        assert receive(ws)[1] == expected


def test_an_api_key_in_the_header_is_accepted(live: LiveServer, owner: Member) -> None:
    workflow_id = make_workflow(live, owner.org_id, GREET)
    execution_id = started(owner.client, workflow_id, inputs={"who": "x"}, wait=20)["id"]
    key = _api_key(live, owner.org_id)
    with open_socket(live, events_path(execution_id), key) as ws:
        events, code = receive(ws)
    assert code == 1000 and events


def test_sockets_share_one_listen_connection(live: LiveServer, owner: Member) -> None:
    with contextlib.ExitStack() as stack:
        sockets = [
            stack.enter_context(open_socket(live, "/api/v1/events/stream", owner.token))
            for _ in range(4)
        ]
        workflow_id = make_workflow(live, owner.org_id, GREET)
        execution_id = started(owner.client, workflow_id, inputs={"who": "x"}, wait=20)["id"]
        for ws in sockets:  # every socket is subscribed and hears the execution
            receive(ws, until=lambda e: e["execution_id"] == execution_id)
        with live.db.connect() as conn:
            listeners = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND query = 'LISTEN flowpilot_events'"
                )
            ).scalar()
        assert listeners == 1


def _api_key(live: LiveServer, org_id: uuid.UUID) -> str:
    key, prefix, key_hash = new_api_key()
    with live.db.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO api_keys (id, org_id, name, prefix, key_hash, role) "
                "VALUES (:id, :o, 'watcher', :p, :h, 'viewer')"
            ),
            {"id": uuid7(), "o": org_id, "p": prefix, "h": key_hash},
        )
    return key


def _read(allocated: int, xmin: int, xmax: int, ids: list[int]) -> OrgRead:
    events = [{"id": i, "execution_id": "e", "type": "t", "step": None} for i in ids]
    return OrgRead(allocated, xmin, xmax, events)


def test_org_stream_holds_events_while_a_lower_id_may_still_commit() -> None:
    now = [0.0]
    gate = SettleGate(max_hold=5.0, clock=lambda: now[0])
    # Ids up to 10 are handed out; transaction 103 (holding id 11, say) is still open.
    assert gate.admit(_read(10, 103, 105, [9, 10])) == ([], True)
    now[0] += 0.05
    assert gate.admit(_read(12, 103, 106, [9, 10, 12])) == ([], True)
    now[0] += 0.05
    ready, held = gate.admit(_read(12, 106, 107, [9, 10, 11, 12]))
    assert [e["id"] for e in ready] == [9, 10] and held
    now[0] += 0.05
    ready, held = gate.admit(_read(12, 107, 107, [11, 12]))
    assert [e["id"] for e in ready] == [11, 12] and not held
    # A transaction that stays open holds the stream back for max_hold at most.
    gate.admit(_read(20, 108, 110, [20]))
    now[0] += 0.05
    assert gate.admit(_read(20, 108, 111, [20])) == ([], True)
    now[0] += 5.0
    ready, _ = gate.admit(_read(20, 108, 112, [20]))
    assert [e["id"] for e in ready] == [20]


def test_the_listener_disconnects_once_no_socket_needs_it(
    live: LiveServer, owner: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub, "LINGER_SECONDS", 0.0)

    def listeners() -> int:
        with live.db.connect() as conn:
            return int(
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND query = 'LISTEN flowpilot_events'"
                    )
                ).scalar_one()
            )

    with open_socket(live, "/api/v1/events/stream", owner.token) as ws:
        workflow_id = make_workflow(live, owner.org_id, GREET)
        execution_id = started(owner.client, workflow_id, inputs={"who": "x"}, wait=20)["id"]
        receive(ws, until=lambda e: e["execution_id"] == execution_id)
        assert listeners() == 1
    deadline = time.monotonic() + 15
    while listeners() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert listeners() == 0
