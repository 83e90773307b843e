"""Executions over real HTTP: start (inputs, wait, versions, dry runs), list with filters and
pagination, detail with step runs, logs, cancel, retry, approvals, roles and isolation."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from flowpilot.server.security import new_api_key
from flowpilot.server.workflows.versions import create_workflow, save_version
from flowpilot.store.ids import uuid7
from tests.server.conftest import LiveServer, Member, assert_problem

GREET = """
flow: greet
inputs:
  who: { type: string, required: true }
  times: { type: integer, minimum: 1, default: 1 }
  token: { type: secret, required: false }
steps:
  - id: hello
    uses: core.log
    with: { message: "hello {{ inputs.who }}" }
  - id: shout
    uses: core.merge
    with: { objects: [{ text: "${{ upper(inputs.who) }}" }] }
outputs:
  greeting: ${{ steps.shout.output.text }}
  times: ${{ inputs.times }}
"""

APPROVAL = """
flow: approval
steps:
  - id: prepare
    uses: core.log
    with: { message: preparing }
  - id: review
    uses: human.approval
    with: { message: "Ship it?", approvers: [boss@example.com] }
  - id: after
    uses: core.log
    with: { message: "decided {{ steps.review.output.decision }}" }
outputs:
  approved: ${{ steps.review.output.approved }}
  by: ${{ steps.review.output.by }}
  comment: ${{ steps.review.output.comment }}
"""

WAITS = "flow: waits\nsteps:\n  - { id: pause, wait: 1h }\n"

FAILS = """
flow: fails
inputs:
  n: { type: integer, default: 1 }
steps:
  - id: first
    uses: core.log
    with: { message: "first {{ inputs.n }}" }
  - { id: boom, fail: "it broke" }
"""

LOOP = """
flow: loop
inputs:
  items: { type: array, items: { type: integer }, default: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }
steps:
  - id: each
    foreach: ${{ inputs.items }}
    as: n
    collect: ${{ steps.square.output.text }}
    steps:
      - id: square
        uses: core.merge
        with: { objects: [{ text: "${{ n * n }}" }] }
      - id: note
        uses: core.log
        with: { message: "n={{ n }}", level: debug }
outputs:
  squares: ${{ steps.each.output }}
"""

NOTIFY = """
flow: notify
steps:
  - id: notify
    uses: webhook.send
    with: { url: "https://partner.example.com/hook", payload: { hello: world } }
  - id: note
    uses: core.log
    with: { message: "delivered {{ steps.notify.output.delivery_id }}" }
outputs:
  status: ${{ steps.notify.output.status }}
  delivery: ${{ steps.notify.output.delivery_id }}
"""

ECHO = """
flow: echo
inputs:
  text: { type: string, required: true }
steps:
  - id: render
    uses: core.merge
    with: { objects: [{ text: "${{ inputs.text }}" }] }
outputs:
  size: ${{ len(steps.render.output.text) }}
