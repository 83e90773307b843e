"""``human.approval``: approve, reject, ``min_approvals``, and timeouts with ``on_timeout``."""

from __future__ import annotations

import pytest

from flowpilot.runtime import actions as A
from tests.runtime.engine_helpers import make, statuses


def approval(extra: str = "") -> str:
    return f"""
steps:
  - id: approve
    uses: human.approval
    with:
      message: "Pay {{{{ inputs.amount }}}} EUR?"
      approvers: [cfo@example.com, ceo@example.com, role:finance]
      {extra}
  - {{ id: after, set: {{ decision: "${{{{ steps.approve.output.decision }}}}" }} }}
inputs: {{ amount: number }}
outputs:
  result: ${{{{ steps.approve.output }}}}
"""


def _settled(body: str, **options):  # type: ignore[no-untyped-def]
    r = make(body, inputs={"amount": 120}, **options)
    engine = r.engine()
    r._apply(engine, engine.start())
    return r.settle(fire_timers=False)


def waiting(extra: str = "", **options):  # type: ignore[no-untyped-def]
    """The approval flow, run until it waits for a decision (its timeout not yet due)."""
    return _settled(approval(extra), **options)


def decide(r, **decision):  # type: ignore[no-untyped-def]
    """Signal one decision without letting the approval's timeout come due."""
    engine = r.engine()
    r._apply(engine, engine.signal("approve", decision))
    return r.settle(fire_timers=False)


def test_an_approval_waits_and_announces_itself() -> None:
    r = waiting("title: Invoice")
    assert r.finish is None
    assert r.calls == []
    requested = [e for e in r.events if e.type == "approval.requested"]
    assert requested[0].step_key == "approve"
    assert requested[0].data["message"] == "Pay 120 EUR?"
    assert requested[0].data["title"] == "Invoice"
    assert [t.kind for _, _, t in r.timers] == ["approval_timeout"]
    assert [rec.status for rec in r.records if rec.step_key == "approve"] == ["waiting"]


def test_approve_completes_the_step_with_the_decision() -> None:
    r = decide(waiting(), approved=True, by="cfo@example.com", comment="ok")
    assert r.finish.status == "succeeded"
    result = r.finish.outputs["result"]
    assert result["approved"] is True and result["decision"] == "approved"
    assert (result["by"], result["comment"]) == ("cfo@example.com", "ok")
    assert [resp["by"] for resp in result["responses"]] == ["cfo@example.com"]
    assert statuses(r)["after"] == "succeeded"


def test_reject_completes_the_step_unapproved_and_the_flow_goes_on() -> None:
    r = decide(waiting(), approved=False, by="cfo@example.com")
    assert r.finish.status == "succeeded"
    assert r.finish.outputs["result"]["approved"] is False
    assert r.finish.outputs["result"]["decision"] == "rejected"


def test_min_approvals_waits_for_enough_distinct_approvers() -> None:
    r = waiting("min_approvals: 2")
    decide(r, approved=True, by="cfo@example.com")
    assert r.finish is None
    decide(r, approved=True, by="cfo@example.com")
    assert r.finish is None, "one person approving twice is one approval"
    decide(r, approved=True, by="ceo@example.com")
    assert r.finish.status == "succeeded"
    result = r.finish.outputs["result"]
    assert result["approved"] is True and result["by"] == "ceo@example.com"
    assert len({resp["by"] for resp in result["responses"]}) == 2


def test_with_min_approvals_one_rejection_ends_it() -> None:
    r = waiting("min_approvals: 3")
    decide(r, approved=True, by="cfo@example.com")
    decide(r, approved=False, by="ceo@example.com", comment="no")
    assert r.finish.status == "succeeded"
    result = r.finish.outputs["result"]
    assert result["decision"] == "rejected" and result["by"] == "ceo@example.com"
    assert [resp["approved"] for resp in result["responses"]] == [True, False]


def test_a_signal_for_a_step_that_is_not_waiting_is_refused_without_changing_anything() -> None:
    r = decide(waiting(), approved=True, by="cfo@example.com")
    state, records = r.state, list(r.records)
    with pytest.raises(LookupError):
        decide(r, approved=False, by="x@example.com")
    assert (r.state, r.records) == (state, records)


@pytest.mark.parametrize(
    ("on_timeout", "approved"),
    [("reject", False), ("approve", True), (None, False)],
)
def test_a_timeout_decides_by_on_timeout(on_timeout: str | None, approved: bool) -> None:
    extra = f"on_timeout: {on_timeout}" if on_timeout else ""
    r = waiting("timeout: 2d\n      " + extra)
    start = r.clock
    r.settle()
    assert r.clock - start == 2 * 86400
    assert r.finish.status == "succeeded"
    result = r.finish.outputs["result"]
    assert result["approved"] is approved and result["decision"] == "timed_out"
    assert result["by"] is None


def test_the_default_approval_timeout_is_three_days() -> None:
    r = waiting()
    start = r.clock
    r.settle()
    assert r.clock - start == 3 * 86400


def test_on_timeout_fail_fails_the_step_with_human_timeout() -> None:
    r = waiting("timeout: 1h\n      on_timeout: fail").settle()
    assert r.finish.status == "failed"
    assert r.finish.error["type"] == "human_timeout"
    assert r.finish.error["step"] == "approve"


def test_a_decision_after_the_timeout_is_refused() -> None:
    r = waiting("timeout: 1h").settle()
    with pytest.raises(LookupError):
        decide(r, approved=True, by="cfo@example.com")


def test_a_step_timeout_on_an_approval_fails_it_and_cancels_the_request() -> None:
    body = approval("timeout: 2d").replace(
        "  - id: approve\n", "  - id: approve\n    timeout: 1h\n"
    )
    r = _settled(body)
    r.timers.sort()
    due, _, timer = r.timers.pop(0)
    assert timer.kind == "step_timeout"
    engine = r.engine()
    r.clock = due
    actions = engine.timer_fired(timer.kind, timer.payload)
    r._apply(engine, actions)
    assert A.CancelStepRuns(["approve"]) in actions
    assert r.finish.status == "failed" and r.finish.error["type"] == "timeout"


def test_cancelling_a_waiting_approval_cancels_its_request() -> None:
    r = waiting().cancel()
    assert r.finish.status == "cancelled"
    assert statuses(r)["approve"] == "cancelled"


def test_approvals_inside_a_foreach_are_decided_one_by_one() -> None:
    r = _settled(
        """
steps:
  - id: each
    foreach: ${{ ['a@example.com', 'b@example.com'] }}
    concurrency: 2
    collect: ${{ steps.ok.output.approved }}
    steps:
      - { id: ok, uses: human.approval, with: { message: "ok?", approvers: ["${{ item }}"] } }
outputs: { out: "${{ steps.each.output }}" }
"""
    )
    requested = [e.step_key for e in r.events if e.type == "approval.requested"]
    assert requested == ["each[0]/ok", "each[1]/ok"]
    for key, approved in [("each[1]/ok", False), ("each[0]/ok", True)]:
        engine = r.engine()
        r._apply(engine, engine.signal(key, {"approved": approved, "by": "x@example.com"}))
    assert r.finish.outputs == {"out": [True, False]}
