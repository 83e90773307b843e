"""``parallel``: branches run together, join, ``fail_fast`` and ``max_concurrency``."""

from __future__ import annotations

from flowpilot.runtime import actions as A
from tests.runtime.engine_helpers import fails, http, make, run, statuses


def test_branches_are_dispatched_together_and_the_output_maps_branch_ids() -> None:
    r = make(
        f"""
steps:
  - id: fan
    parallel:
      - {http("left")}
      - id: right
        steps:
          - {http("r1")}
          - {{ id: r2, set: {{ got: "${{{{ steps.r1.output.url }}}}" }} }}
  - {{ id: after, set: {{ left: "${{{{ steps.fan.output.left.url }}}}" }} }}
outputs:
  fan: ${{{{ steps.fan.output }}}}
  left: ${{{{ vars.left }}}}
  got: ${{{{ vars.got }}}}
"""
    )
    engine = r.engine()
    r._apply(engine, engine.start())
    assert sorted(d.step_key for d in r.dispatched) == ["left", "r1"]
    r.settle()
    assert r.finish.status == "succeeded"
    assert r.finish.outputs == {
        "fan": {
            "left": {"status": 200, "url": "https://left.example.com", "attempt": 1},
            "right": None,
        },
        "left": "https://left.example.com",
        "got": "https://r1.example.com",
    }


def test_max_concurrency_limits_how_many_branches_run_at_once() -> None:
    r = make(
        f"""
steps:
  - id: fan
    max_concurrency: 2
    parallel:
      - {http("a")}
      - {http("b")}
      - {http("c")}
      - {http("d")}
"""
    )
    engine = r.engine()
    r._apply(engine, engine.start())
    assert [d.step_key for d in r.dispatched] == ["a", "b"]
    r.settle()
    assert r.finish.status == "succeeded"
    assert [key for key, _ in r.calls] == ["a", "b", "c", "d"]


def test_fail_fast_cancels_the_other_branches_and_fails_the_step() -> None:
    r = run(
        f"""
steps:
  - id: fan
    parallel:
      - {http("bad")}
      - {http("slow")}
      - {http("queued")}
    max_concurrency: 2
""",
        {"https://bad.example.com": fails("bad branch")},
    )
    assert r.finish.status == "failed"
    assert r.finish.error["step"] == "bad" and r.finish.error["message"] == "bad branch"
    assert statuses(r) == {"bad": "failed", "slow": "cancelled", "fan": "failed"}
    cancels = [a for a in r.records if a.step_key == "slow"]
    assert cancels[-1].status == "cancelled"
    assert [key for key, _ in r.calls] == ["bad"]


def test_fail_fast_sends_cancel_step_runs_for_dispatched_siblings() -> None:
    r = make(
        f"""
steps:
  - id: fan
    parallel:
      - {http("bad")}
      - {http("slow")}
""",
        {"https://bad.example.com": fails()},
    )
    engine = r.engine()
    r._apply(engine, engine.start())
    bad = r.dispatched.pop(0)
    engine = r.engine()
    error = {"message": "x", "type": "t", "step": "bad", "details": None, "attempts": 1}
    actions = engine.step_finished(bad.step_key, 1, error=error)
    assert A.CancelStepRuns(["slow"]) in actions


def test_without_fail_fast_every_branch_finishes_then_the_step_fails() -> None:
    r = run(
        f"""
steps:
  - id: fan
    fail_fast: false
    parallel:
      - {http("bad")}
      - {http("ok1")}
      - {http("ok2")}
""",
        {"https://bad.example.com": fails("first")},
    )
    assert r.finish.status == "failed"
    assert r.finish.error["message"] == "first"
    assert statuses(r) == {"bad": "failed", "ok1": "succeeded", "ok2": "succeeded", "fan": "failed"}


def test_a_branch_with_continue_on_error_does_not_fail_the_parallel() -> None:
    r = run(
        f"""
steps:
  - id: fan
    parallel:
      - {http("bad", extra=", continue_on_error: true")}
      - {http("ok")}
outputs:
  fan: ${{{{ steps.fan.output }}}}
""",
        {"https://bad.example.com": fails()},
    )
    assert r.finish.status == "succeeded"
    assert r.finish.outputs["fan"]["bad"] is None
    assert r.finish.outputs["fan"]["ok"]["url"] == "https://ok.example.com"


def test_a_skipped_branch_has_null_output() -> None:
    r = run(
        f"""
steps:
  - id: fan
    parallel:
      - {http("a", extra=", if: '${{ false }}'")}
      - {http("b")}
outputs:
  fan: ${{{{ steps.fan.output }}}}
"""
    )
    assert r.finish.outputs["fan"]["a"] is None
    assert statuses(r)["a"] == "skipped"
