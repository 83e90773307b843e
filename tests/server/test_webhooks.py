"""Webhooks over real HTTP: routes, the three auth modes, signatures (valid, wrong, missing,
expired, replayed), body limits and parsing, inputs mapping, and waiting for the outputs."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable

import pytest

from flowpilot.server.triggers.webhooks import sign
from tests.server.conftest import LiveServer, Member, assert_problem
from tests.server.triggers_support import executions_of, publish

GREETER = """
flow: greeter
inputs:
  name: { type: string }
  times: { type: integer, default: 1 }
triggers:
  - id: incoming
    type: webhook
    path: greet/in
    AUTH
    inputs:
      name: ${{ trigger.body.name }}
      times: ${{ trigger.body.times }}
steps:
  - id: shout
    set: { text: "hello ${{ inputs.name }}" }
outputs:
  greeting: ${{ vars.text }}
  times: ${{ inputs.times }}
"""

SLOW = """
flow: slow
triggers:
  - { id: go, type: webhook }
steps:
  - id: pause
    wait: 1m
"""


def greeter(auth: str = "") -> str:
    return GREETER.replace("AUTH", auth)


def hook(member: Member, path: str = "greet/in", flow: str = "greeter") -> str:
    return f"/hooks/{member.org_slug}/{flow}/{path}"


def signed(secret: str, body: bytes, *, at: int | None = None) -> dict[str, str]:
    at = int(time.time()) if at is None else at
    return {
        "X-FlowPilot-Signature": f"t={at},v1={sign(secret, at, body)}",
        "Content-Type": "application/json",
    }


# ---------------------------------------------------------------------------- no auth


def test_a_delivery_starts_the_published_flow_with_its_inputs(
    live: LiveServer, owner: Member
) -> None:
    workflow_id = publish(live, owner.org_id, greeter())
    with live.client() as anonymous:
        response = anonymous.post(
            hook(owner) + "?source=crm&source=ignored",
            json={"name": "Ada", "times": 3},
            headers={"X-Custom": "yes", "Authorization": "Bearer not-for-the-flow"},
        )
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"execution_id", "status"}
    # Accepted: a worker starts it once the delivery has committed.
    assert body["status"] == "pending"
    assert live.runtime.wait_finished(body["execution_id"], 20)["status"] == "succeeded"
    (execution,) = executions_of(live, workflow_id)
    assert str(execution.id) == body["execution_id"]
    assert execution.inputs == {"name": "Ada", "times": 3}
    assert execution.outputs == {"greeting": "hello Ada", "times": 3}
    trigger = execution.trigger
    assert trigger["type"] == "webhook" and trigger["id"] == "incoming"
    assert trigger["method"] == "POST" and trigger["body"] == {"name": "Ada", "times": 3}
    assert trigger["query"] == {"source": "crm"}
    assert trigger["headers"]["x-custom"] == "yes"
    assert "authorization" not in trigger["headers"]
    assert trigger["received_at"].endswith("Z")


def test_wait_answers_with_the_outputs(live: LiveServer, owner: Member) -> None:
    publish(live, owner.org_id, greeter())
    with live.client() as client:
        response = client.post(hook(owner) + "?wait=10", json={"name": "Grace"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "succeeded" and body["error"] is None
    assert body["outputs"] == {"greeting": "hello Grace", "times": 1}


def test_wait_on_a_long_execution_answers_202(live: LiveServer, owner: Member) -> None:
    workflow_id = publish(live, owner.org_id, SLOW)
    with live.client() as client:
        response = client.post(hook(owner, "go", "slow") + "?wait=0.3")
        too_long = client.post(hook(owner, "go", "slow") + "?wait=100000")
    assert response.status_code == 202, response.text
    assert response.json()["status"] in ("running", "waiting")
    assert_problem(too_long, 400, "invalid_request")
    assert len(executions_of(live, workflow_id)) == 1  # the refused wait started nothing


def test_unknown_routes_and_other_organizations_answer_404(
    live: LiveServer, owner: Member, make_member: Callable[..., Member]
) -> None:
    publish(live, owner.org_id, greeter())
    stranger = make_member("owner")
    with live.client() as client:
        assert_problem(client.post(hook(owner, "nope"), json={}), 404, "webhook_not_found")
        # The same flow id and path under another organization's slug is another route.
        assert_problem(client.post(hook(stranger), json={"name": "x"}), 404, "webhook_not_found")
        assert_problem(client.post("/hooks/no-such-org/greeter/greet/in"), 404)


def test_unpublishing_removes_the_route(live: LiveServer, owner: Member) -> None:
    from flowpilot.server.triggers.sync import remove_triggers

    workflow_id = publish(live, owner.org_id, greeter())
    with live.db.begin() as conn:
        remove_triggers(conn, workflow_id)
    with live.client() as client:
        assert_problem(client.post(hook(owner), json={"name": "x"}), 404, "webhook_not_found")


def test_bad_inputs_from_the_payload_are_422_naming_them(live: LiveServer, owner: Member) -> None:
    workflow_id = publish(live, owner.org_id, greeter())
    with live.client() as client:
        wrong_type = client.post(hook(owner), json={"name": "Ada", "times": "many"})
        missing = client.post(hook(owner), json={"times": 2})
    body = assert_problem(wrong_type, 422, "invalid_inputs")
    assert [e["field"] for e in body["errors"]] == ["inputs.times"]
    body = assert_problem(missing, 422, "invalid_inputs")
    assert [e["field"] for e in body["errors"]] == ["inputs.name"]
    assert executions_of(live, workflow_id) == []


def test_the_configured_method_is_the_only_one_accepted(live: LiveServer, owner: Member) -> None:
    source = greeter("method: PUT")
    publish(live, owner.org_id, source)
    with live.client() as client:
        accepted = client.put(hook(owner), json={"name": "Ada"})
        refused = client.post(hook(owner), json={"name": "Ada"})
    assert accepted.status_code == 202, accepted.text
    assert_problem(refused, 405, "method_not_allowed")
    assert refused.headers["allow"] == "PUT"


# ---------------------------------------------------------------------------- bodies


def test_malformed_json_is_400_and_other_bodies_stay_text(live: LiveServer, owner: Member) -> None:
    source = greeter().replace("${{ trigger.body.name }}", "${{ trigger.body }}")
    source = source.replace("times: ${{ trigger.body.times }}", "times: 1")
    workflow_id = publish(live, owner.org_id, source)
    with live.client() as client:
        malformed = client.post(
            hook(owner), content=b'{"name": ', headers={"Content-Type": "application/json"}
        )
        form = client.post(hook(owner), data={"name": "Ada", "role": "admin"})
        text = client.post(
            hook(owner), content="plain words", headers={"Content-Type": "text/plain"}
        )
        # PostgreSQL cannot store a NUL character: refused, naming where it is.
        nul_json = client.post(
            hook(owner),
            content=b'{"name": "a\\u0000b"}',
            headers={"Content-Type": "application/json"},
        )
        nul_query = client.post(hook(owner) + "?who=%00", json={"name": "x"})
    body = assert_problem(malformed, 400, "malformed_json")
    assert body["errors"][0]["field"] == "body"
    assert assert_problem(nul_json, 400, "nul_character")["errors"][0]["field"] == "body"
    assert assert_problem(nul_query, 400, "nul_character")["errors"][0]["field"] == "query.who"
    assert form.status_code == text.status_code == 202
    first, second = executions_of(live, workflow_id)
    assert first.inputs["name"] == "name=Ada&role=admin"
    assert second.inputs["name"] == "plain words"


def test_a_body_over_the_limit_is_413(live: LiveServer, owner: Member) -> None:
    workflow_id = publish(live, owner.org_id, greeter())
    limit = live.settings.webhook_max_body_bytes
    payload = json.dumps({"name": "x" * limit}).encode()

    def chunks():  # no Content-Length: the limit is enforced while streaming
        for start in range(0, len(payload), 65536):
            yield payload[start : start + 65536]

    with live.client() as client:
        declared = client.post(hook(owner), content=payload)
        streamed = client.post(hook(owner), content=chunks())
    assert_problem(declared, 413, "payload_too_large")
    assert_problem(streamed, 413, "payload_too_large")
    assert executions_of(live, workflow_id) == []


# ---------------------------------------------------------------------------- token


def test_token_auth(live: LiveServer, owner: Member, secret: Callable[[str], str]) -> None:
    token = secret("HOOK_TOKEN")
    publish(live, owner.org_id, greeter("auth: token\n    secret: ${{ secrets.HOOK_TOKEN }}"))
    payload = {"name": "Ada"}
    with live.client() as client:
        bearer = client.post(
            hook(owner), json=payload, headers={"Authorization": f"Bearer {token}"}
        )
        header = client.post(hook(owner), json=payload, headers={"X-FlowPilot-Token": token})
        wrong = client.post(hook(owner), json=payload, headers={"X-FlowPilot-Token": token + "x"})
        missing = client.post(hook(owner), json=payload)
    assert bearer.status_code == header.status_code == 202
    assert_problem(wrong, 401, "invalid_token")
    assert_problem(missing, 401, "token_required")


def test_a_webhook_whose_secret_is_not_set_is_unavailable(live: LiveServer, owner: Member) -> None:
    publish(live, owner.org_id, greeter("auth: token\n    secret: ${{ secrets.NEVER_SET_42 }}"))
    with live.client() as client:
        response = client.post(hook(owner), json={"name": "x"}, headers={"X-FlowPilot-Token": "t"})
    assert_problem(response, 503, "webhook_secret_missing")


# ---------------------------------------------------------------------------- hmac


@pytest.fixture
def hmac_hook(live: LiveServer, owner: Member, secret: Callable[[str], str]) -> tuple[str, str]:
    """(URL, secret) of an HMAC-signed webhook."""
    value = secret("INVOICE_HOOK")
    publish(live, owner.org_id, greeter("auth: hmac\n    secret: ${{ secrets.INVOICE_HOOK }}"))
    return hook(owner), value


def test_a_valid_signature_is_accepted(live: LiveServer, hmac_hook: tuple[str, str]) -> None:
    url, key = hmac_hook
    body = b'{"name": "Ada"}'
    rotated = signed(key, body, at=int(time.time()) - 1)
    rotated["X-FlowPilot-Signature"] = "v1=" + "0" * 64 + "," + rotated["X-FlowPilot-Signature"]
    with live.client() as client:
        response = client.post(url, content=body, headers=signed(key, body))
        with_old_key_first = client.post(url, content=body, headers=rotated)
    assert response.status_code == 202, response.text
    assert with_old_key_first.status_code == 202, with_old_key_first.text


def test_wrong_and_missing_signatures_are_401(live: LiveServer, hmac_hook: tuple[str, str]) -> None:
    url, key = hmac_hook
    body = b'{"name": "Ada"}'
    with live.client() as client:
        wrong_key = client.post(url, content=body, headers=signed("not-the-secret", body))
        tampered = client.post(url, content=b'{"name": "Eve"}', headers=signed(key, body))
        garbled = client.post(url, content=body, headers={"X-FlowPilot-Signature": "sha256=abc"})
        missing = client.post(url, content=body)
    assert_problem(wrong_key, 401, "invalid_signature")
    assert_problem(tampered, 401, "invalid_signature")
    assert_problem(garbled, 401, "invalid_signature")
    assert_problem(missing, 401, "signature_required")


def test_an_old_signature_is_expired(live: LiveServer, hmac_hook: tuple[str, str]) -> None:
    url, key = hmac_hook
    body = b'{"name": "Ada"}'
    window = live.settings.webhook_replay_seconds
    with live.client() as client:
        old = client.post(
            url, content=body, headers=signed(key, body, at=int(time.time()) - window - 60)
        )
        future = client.post(
            url, content=body, headers=signed(key, body, at=int(time.time()) + window + 60)
        )
    assert_problem(old, 401, "signature_expired")
    assert_problem(future, 401, "signature_expired")


def test_a_replayed_delivery_is_409(live: LiveServer, hmac_hook: tuple[str, str]) -> None:
    url, key = hmac_hook
    body = b'{"name": "Ada"}'
    headers = signed(key, body)
    with live.client() as client:
        first = client.post(url, content=body, headers=headers)
        again = client.post(url, content=body, headers=headers)
        resigned = client.post(
            url, content=body, headers=signed(key, body, at=int(time.time()) + 1)
        )
    assert first.status_code == 202, first.text
    assert_problem(again, 409, "replayed")
    assert resigned.status_code == 202, resigned.text  # a new signature is a new delivery


def test_rejected_deliveries_leave_no_secret_in_the_logs(
    live: LiveServer, hmac_hook: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    url, key = hmac_hook
    marker = f"body-marker-{uuid.uuid4().hex}"
    body = json.dumps({"name": marker}).encode()
    caplog.set_level(logging.DEBUG)
    with live.client() as client:
        client.post(url, content=body, headers=signed("wrong", body))
        client.post(url, content=b"{", headers=signed(key, b"{"))
        client.post(url, content=body, headers={"X-FlowPilot-Token": key, **signed(key, body)})
    logged = "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    assert marker not in logged and key not in logged
