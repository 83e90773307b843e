"""Event triggers: custom events posted to the API (filters, inputs, roles, isolation) and
chaining on other executions' ends, without loops."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from tests.server.conftest import LiveServer, Member, assert_problem
from tests.server.triggers_support import eventually, executions_of, publish

ON_UPLOAD = """
flow: file-intake
inputs:
  name: { type: string }
  size: { type: integer, default: 0 }
triggers:
  - id: on-upload
    type: event
    on: document.uploaded
    filter: ${{ event.folder == 'invoices' }}
    inputs: { name: "${{ event.name }}", size: "${{ event.size }}" }
steps:
  - id: note
    set: { seen: "${{ inputs.name }}" }
outputs:
  seen: ${{ vars.seen }}
"""

UPSTREAM = """
flow: upstream
triggers:
  - { id: hook, type: webhook, inputs: { total: "${{ trigger.body.total }}" } }
inputs:
  total: { type: number, default: 0 }
steps:
  - id: double
    set: { doubled: "${{ inputs.total * 2 }}" }
  - id: check
    if: ${{ inputs.total < 0 }}
    fail: negative total
outputs:
  doubled: ${{ vars.doubled }}
"""

FOLLOWER = """
flow: follower
inputs:
  amount: { type: number }
  source: { type: string }
triggers:
  - id: after-upstream
    type: event
    on: execution.succeeded
    filter: ${{ event.flow_id == 'upstream' }}
    inputs: { amount: "${{ event.outputs.doubled }}", source: "${{ event.execution_id }}" }
steps:
  - id: keep
    set: { amount: "${{ inputs.amount }}" }
"""

ON_FAILURE = """
flow: on-failure
inputs:
  reason: { type: string }
triggers:
  - id: alarm
    type: event
    on: execution.failed
    inputs: { reason: "${{ event.error.message }}" }
steps:
  - id: keep
    set: { reason: "${{ inputs.reason }}" }
"""

PING_PONG = """
flow: SELF
triggers:
  - { id: kick, type: event, on: kick }
  - id: after-other
    type: event
    on: execution.succeeded
    filter: ${{ event.flow_id == 'OTHER' }}
steps:
  - { id: step, set: { x: 1 } }