"""


FINISHED = {"succeeded", "failed", "cancelled", "timed_out"}


def make_workflow(live: LiveServer, org_id: uuid.UUID, source: str) -> uuid.UUID:
    """A workflow with ``source`` as its first version, straight in the database."""
    with live.db.begin() as conn:
        return create_workflow(conn, live.runtime, org_id, source, "yaml").workflow_id


def start(client: httpx.Client, workflow_id: uuid.UUID, **body: Any) -> httpx.Response:
    return client.post(f"/api/v1/workflows/{workflow_id}/executions", json=body)


def started(client: httpx.Client, workflow_id: uuid.UUID, **body: Any) -> dict[str, Any]:
    response = start(client, workflow_id, **body)
    assert response.status_code in (200, 202), response.text
    return response.json()


def until_status(
    client: httpx.Client, execution_id: str, *statuses: str, timeout: float = 30
) -> dict[str, Any]:
    """The execution once its status is one of ``statuses`` (fails after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        found = client.get(f"/api/v1/executions/{execution_id}").json()
        if found["status"] in statuses:
            return found
        assert found["status"] not in FINISHED, found
        assert time.monotonic() < deadline, f"still {found['status']}"
        time.sleep(0.05)


def audit_actions(live: LiveServer, resource_id: str) -> list[str]:
    with live.db.connect() as conn:
        return list(
            conn.execute(
                sa.text("SELECT action FROM audit_log WHERE resource_id = :r ORDER BY id"),
                {"r": resource_id},
            ).scalars()
        )


# ---------------------------------------------------------------------------- start


def test_start_answers_202_with_the_execution_and_records_who(
    live: LiveServer, owner: Member
) -> None:
    workflow_id = make_workflow(live, owner.org_id, GREET)
    response = start(owner.client, workflow_id, inputs={"who": "Ada"})
    assert response.status_code == 202, response.text
    body = response.json()
    assert response.headers["location"] == f"/api/v1/executions/{body['id']}"
    assert body["workflow_id"] == str(workflow_id)
    assert body["flow_id"] == "greet"
    assert body["inputs"] == {"who": "Ada", "times": 1, "token": None}
    assert body["trigger"] == {
        "type": "manual",
        "by": {"type": "user", "id": str(owner.user_id), "email": owner.email},
    }
    assert body["links"]["events"] == f"/api/v1/executions/{body['id']}/events"
    done = until_status(owner.client, body["id"], "succeeded")
    assert done["outputs"] == {"greeting": "ADA", "times": 1}
    assert audit_actions(live, body["id"]) == ["execution.started"]


def test_bad_inputs_are_422_naming_each_field(live: LiveServer, owner: Member) -> None:
    workflow_id = make_workflow(live, owner.org_id, GREET)
    response = start(owner.client, workflow_id, inputs={"times": 0, "color": "red"})
    body = assert_problem(response, 422, "invalid_inputs")
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"inputs.who", "inputs.times", "inputs.color"}
    assert "required" in next(e["message"] for e in body["errors"] if e["field"] == "inputs.who")
    wrong_type = start(owner.client, workflow_id, inputs={"who": 42})
    assert [e["field"] for e in assert_problem(wrong_type, 422)["errors"]] == ["inputs.who"]
    loop = make_workflow(live, owner.org_id, LOOP)
    item = start(owner.client, loop, inputs={"items": [1, "two"]})
    assert [e["field"] for e in assert_problem(item, 422)["errors"]] == ["inputs.items.1"]
    nul = start(owner.client, workflow_id, inputs={"who": "a\u0000b"})
    assert assert_problem(nul, 400, "invalid_request")["errors"][0]["field"] == "inputs.who"
    unknown_field = start(owner.client, workflow_id, inputs={"who": "x"}, colour="red")
    assert assert_problem(unknown_field, 400, "invalid_request")["errors"][0]["field"] == "colour"
    with live.db.connect() as conn:
        count = conn.execute(
            sa.text("SELECT count(*) FROM executions WHERE workflow_id = :w"), {"w": workflow_id}
        ).scalar()
    assert count == 0


def test_wait_answers_200_with_outputs_or_202_while_still_running(
    live: LiveServer, owner: Member
) -> None:
    greet = make_workflow(live, owner.org_id, GREET)
    done = start(owner.client, greet, inputs={"who": "Bo", "times": 3}, wait=20)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "succeeded"
    assert done.json()["outputs"] == {"greeting": "BO", "times": 3}
    waits = make_workflow(live, owner.org_id, WAITS)
    pending = start(owner.client, waits, wait=0.2)
    assert pending.status_code == 202
    assert pending.json()["status"] == "waiting"
    too_long = start(owner.client, greet, inputs={"who": "x"}, wait=10_000)
    assert assert_problem(too_long, 400, "invalid_request")["errors"][0]["field"] == "wait"


def test_version_selection_published_head_number_and_unknown(
    live: LiveServer, owner: Member
) -> None:
    workflow_id = make_workflow(live, owner.org_id, GREET)
    with live.db.begin() as conn:
        first = conn.execute(
            sa.text("SELECT head_version_id FROM workflows WHERE id = :w"), {"w": workflow_id}
        ).scalar()
        conn.execute(
            sa.text("UPDATE workflows SET published_version_id = :v WHERE id = :w"),
            {"v": first, "w": workflow_id},
        )
        save_version(
            conn,
            live.runtime,
            owner.org_id,
            workflow_id,
            GREET.replace("upper(", "lower("),
            "yaml",
        )
    inputs = {"who": "Cy"}
    published = started(owner.client, workflow_id, inputs=inputs, wait=20)
    head = started(owner.client, workflow_id, inputs=inputs, version="head", wait=20)
    by_number = started(owner.client, workflow_id, inputs=inputs, version="v2", wait=20)
    assert published["outputs"]["greeting"] == "CY"
    assert head["outputs"]["greeting"] == by_number["outputs"]["greeting"] == "cy"
    missing = start(owner.client, workflow_id, inputs=inputs, version="v9")
    assert assert_problem(missing, 404, "version_not_found")["errors"][0]["field"] == "version"
    assert_problem(start(owner.client, uuid7(), inputs=inputs), 404, "workflow_not_found")


