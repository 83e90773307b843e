"""Secrets at run time: sealed in what goes to workers, masked in snapshots, never in logs,
errors or the stored state (docs/dsl.md §17)."""

from __future__ import annotations

import json

from flowpilot.runtime.secrets import DictSecretProvider, SecretsView, display, unseal
from tests.runtime.engine_helpers import fails, make, texts

TOKEN = "s3cr3t-token-value"

AUTH = """
steps:
  - id: call
    uses: http.request
    with:
      url: "https://api.example.com"
      headers: { Authorization: "Bearer ${{ secrets.API_TOKEN }}", X-Raw: "${{ secrets.API_TOKEN }}" }
"""


def started(body: str, handlers=None, **options):  # type: ignore[no-untyped-def]
    r = make(body, handlers, secrets={"API_TOKEN": TOKEN}, **options)
    engine = r.engine()
    r._apply(engine, engine.start())
    return r


def test_a_secret_in_an_argument_is_sealed_for_the_worker_and_masked_in_the_snapshot() -> None:
    r = started(AUTH)
    (step,) = r.dispatched
    assert TOKEN not in json.dumps(step.args)
    assert step.args["headers"]["X-Raw"] == {"$secret": "API_TOKEN"}
    assert step.args["headers"]["Authorization"] == {
        "$sealed": ["Bearer ", {"$secret": "API_TOKEN"}]
    }
    assert step.inputs["headers"] == {"Authorization": "Bearer ***", "X-Raw": "***"}
    assert display(step.args)["headers"] == step.inputs["headers"]
    view = SecretsView(DictSecretProvider({"API_TOKEN": TOKEN}), "org")
    assert unseal(step.args, view)["headers"]["Authorization"] == f"Bearer {TOKEN}"


def test_the_worker_receives_the_real_value() -> None:
    seen = []
    r = started(AUTH, {"https://api.example.com": lambda args, attempt: seen.append(args)})
    r.settle()
    assert seen[0]["headers"] == {"Authorization": f"Bearer {TOKEN}", "X-Raw": TOKEN}
    assert r.finish.status == "succeeded"


def test_a_node_error_quoting_the_secret_is_masked_in_logs_errors_and_catch_scopes() -> None:
    body = AUTH.replace("    with:", "    retry: { max_attempts: 2, delay: 1s }\n    with:")
    r = started(body, {"https://api.example.com": fails(f"rejected header Bearer {TOKEN}")})
    r.settle()
    assert r.finish.status == "failed"
    assert r.finish.error["message"] == "rejected header Bearer ***"
    assert TOKEN not in texts(r)
    assert TOKEN not in json.dumps(r.state)


def fire_next_timer(r) -> None:  # type: ignore[no-untyped-def]
    r.timers.sort()
    due, _, timer = r.timers.pop(0)
    r.clock = due
    engine = r.engine()
    r._apply(engine, engine.timer_fired(timer.kind, timer.payload))


def test_a_secret_kept_in_a_var_is_still_sealed_in_a_later_event() -> None:
    r = started(
        """
vars:
  token: ${{ secrets.API_TOKEN }}
steps:
  - { id: pause, wait: 1m }
  - id: call
    uses: http.request
    with:
      url: "https://api.example.com"
      headers: { X-Token: "${{ vars.token }}" }
"""
    )
    fire_next_timer(r)
    (step,) = r.dispatched
    assert step.args["headers"] == {"X-Token": {"$secret": "API_TOKEN"}}
    assert step.inputs["headers"] == {"X-Token": "***"}
    seen = []
    r.handlers["http.request"] = lambda args, attempt: seen.append(args) or {}
    r.settle()
    assert r.finish.status == "succeeded"
    assert seen[0]["headers"] == {"X-Token": TOKEN}
    assert TOKEN not in texts(r)


def test_the_stored_state_never_holds_a_secret_value() -> None:
    r = started(
        """
vars:
  token: ${{ secrets.API_TOKEN }}
steps:
  - { id: keep, set: { header: "Bearer ${{ secrets.API_TOKEN }}" } }
  - { id: pause, wait: 1m }
  - id: call
    uses: http.request
    with:
      url: "https://api.example.com"
      headers: { X-Token: "${{ vars.token }}", Authorization: "${{ vars.header }}" }
"""
    )
    assert TOKEN not in json.dumps(r.state)
    seen = []
    r.handlers["http.request"] = lambda args, attempt: seen.append(args) or {}
    r.settle()
    assert seen[0]["headers"] == {"X-Token": TOKEN, "Authorization": f"Bearer {TOKEN}"}
    assert TOKEN not in json.dumps(r.state)


def test_a_missing_secret_fails_the_step_with_secret_missing() -> None:
    r = make(AUTH)
    r.start()
    assert r.finish.status == "failed"
    assert r.finish.error["type"] == "secret_missing"
    assert "API_TOKEN" in r.finish.error["message"]
    assert r.calls == []


def test_an_output_echoing_a_secret_is_sealed_in_the_state_and_masked_in_the_record() -> None:
    r = started(
        AUTH
        + """
  - { id: pause, wait: 1m }
  - id: again
    uses: http.request
    with:
      url: "https://again.example.com"
      headers: { X-Echo: "${{ steps.call.output.json.token }}" }
""",
        {"https://api.example.com": lambda args, attempt: {"json": {"token": TOKEN}}},
    )
    seen = []
    r.handlers["http.request"] = lambda args, attempt: (
        {"json": {"token": TOKEN}}
        if args["url"] == "https://api.example.com"
        else seen.append(args)
    )
    r.settle()
    assert r.finish.status == "succeeded"
    assert seen[0]["headers"] == {"X-Echo": TOKEN}
    record = next(rec for rec in r.records if rec.step_key == "call" and rec.finished)
    assert record.output == {"json": {"token": "***"}}
    assert TOKEN not in json.dumps(r.state)
    assert TOKEN not in texts(r)


def test_execution_outputs_never_show_a_secret_value() -> None:
    r = started(
        AUTH + 'outputs: { echoed: "${{ steps.call.output.json }}" }\n',
        {"https://api.example.com": lambda args, attempt: {"json": {"token": TOKEN}}},
    )
    r.settle()
    assert r.finish.outputs == {"echoed": {"token": "***"}}