"""


def emit(member: Member, type_: str, data: dict[str, Any], **extra: Any) -> Any:
    return member.client.post("/api/v1/events", json={"type": type_, "data": data, **extra})


def dispatched_past(live: LiveServer, execution_id: Any) -> bool:
    """Whether the event dispatcher has read past the end of ``execution_id`` (so whatever it
    was going to start, it has)."""
    with live.db.connect() as conn:
        return bool(
            conn.execute(
                sa.text(
                    "SELECT (e.tx, e.id) < (c.tx, c.event_id) FROM execution_events e, "
                    "trigger_cursors c WHERE e.execution_id = :x AND c.name = 'execution_events' "
                    "AND e.type LIKE 'execution.%' AND e.type NOT IN "
                    "('execution.created', 'execution.started')"
                ),
                {"x": execution_id},
            ).scalar()
        )


def finished(live: LiveServer, workflow_id: uuid.UUID, count: int = 1) -> list[Any]:
    """Wait for ``count`` executions of the workflow to end; returns them."""

    def check() -> list[Any] | None:
        found = executions_of(live, workflow_id)
        done = [e for e in found if e.status in ("succeeded", "failed")]
        return found if len(found) >= count and len(done) == len(found) else None

    return eventually(check)


# ---------------------------------------------------------------------------- custom events


def test_an_event_starts_the_flows_whose_filter_holds(live: LiveServer, owner: Member) -> None:
    workflow_id = publish(live, owner.org_id, ON_UPLOAD)
    matching = emit(owner, "document.uploaded", {"folder": "invoices", "name": "a.pdf", "size": 7})
    other = emit(owner, "document.uploaded", {"folder": "photos", "name": "b.png"})
    unrelated = emit(owner, "document.deleted", {"folder": "invoices", "name": "c.pdf"})
    assert matching.status_code == 201, matching.text
    body = matching.json()
    assert body["type"] == "document.uploaded" and body["data"]["name"] == "a.pdf"
    (started,) = body["executions"]
    assert started["workflow_id"] == str(workflow_id) and started["trigger_id"] == "on-upload"
    assert body["rejected"] == []
    assert other.json()["executions"] == [] and unrelated.json()["executions"] == []
    (execution,) = executions_of(live, workflow_id)
    assert str(execution.id) == started["execution_id"]
    assert execution.inputs == {"name": "a.pdf", "size": 7}
    trigger = execution.trigger
    assert trigger["type"] == "event" and trigger["event_type"] == "document.uploaded"
    assert trigger["event"]["folder"] == "invoices" and trigger["depth"] == 1
    assert trigger["event_id"] == body["id"]


def test_a_trigger_whose_inputs_do_not_fit_is_reported_and_others_still_start(
    live: LiveServer, owner: Member
) -> None:
    publish(live, owner.org_id, ON_UPLOAD)
    lenient = ON_UPLOAD.replace("flow: file-intake", "flow: lenient").replace(
        "size: { type: integer, default: 0 }", "size: { type: any }"
    )
    lenient_id = publish(live, owner.org_id, lenient)
    response = emit(owner, "document.uploaded", {"folder": "invoices", "name": "x", "size": "big"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert [e["workflow_id"] for e in body["executions"]] == [str(lenient_id)]
    (rejected,) = body["rejected"]
    assert rejected["flow_id"] == "file-intake"
    assert [e["field"] for e in rejected["errors"]] == ["inputs.size"]


def test_events_are_listed_newest_first(live: LiveServer, owner: Member) -> None:
    for i in range(3):
        assert emit(owner, "tick", {"n": i}, source="clock").status_code == 201
    first = owner.client.get("/api/v1/events", params={"limit": 2})
    assert first.status_code == 200, first.text
    page = first.json()
    assert [e["data"]["n"] for e in page["items"]] == [2, 1]
    assert page["items"][0]["source"] == "clock"
    rest = owner.client.get("/api/v1/events", params={"cursor": page["next_cursor"]}).json()
    assert [e["data"]["n"] for e in rest["items"]] == [0] and rest["next_cursor"] is None
    assert owner.client.get("/api/v1/events", params={"type": "other"}).json()["items"] == []


def test_bad_events_are_refused_naming_the_field(live: LiveServer, owner: Member) -> None:
    body = assert_problem(emit(owner, "execution.succeeded", {}), 422, "reserved_event_type")
    assert body["errors"][0]["field"] == "type"
    body = assert_problem(emit(owner, "has spaces", {}), 400, "invalid_request")
    assert body["errors"][0]["field"] == "type"
    extra = owner.client.post("/api/v1/events", json={"type": "a", "colour": "red"})
    assert assert_problem(extra, 400)["errors"][0]["field"] == "colour"
    not_object = owner.client.post("/api/v1/events", json={"type": "a", "data": [1]})
    assert assert_problem(not_object, 400)["errors"][0]["field"] == "data"
    nul = emit(owner, "a", {"text": "a\u0000b"})
    assert assert_problem(nul, 400, "nul_character")["errors"][0]["field"] == "data"


def test_viewers_read_events_but_cannot_emit_and_organizations_are_apart(
    live: LiveServer, owner: Member, make_member: Callable[..., Member]
) -> None:
    publish(live, owner.org_id, ON_UPLOAD)
    viewer = make_member("viewer", org_id=owner.org_id)
    member = make_member("member", org_id=owner.org_id)
    stranger = make_member("owner")
    assert_problem(emit(viewer, "document.uploaded", {}), 403, "forbidden")
    assert emit(member, "document.uploaded", {"folder": "x"}).status_code == 201
    assert len(viewer.client.get("/api/v1/events").json()["items"]) == 1
    # Another organization's event starts none of this organization's flows, and is not listed.
    foreign = emit(stranger, "document.uploaded", {"folder": "invoices", "name": "z"})
    assert foreign.json()["executions"] == []
    assert stranger.client.get("/api/v1/events").json()["items"][0]["id"] == foreign.json()["id"]
    assert len(owner.client.get("/api/v1/events").json()["items"]) == 1


# ---------------------------------------------------------------------------- execution events


def test_a_flow_starts_when_another_succeeds(live: LiveServer, owner: Member) -> None:
    upstream_id = publish(live, owner.org_id, UPSTREAM)
    follower_id = publish(live, owner.org_id, FOLLOWER)
    with live.client() as client:
        response = client.post(f"/hooks/{owner.org_slug}/upstream/hook", json={"total": 21})
    assert response.status_code == 202, response.text
    (follow,) = finished(live, follower_id)
    assert follow.status == "succeeded"
    assert follow.inputs == {"amount": 42, "source": response.json()["execution_id"]}
    trigger = follow.trigger
    assert trigger["type"] == "event" and trigger["event_type"] == "execution.succeeded"
    assert trigger["depth"] == 1 and trigger["event"]["flow_id"] == "upstream"
    assert trigger["event"]["workflow_id"] == str(upstream_id)


def test_a_failure_starts_the_flows_listening_for_failures(live: LiveServer, owner: Member) -> None:
    publish(live, owner.org_id, UPSTREAM)
    follower_id = publish(live, owner.org_id, FOLLOWER)
    alarm_id = publish(live, owner.org_id, ON_FAILURE)
    with live.client() as client:
        response = client.post(f"/hooks/{owner.org_slug}/upstream/hook?wait=10", json={"total": -1})
    assert response.json()["status"] == "failed"
    (alarm,) = finished(live, alarm_id)
    assert alarm.inputs == {"reason": "negative total"}
    eventually(lambda: dispatched_past(live, response.json()["execution_id"]))
    assert executions_of(live, follower_id) == []  # its filter wants successes of upstream


def test_a_flow_never_restarts_itself_through_its_own_end(live: LiveServer, owner: Member) -> None:
    echo = ON_UPLOAD.replace(
        "triggers:\n",
        "triggers:\n  - { id: again, type: event, on: execution.succeeded, "
        "inputs: { name: again } }\n",
    )
    workflow_id = publish(live, owner.org_id, echo)
    emit(owner, "document.uploaded", {"folder": "invoices", "name": "once"})
    (execution,) = finished(live, workflow_id)
    eventually(lambda: dispatched_past(live, execution.id))
    assert len(executions_of(live, workflow_id)) == 1


def test_a_chain_of_flows_starting_each_other_stops_at_the_depth_limit(
    live: LiveServer, owner: Member
) -> None:
    ping = publish(live, owner.org_id, PING_PONG.replace("SELF", "ping").replace("OTHER", "pong"))
    pong = publish(live, owner.org_id, PING_PONG.replace("SELF", "pong").replace("OTHER", "ping"))
    emit(owner, "kick", {})  # starts both at depth 1; each end starts the other one deeper
    pings = finished(live, ping, count=5)
    pongs = finished(live, pong, count=5)
    for execution in pings + pongs:
        eventually(lambda execution=execution: dispatched_past(live, execution.id))
    depths = sorted(e.trigger["depth"] for e in executions_of(live, ping))
    assert depths == [1, 2, 3, 4, 5]
    assert sorted(e.trigger["depth"] for e in executions_of(live, pong)) == [1, 2, 3, 4, 5]