def test_a_viewer_reads_but_cannot_start_and_an_api_key_is_recorded(
    live: LiveServer, owner: Member, make_member: Callable[..., Member]
) -> None:
    workflow_id = make_workflow(live, owner.org_id, GREET)
    execution = started(owner.client, workflow_id, inputs={"who": "x"})
    viewer = make_member("viewer", owner.org_id)
    body = assert_problem(start(viewer.client, workflow_id, inputs={"who": "x"}), 403)
    assert body["permission"] == "executions:run"
    assert viewer.client.get(f"/api/v1/executions/{execution['id']}").status_code == 200
    assert viewer.client.get("/api/v1/executions").json()["items"]
    key, prefix, key_hash = new_api_key()
    key_id = uuid7()
    with live.db.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO api_keys (id, org_id, name, prefix, key_hash, role) "
                "VALUES (:id, :o, 'deploy-bot', :p, :h, 'member')"
            ),
            {"id": key_id, "o": owner.org_id, "p": prefix, "h": key_hash},
        )
    with live.client(key) as bot:
        by_key = started(bot, workflow_id, inputs={"who": "bot"})
    assert by_key["trigger"]["by"] == {"type": "api_key", "id": str(key_id), "name": "deploy-bot"}


# ---------------------------------------------------------------------------- dry runs


