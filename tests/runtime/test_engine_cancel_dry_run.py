"""Cancelling an execution mid-run, and dry runs (mocks instead of side effects, no waits)."""

from __future__ import annotations

from flowpilot.runtime import actions as A
from tests.runtime.engine_helpers import http, make, run, statuses


def started(body: str, **options):  # type: ignore[no-untyped-def]
    r = make(body, **options)
    engine = r.engine()
    r._apply(engine, engine.start())
    return r


def test_cancel_cancels_running_steps_and_ends_the_execution_cancelled() -> None:
    r = started(
        f"""
steps:
  - id: fan
    parallel:
      - {http("a")}
      - {http("b")}
  - {http("never")}
catch: [ {http("alert")} ]
finally: [ {http("tidy")} ]
"""
    )
    assert [d.step_key for d in r.dispatched] == ["a", "b"]
    engine = r.engine()
    actions = engine.cancel()
    r._apply(engine, actions)
    cancels = [a for a in actions if isinstance(a, A.CancelStepRuns)]
    assert sorted(key for c in cancels for key in c.step_keys) == ["a", "b"]
    assert r.finish == A.Finish("cancelled", None, r.finish.error)
    assert r.finish.error["type"] == "cancelled"
    assert statuses(r) == {"a": "cancelled", "b": "cancelled", "fan": "cancelled"}
    pending = list(r.dispatched)
    r.dispatched.clear()
    for step in pending:
        engine = r.engine()
        assert engine.step_finished(step.step_key, step.attempt, output={}) == []


def test_cancel_while_waiting_ignores_the_wait_timer_afterwards() -> None:
    r = started("steps:\n  - { id: pause, wait: 1h }\n  - { id: after, set: { x: 1 } }\n")
    r.cancel()
    assert r.finish.status == "cancelled"
    (_, _, timer) = r.timers[0]
    engine = r.engine()
    assert engine.timer_fired(timer.kind, timer.payload) == []
    assert statuses(r) == {"pause": "cancelled"}


def test_cancel_while_a_child_runs_cancels_the_child() -> None:
    r = started("steps: [ { id: child, call: billing-sync } ]\n")
    engine = r.engine()
    actions = engine.cancel()
    assert A.CancelChild("child") in actions


def test_cancel_inside_a_foreach_records_the_running_iterations_cancelled() -> None:
    r = started(
        """
steps:
  - id: each
    foreach: ${{ [1, 2, 3] }}
    concurrency: 2
    steps: [ { id: s, uses: http.request, with: { url: "https://x.example.com/${{ item }}" } } ]
"""
    )
    r.cancel()
    assert statuses(r) == {"each[0]/s": "cancelled", "each[1]/s": "cancelled", "each": "cancelled"}


def test_cancel_after_the_end_changes_nothing() -> None:
    r = run(f"steps: [ {http('a')} ]\n")
    finish = r.finish
    engine = r.engine()
    assert engine.cancel() == []
    assert r.finish == finish


# ----------------------------------------------------------------------------- dry run


def test_dry_run_uses_the_mock_of_side_effecting_steps() -> None:
    r = run(
        """
inputs: { n: integer }
steps:
  - id: post
    uses: http.request
    with: { url: "https://erp.example.com", method: POST }
    mock: { status: 201, json: { id: "${{ inputs.n * 2 }}" } }
  - { id: after, set: { id: "${{ steps.post.output.json.id }}" } }
outputs: { id: "${{ vars.id }}" }
""",
        inputs={"n": 21},
        dry_run=True,
    )
    assert r.finish.status == "succeeded"
    assert r.finish.outputs == {"id": 42}
    assert r.calls == []
    assert any("mock" in log.message and log.step_key == "post" for log in r.logs)


def test_dry_run_without_a_mock_returns_null_with_a_warning() -> None:
    r = run(
        f"""
steps: [ {http("post")} ]
outputs: {{ out: "${{{{ steps.post.output }}}}", status: "${{{{ steps.post.status }}}}" }}
""",
        dry_run=True,
    )
    assert r.finish.outputs == {"out": None, "status": "succeeded"}
    assert r.calls == []
    warnings = [log for log in r.logs if log.level == "warning" and log.step_key == "post"]
    assert len(warnings) == 1


def test_dry_run_skips_waits_with_a_note() -> None:
    r = make(
        "steps:\n  - { id: pause, wait: 3d }\n  - { id: after, set: { x: 1 } }\n", dry_run=True
    )
    start = r.clock
    r.start()
    assert r.finish.status == "succeeded"
    assert r.clock == start and r.timers == []
    assert any("dry run" in log.message for log in r.logs if log.step_key == "pause")


def test_dry_run_mocks_approvals() -> None:
    r = run(
        """
steps:
  - id: approve
    uses: human.approval
    with: { message: "ok?", approvers: [a@example.com] }
    mock: { approved: true }
outputs: { approved: "${{ steps.approve.output.approved }}" }
""",
        dry_run=True,
    )
    assert r.finish.outputs == {"approved": True}
    assert not [e for e in r.events if e.type == "approval.requested"]


def test_dry_run_runs_pure_inline_steps_for_real() -> None:
    r = run(
        """
steps:
  - { id: note, uses: core.noop, with: { value: { n: "${{ 1 + 1 }}" } } }
outputs: { out: "${{ steps.note.output }}" }
""",
        dry_run=True,
    )
    assert r.finish.status == "succeeded", r.finish
    assert r.finish.outputs == {"out": {"n": 2}}
    assert r.calls == []


def test_execution_dry_run_is_visible_to_expressions() -> None:
    r = run(
        'steps: [ { id: s, set: { d: "${{ execution.dry_run }}" } } ]\n'
        'outputs: { d: "${{ vars.d }}" }\n',
        dry_run=True,
    )
    assert r.finish.outputs == {"d": True}


def test_dry_run_skips_the_delay_between_repeat_rounds() -> None:
    r = make(
        """
vars: { n: 0 }
steps:
  - id: poll
    repeat: { until: "${{ vars.n >= 3 }}", max_iterations: 5, delay: 30s }
    steps: [ { id: bump, set: { n: "${{ vars.n + 1 }}" } } ]
outputs: { n: "${{ vars.n }}" }
""",
        dry_run=True,
    )
    start = r.clock
    r.start()
    assert r.finish.outputs == {"n": 3}
    assert r.clock == start and r.timers == []


def test_a_mock_is_ignored_outside_a_dry_run() -> None:
    r = run(
        f"""
steps:
  - {http("post", extra=", mock: { fake: true }")}
outputs: {{ out: "${{{{ steps.post.output.url }}}}" }}
"""
    )
    assert r.finish.outputs == {"out": "https://post.example.com"}
    assert [key for key, _ in r.calls] == ["post"]
