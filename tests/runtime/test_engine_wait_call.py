"""``wait`` (a duration or ``until``) and ``call`` (a child execution)."""

from __future__ import annotations

import pytest

from flowpilot.runtime import actions as A
from tests.runtime.engine_helpers import make, run, statuses


def test_wait_a_duration_arms_a_durable_timer_and_goes_on_when_it_fires() -> None:
    r = make("steps:\n  - { id: pause, wait: 10m }\n  - { id: after, set: { x: 1 } }\n")
    start = r.clock
    r.start()
    assert r.finish.status == "succeeded"
    assert r.clock == start + 600
    waiting = [rec for rec in r.records if rec.step_key == "pause" and rec.status == "waiting"]
    assert len(waiting) == 1
    assert statuses(r) == {"pause": "succeeded", "after": "succeeded"}


def test_nothing_runs_before_the_wait_timer_fires() -> None:
    r = make("steps:\n  - { id: pause, wait: 10m }\n  - { id: after, set: { x: 1 } }\n")
    engine = r.engine()
    r._apply(engine, engine.start())
    r.settle(fire_timers=False)
    assert r.finish is None
    assert statuses(r) == {}
    assert [t.kind for _, _, t in r.timers] == ["wait"]


@pytest.mark.parametrize(
    ("until", "waited"),
    [
        ("1970-01-12T13:46:40Z", 0),  # clock starts at 1,000,000 s after the epoch
        ("1970-01-12T14:46:40Z", 3600),
        ("1970-01-12T14:46:40+00:00", 3600),
        ("1970-01-12T14:46:40", 3600),  # no offset: UTC
        (1_000_100, 100),
        (5, 0),  # in the past: no wait
    ],
)
def test_wait_until_a_timestamp_or_epoch_seconds(until: object, waited: float) -> None:
    r = make(
        """
inputs: { at: any }
steps:
  - { id: later, wait: { until: "${{ inputs.at }}" } }
""",
        inputs={"at": until},
    )
    start = r.clock
    r.start()
    assert r.finish.status == "succeeded"
    assert r.clock - start == waited


def test_wait_until_something_that_is_not_a_timestamp_fails_the_step() -> None:
    r = run(
        """
inputs: { at: any }
steps:
  - { id: later, wait: { until: "${{ inputs.at }}" } }
""",
        inputs={"at": "next tuesday"},
    )
    assert r.finish.status == "failed"
    assert r.finish.error["step"] == "later"


def test_call_starts_a_child_and_its_outputs_become_the_step_output() -> None:
    r = run(
        """
inputs: { account: string }
steps:
  - id: child
    call: billing-sync
    with: { account: "${{ inputs.account }}" }
  - { id: after, set: { invoices: "${{ steps.child.output.invoices }}" } }
outputs: { invoices: "${{ vars.invoices }}" }
""",
        inputs={"account": "acme"},
    )
    assert r.finish is None
    assert r.children == [A.StartChild("child", "billing-sync", {"account": "acme"})]
    r.child_done("child", "succeeded", {"invoices": 3})
    assert r.finish.status == "succeeded"
    assert r.finish.outputs == {"invoices": 3}


def test_a_failed_child_fails_the_call_step_with_its_message() -> None:
    r = run(
        """
steps:
  - id: guarded
    try: [ { id: child, call: billing-sync } ]
    catch: [ { id: c, set: { error: "${{ error }}" } } ]
outputs: { error: "${{ vars.error }}" }
"""
    )
    child_error = {
        "message": "no account",
        "type": "fail",
        "step": "x",
        "details": None,
        "attempts": 1,
    }
    r.child_done("child", "failed", None, child_error)
    error = r.finish.outputs["error"]
    assert error["type"] == "child_failed" and error["step"] == "child"
    assert "no account" in error["message"]
    assert error["details"] == child_error


@pytest.mark.parametrize("status", ["cancelled", "timed_out"])
def test_a_cancelled_or_timed_out_child_fails_the_call(status: str) -> None:
    r = run("steps: [ { id: child, call: billing-sync } ]\n")
    r.child_done("child", status, None)
    assert r.finish.status == "failed"
    assert r.finish.error["message"] == f"child: child execution {status}"


def test_a_duplicate_child_result_is_ignored() -> None:
    r = run("steps: [ { id: child, call: billing-sync } ]\noutputs: { n: 1 }\n")
    r.child_done("child", "succeeded", {"a": 1})
    finish = r.finish
    records = list(r.records)
    engine = r.engine()
    assert engine.child_finished("child", "failed", None, None) == []
    assert (r.finish, r.records) == (finish, records)


def test_a_call_step_timeout_cancels_the_child() -> None:
    r = run("steps: [ { id: child, call: billing-sync, timeout: 1h } ]\n")
    assert r.finish.status == "failed"
    assert r.finish.error["type"] == "timeout"


def test_a_call_inside_foreach_gets_one_child_per_item() -> None:
    r = run(
        """
steps:
  - id: each
    foreach: ${{ ['a', 'b'] }}
    concurrency: 2
    collect: ${{ steps.child.output.n }}
    steps: [ { id: child, call: billing-sync, with: { account: "${{ item }}" } } ]
outputs: { out: "${{ steps.each.output }}" }
"""
    )
    assert [(c.step_key, c.inputs) for c in r.children] == [
        ("each[0]/child", {"account": "a"}),
        ("each[1]/child", {"account": "b"}),
    ]
    r.child_done("each[1]/child", "succeeded", {"n": 2})
    r.child_done("each[0]/child", "succeeded", {"n": 1})
    assert r.finish.outputs == {"out": [1, 2]}
