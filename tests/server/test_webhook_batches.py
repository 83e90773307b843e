"""Concurrent webhook deliveries are committed together: each still gets its own answer and its
own execution, a signature is accepted once even within one batch, a row PostgreSQL refuses
fails alone, and a published change reaches the next delivery."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import sqlalchemy as sa

from flowpilot.server.triggers.webhooks import sign
from tests.server.conftest import LiveServer, Member, assert_problem
from tests.server.triggers_support import executions_of, publish

ECHO = """
flow: echo
inputs:
  n: { type: integer }
triggers:
  - id: incoming
    type: webhook
    path: echo
    AUTH
    inputs: { n: "${{ trigger.body.n }}" }
steps:
  - { id: keep, set: { n: "${{ inputs.n }}" } }
outputs: { n: "${{ inputs.n }}" }
"""


def _url(member: Member) -> str:
    return f"/hooks/{member.org_slug}/echo/echo"


def _post_all(live: LiveServer, url: str, bodies: list[bytes], headers: list[dict[str, str]]):
    with httpx.Client(base_url=live.url, timeout=30) as client:

        def post(i: int) -> httpx.Response:
            return client.post(url, content=bodies[i], headers=headers[i])

        with ThreadPoolExecutor(len(bodies)) as pool:
            return list(pool.map(post, range(len(bodies))))


def test_concurrent_deliveries_each_start_their_own_execution(
    live: LiveServer, owner: Member
) -> None:
    workflow = publish(live, owner.org_id, ECHO.replace("AUTH", ""))
    bodies = [json.dumps({"n": i}).encode() for i in range(40)]
    answers = _post_all(live, _url(owner), bodies, [{"Content-Type": "application/json"}] * 40)
    assert [a.status_code for a in answers] == [202] * 40, [a.text for a in answers]
    ids = [a.json()["execution_id"] for a in answers]
    assert len(set(ids)) == 40
    rows = {str(r.id): r for r in executions_of(live, workflow)}
    assert {rows[i].inputs["n"] for i in ids} == set(range(40))
    for i, execution_id in enumerate(ids):
        assert rows[execution_id].inputs == {"n": i}
        assert rows[execution_id].trigger["body"] == {"n": i}
    with live.db.connect() as conn:
        created = conn.execute(
            sa.text(
                "SELECT execution_id, count(*) FROM execution_events "
                "WHERE execution_id = ANY(:ids) AND type = 'execution.created' GROUP BY 1"
            ),
            {"ids": ids},
        ).all()
    assert sorted(str(e) for e, _ in created) == sorted(ids)
    assert {n for _, n in created} == {1}


def test_one_signature_sent_many_times_at_once_is_accepted_once(
    live: LiveServer, owner: Member, secret: Callable[[str], str]
) -> None:
    key = secret("ECHO_HOOK")
    workflow = publish(
        live,
        owner.org_id,
        ECHO.replace("AUTH", "auth: hmac\n    secret: ${{ secrets.ECHO_HOOK }}"),
    )
    body = b'{"n": 7}'
    at = int(time.time())
    headers = {
        "X-FlowPilot-Signature": f"t={at},v1={sign(key, at, body)}",
        "Content-Type": "application/json",
    }
    answers = _post_all(live, _url(owner), [body] * 16, [headers] * 16)
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [202] + [409] * 15, [a.text for a in answers]
    for answer in answers:
        if answer.status_code == 409:
            assert_problem(answer, 409, "replayed")
    assert len(executions_of(live, workflow)) == 1


def test_a_delivery_the_database_refuses_fails_alone(live: LiveServer, owner: Member) -> None:
    workflow = publish(live, owner.org_id, ECHO.replace("AUTH", ""))
    good = [json.dumps({"n": i}).encode() for i in range(8)]
    # A lone surrogate escape: valid JSON to the parser, refused by PostgreSQL's jsonb.
    bad = b'{"n": 99, "note": "\\ud800"}'
    bodies = [*good[:4], bad, *good[4:]]
    answers = _post_all(live, _url(owner), bodies, [{"Content-Type": "application/json"}] * 9)
    refused = answers[4]
    assert 400 <= refused.status_code < 500, refused.text
    assert [a.status_code for i, a in enumerate(answers) if i != 4] == [202] * 8
    assert sorted(r.inputs["n"] for r in executions_of(live, workflow)) == list(range(8))


def test_a_new_published_version_takes_the_next_delivery(live: LiveServer, owner: Member) -> None:
    """The receiver remembers routes; publishing through the API forgets them at once."""
    source = ECHO.replace("AUTH", "")
    created = owner.client.post("/api/v1/workflows", json={"source": source})
    assert created.status_code == 201, created.text
    url = f"/api/v1/workflows/{created.json()['id']}"
    assert owner.client.post(f"{url}/publish", json={"version": "1"}).status_code == 200
    with live.client() as client:
        first = client.post(_url(owner), json={"n": 1})
        doubled = source.replace('n: "${{ trigger.body.n }}"', 'n: "${{ trigger.body.n * 2 }}"')
        saved = owner.client.put(url, json={"source": doubled})
        assert saved.status_code == 201, saved.text
        assert owner.client.post(f"{url}/publish", json={"version": "2"}).status_code == 200
        second = client.post(_url(owner), json={"n": 1})
        assert owner.client.post(f"{url}/unpublish").status_code == 200
        gone = client.post(_url(owner), json={"n": 1})
    assert first.status_code == 202 and second.status_code == 202, second.text
    rows = {str(r.id): r for r in executions_of(live, uuid.UUID(created.json()["id"]))}
    assert rows[first.json()["execution_id"]].inputs == {"n": 1}
    assert rows[second.json()["execution_id"]].inputs == {"n": 2}
    assert_problem(gone, 404, "webhook_not_found")


def test_only_a_delivery_that_starts_a_run_marks_the_trigger_fired(
    live: LiveServer, owner: Member, secret: Callable[[str], str]
) -> None:
    key = secret("ECHO_TOKEN")
    workflow = publish(
        live,
        owner.org_id,
        ECHO.replace("AUTH", "auth: token\n    secret: ${{ secrets.ECHO_TOKEN }}"),
    )

    def last_fired() -> object:
        with live.db.connect() as conn:
            return conn.execute(
                sa.text("SELECT last_fired_at FROM triggers WHERE workflow_id = :w"),
                {"w": workflow},
            ).scalar()

    with live.client() as client:
        refused = client.post(_url(owner), json={"n": 1}, headers={"X-FlowPilot-Token": "nope"})
        assert_problem(refused, 401, "invalid_token")
        assert last_fired() is None
        accepted = client.post(_url(owner), json={"n": 1}, headers={"X-FlowPilot-Token": key})
        assert accepted.status_code == 202, accepted.text
    assert last_fired() is not None