def test_dry_run_returns_mocks_instead_of_calling_out(live: LiveServer, owner: Member) -> None:
    workflow_id = make_workflow(live, owner.org_id, NOTIFY)
    mocks = {"notify": {"status": 201, "delivery_id": "d-42", "elapsed_ms": 3}}
    response = owner.client.post(
        f"/api/v1/workflows/{workflow_id}/dry-run", json={"mocks": mocks, "wait": 20}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dry_run"] is True
    assert body["outputs"] == {"status": 201, "delivery": "d-42"}
    generated = started(owner.client, workflow_id, dry_run=True, wait=20)
    assert generated["status"] == "succeeded" and generated["dry_run"] is True
    logs = owner.client.get(f"/api/v1/executions/{generated['id']}/logs?level=warning").json()
    assert any("was not called" in line["message"] for line in logs["items"])
    not_dry = start(owner.client, workflow_id, mocks=mocks)
    assert assert_problem(not_dry, 422, "invalid_mocks")["errors"][0]["field"] == "mocks"
    pure = owner.client.post(
        f"/api/v1/workflows/{workflow_id}/dry-run", json={"mocks": {"note": {}, "nope": 1}}
    )
    errors = assert_problem(pure, 422, "invalid_mocks")["errors"]
    assert [e["field"] for e in errors] == ["mocks.nope", "mocks.note"]
    assert "no side effects" in errors[1]["message"]


# ---------------------------------------------------------------------------- list


def test_list_filters_by_status_workflow_flow_trigger_and_time(
    live: LiveServer, make_member: Callable[..., Member]
) -> None:
    member = make_member("member")
    greet = make_workflow(live, member.org_id, GREET)
    fails = make_workflow(live, member.org_id, FAILS)
    waits = make_workflow(live, member.org_id, WAITS)
    ok = started(member.client, greet, inputs={"who": "a"}, wait=20)
    bad = started(member.client, fails, wait=20)
    paused = started(member.client, waits)
    retried = member.client.post(f"/api/v1/executions/{bad['id']}/retry").json()
    until_status(member.client, retried["id"], "failed")

    def ids(**params: Any) -> list[str]:
        response = member.client.get("/api/v1/executions", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert ids() == [retried["id"], paused["id"], bad["id"], ok["id"]]
    assert ids(status="failed") == [retried["id"], bad["id"]]
    assert ids(status=["waiting", "succeeded"]) == [paused["id"], ok["id"]]
    assert ids(workflow_id=str(fails)) == [retried["id"], bad["id"]]
    assert ids(workflow_id=str(fails), status="failed", trigger="manual") == [bad["id"]]
    assert ids(flow_id="waits") == [paused["id"]]
    assert ids(trigger="retry") == [retried["id"]]
    assert ids(created_after=datetime.now(UTC) + timedelta(minutes=1)) == []
    assert ids(created_before=datetime.now(UTC) - timedelta(days=1)) == []
    assert ids(created_after="2000-01-01T00:00:00Z", status="succeeded") == [ok["id"]]
    item = member.client.get("/api/v1/executions", params={"status": "failed"}).json()["items"][1]
    assert item["error_message"] == "it broke"
    assert item["trigger_type"] == "manual" and item["workflow_id"] == str(fails)
    assert "inputs" not in item and "state" not in item
    bad_status = member.client.get("/api/v1/executions", params={"status": "done"})
    assert_problem(bad_status, 400, "invalid_request")


def test_list_pages_with_a_cursor_newest_first(
    live: LiveServer, make_member: Callable[..., Member]
) -> None:
    member = make_member("member")
    workflow_id = make_workflow(live, member.org_id, GREET)
    made = [started(member.client, workflow_id, inputs={"who": str(i)})["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = member.client.get("/api/v1/executions", params=params).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made)) and pages == 3
    bad = member.client.get("/api/v1/executions", params={"cursor": "not-a-cursor"})
    assert_problem(bad, 400, "invalid_cursor")
    assert_problem(member.client.get("/api/v1/executions?limit=0"), 400, "invalid_request")


# ---------------------------------------------------------------------------- detail, logs


def test_detail_shows_every_step_run_with_inputs_outputs_and_timings(
    live: LiveServer, owner: Member
) -> None:
    workflow_id = make_workflow(live, owner.org_id, LOOP)
    done = started(owner.client, workflow_id, wait=20)
    assert done["outputs"] == {"squares": [n * n for n in range(1, 11)]}
    detail = owner.client.get(f"/api/v1/executions/{done['id']}").json()
    squares = [s for s in detail["steps"] if s["node_id"] == "square"]
    assert [s["step_key"] for s in squares] == [f"each[{i}]/square" for i in range(10)]
    third = squares[2]
    assert third["status"] == "succeeded" and third["attempt"] == 1
    assert third["node_type"] == "core.merge" and third["kind"] == "uses"
    assert third["inputs"]["objects"] == [{"text": 9}]
    assert third["output"] == {"text": 9}
    assert third["started_at"] and third["finished_at"] and third["duration_ms"] >= 0
    assert len([s for s in detail["steps"] if s["node_id"] == "note"]) == 10
    assert "args" not in third and "state" not in detail


def test_detail_loads_outputs_stored_apart_and_masks_secret_inputs(
    live: LiveServer, owner: Member
) -> None:
    echo = make_workflow(live, owner.org_id, ECHO)
    big = "x" * 300_000  # above the runtime's inline payload limit (256 KiB)
    done = started(owner.client, echo, inputs={"text": big}, wait=20)
    assert done["outputs"] == {"size": 300_000}
    detail = owner.client.get(f"/api/v1/executions/{done['id']}").json()
    (render,) = detail["steps"]
    assert render["output"] == {"text": big}
    assert render["inputs"]["objects"] == [{"text": big}]
    greet = make_workflow(live, owner.org_id, GREET)
    secret = started(owner.client, greet, inputs={"who": "a", "token": "s3cr3t-value"})
    shown = owner.client.get(f"/api/v1/executions/{secret['id']}")
    assert shown.json()["inputs"]["token"] == "***"
    assert "s3cr3t-value" not in shown.text and "s3cr3t-value" not in str(secret)


def test_logs_filter_by_level_and_step_and_page_in_order(live: LiveServer, owner: Member) -> None:
    workflow_id = make_workflow(live, owner.org_id, LOOP)
    done = started(owner.client, workflow_id, wait=20)
    url = f"/api/v1/executions/{done['id']}/logs"
    everything = owner.client.get(url).json()["items"]
    notes = [line for line in everything if line["step_key"] and "/note" in line["step_key"]]
    assert [line["message"] for line in notes] == [f"n={n}" for n in range(1, 11)]
    assert all(line["level"] == "debug" for line in notes)
    assert not any(
        line["level"] == "debug" for line in owner.client.get(f"{url}?level=info").json()["items"]
    )
    by_id = owner.client.get(url, params={"step": "note"}).json()["items"]
    assert [line["id"] for line in by_id] == [line["id"] for line in notes]
    one = owner.client.get(url, params={"step": "each[3]/note"}).json()["items"]
    assert [line["message"] for line in one] == ["n=4"]
    paged: list[int] = []
    cursor = None
    while True:
        page = owner.client.get(url, params={"limit": 3, **({"cursor": cursor} if cursor else {})})
        paged += [line["id"] for line in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert paged == [line["id"] for line in everything] and paged == sorted(paged)
    assert_problem(owner.client.get(f"{url}?level=loud"), 400, "invalid_request")


# ---------------------------------------------------------------------------- cancel, retry


def test_cancel_a_waiting_execution_then_409_once_finished(
    live: LiveServer, owner: Member, make_member: Callable[..., Member]
) -> None:
    workflow_id = make_workflow(live, owner.org_id, WAITS)
    paused = started(owner.client, workflow_id)
    assert paused["status"] == "waiting"
    viewer = make_member("viewer", owner.org_id)
    assert_problem(viewer.client.post(f"/api/v1/executions/{paused['id']}/cancel"), 403)
    cancelled = owner.client.post(f"/api/v1/executions/{paused['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["status"] == "cancelled"
    assert body["error"]["message"] == f"cancelled by {owner.email}"
    (pause,) = owner.client.get(f"/api/v1/executions/{paused['id']}").json()["steps"]
    assert pause["status"] == "cancelled"
    again = owner.client.post(f"/api/v1/executions/{paused['id']}/cancel")
    assert assert_problem(again, 409, "execution_finished")["execution_status"] == "cancelled"
    assert audit_actions(live, paused["id"]) == ["execution.started", "execution.cancelled"]


def test_retry_whole_and_from_a_step(live: LiveServer, owner: Member) -> None:
    waits = make_workflow(live, owner.org_id, WAITS)
    running = started(owner.client, waits)
    early = owner.client.post(f"/api/v1/executions/{running['id']}/retry")
    assert_problem(early, 409, "execution_not_finished")
    fails = make_workflow(live, owner.org_id, FAILS)
    failed = started(owner.client, fails, inputs={"n": 7}, wait=20)
    assert failed["status"] == "failed"
    whole = owner.client.post(f"/api/v1/executions/{failed['id']}/retry")
    assert whole.status_code == 201, whole.text
    assert whole.headers["location"] == f"/api/v1/executions/{whole.json()['id']}"
    assert whole.json()["trigger"]["type"] == "retry"
    assert whole.json()["trigger"]["of"] == failed["id"]
    assert whole.json()["inputs"] == {"n": 7} and whole.json()["workflow_id"] == str(fails)
    partial = owner.client.post(
        f"/api/v1/executions/{failed['id']}/retry", json={"from_step": "boom"}
    ).json()
    assert partial["trigger"]["from"] == "boom"
    until_status(owner.client, partial["id"], "failed")
    logs = owner.client.get(f"/api/v1/executions/{partial['id']}/logs?step=first").json()
    assert any("reused the output" in line["message"] for line in logs["items"])
    unknown = owner.client.post(
        f"/api/v1/executions/{failed['id']}/retry", json={"from_step": "nope"}
    )
    assert assert_problem(unknown, 422, "step_not_found")["errors"][0]["field"] == "from_step"
    assert audit_actions(live, partial["id"]) == ["execution.retried"]


# ---------------------------------------------------------------------------- approvals


def test_approve_records_who_and_the_execution_goes_on(
    live: LiveServer, owner: Member, make_member: Callable[..., Member]
) -> None:
    workflow_id = make_workflow(live, owner.org_id, APPROVAL)
    waiting = until_status(owner.client, started(owner.client, workflow_id)["id"], "waiting")
    url = f"/api/v1/executions/{waiting['id']}/steps"
    viewer = make_member("viewer", owner.org_id)
    body = assert_problem(viewer.client.post(f"{url}/review/approve"), 403)
    assert body["permission"] == "executions:approve"
    assert_problem(owner.client.post(f"{url}/prepare/approve"), 409, "not_waiting_for_approval")
    member = make_member("member", owner.org_id)
    approved = member.client.post(f"{url}/review/approve", json={"comment": "LGTM"})
    assert approved.status_code == 200, approved.text
    done = until_status(owner.client, waiting["id"], "succeeded")
    assert done["outputs"] == {"approved": True, "by": member.email, "comment": "LGTM"}
    again = owner.client.post(f"{url}/review/approve")
    assert_problem(again, 409, "not_waiting_for_approval")
    assert audit_actions(live, waiting["id"]) == ["execution.started", "execution.approved"]


def test_reject_answers_the_approval_with_a_no(live: LiveServer, owner: Member) -> None:
    workflow_id = make_workflow(live, owner.org_id, APPROVAL)
    waiting = until_status(owner.client, started(owner.client, workflow_id)["id"], "waiting")
    rejected = owner.client.post(
        f"/api/v1/executions/{waiting['id']}/steps/review/reject", json={"comment": "not now"}
    )
    assert rejected.status_code == 200, rejected.text
    done = until_status(owner.client, waiting["id"], "succeeded")
    assert done["outputs"] == {"approved": False, "by": owner.email, "comment": "not now"}
    steps = owner.client.get(f"/api/v1/executions/{waiting['id']}").json()["steps"]
    review = next(s for s in steps if s["step_key"] == "review")
    assert review["output"]["decision"] == "rejected"


# ---------------------------------------------------------------------------- isolation


def test_another_organization_gets_404_everywhere(
    live: LiveServer, owner: Member, make_member: Callable[..., Member]
) -> None:
    workflow_id = make_workflow(live, owner.org_id, APPROVAL)
    execution = until_status(owner.client, started(owner.client, workflow_id)["id"], "waiting")
    stranger = make_member("owner")
    base = f"/api/v1/executions/{execution['id']}"
    probes = [
        stranger.client.get(base),
        stranger.client.get(f"{base}/logs"),
        stranger.client.post(f"{base}/cancel"),
        stranger.client.post(f"{base}/retry"),
        stranger.client.post(f"{base}/steps/review/approve"),
        stranger.client.post(f"{base}/steps/review/reject"),
    ]
    for response in probes:
        assert_problem(response, 404, "execution_not_found")
    assert_problem(start(stranger.client, workflow_id), 404, "workflow_not_found")
    dry = stranger.client.post(f"/api/v1/workflows/{workflow_id}/dry-run", json={})
    assert_problem(dry, 404, "workflow_not_found")
    assert stranger.client.get("/api/v1/executions").json()["items"] == []
    listed = stranger.client.get("/api/v1/executions", params={"workflow_id": str(workflow_id)})
    assert listed.json()["items"] == []
    assert owner.client.get(base).json()["status"] == "waiting"


def test_approvals_waiting_in_several_loop_iterations_are_named_by_step_key(
    live: LiveServer, owner: Member
) -> None:
    source = """
flow: approve-each
steps:
  - id: each
    foreach: ${{ [1, 2] }}
    as: n
    concurrency: 2
    steps:
      - id: review
        uses: human.approval
        with: { message: "Ship part {{ n }}?", approvers: [lead@example.com] }
"""
    workflow_id = make_workflow(live, owner.org_id, source)
    execution_id = started(owner.client, workflow_id)["id"]
    until_status(owner.client, execution_id, "waiting")
    url = f"/api/v1/executions/{execution_id}/steps/review/approve"
    body = assert_problem(owner.client.post(url), 409, "ambiguous_step")
    assert body["waiting"] == ["each[0]/review", "each[1]/review"]
    assert owner.client.post(url, json={"step_key": "each[1]/review"}).status_code == 200
    assert owner.client.post(url).status_code == 200  # one instance is left: no need to name it
    until_status(owner.client, execution_id, "succeeded")


def test_retry_from_a_step_reuses_a_large_output_whole(live: LiveServer, owner: Member) -> None:
    source = """
flow: big-then-fail
inputs:
  text: { type: string, required: true }
steps:
  - id: render
    uses: core.merge
    with: { objects: [{ text: "${{ inputs.text }}" }] }
  - id: check
    if: ${{ len(steps.render.output.text | default('')) != 300000 }}
    fail: "the text was lost"
  - { id: boom, fail: "it broke" }
"""
    workflow_id = make_workflow(live, owner.org_id, source)
    failed = started(owner.client, workflow_id, inputs={"text": "y" * 300_000}, wait=20)
    assert failed["error"]["message"] == "it broke"
    retry = f"/api/v1/executions/{failed['id']}/retry"
    again = owner.client.post(retry, json={"from_step": "boom"}).json()
    done = until_status(owner.client, again["id"], "failed")
    assert done["error"]["message"] == "it broke"  # not "the text was lost"
    logs = owner.client.get(f"/api/v1/executions/{again['id']}/logs?step=render").json()
    assert any("reused the output" in line["message"] for line in logs["items"])
