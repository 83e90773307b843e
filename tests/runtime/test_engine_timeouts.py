"""Step timeouts (retries included) and the whole-execution ``timeout``."""

from __future__ import annotations

from flowpilot.runtime import actions as A
from tests.runtime.engine_helpers import fails, http, make, statuses


def never_answered(r, key: str) -> None:  # type: ignore[no-untyped-def]
    """Drop the dispatched attempt of ``key`` as if the worker hung."""
    r.dispatched[:] = [d for d in r.dispatched if d.step_key != key]


def start_only(r):  # type: ignore[no-untyped-def]
    engine = r.engine()
    r._apply(engine, engine.start())
    return r


def test_a_hung_uses_step_times_out_and_its_run_is_cancelled() -> None:
    r = start_only(make(f"steps:\n  - {http('a', extra=', timeout: 10s')}\n  - {http('b')}\n"))
    never_answered(r, "a")
    start = r.clock
    engine = r.engine()
    (due, _, timer) = sorted(r.timers)[0]
    assert timer.kind == "step_timeout" and due == start + 10
    r.clock = due
    r.timers.clear()
    actions = engine.timer_fired(timer.kind, timer.payload)
    r._apply(engine, actions)
    assert A.CancelStepRuns(["a"]) in actions
    r.settle()
    assert r.finish.status == "failed"
    assert r.finish.error == {
        "message": "step 'a' timed out after 10s",
        "type": "timeout",
        "step": "a",
        "details": None,
        "attempts": 1,
    }
    assert statuses(r)["a"] == "timed_out"


def test_a_late_result_after_a_step_timeout_is_ignored() -> None:
    r = start_only(
        make(f"steps:\n  - {http('a', extra=', timeout: 10s, continue_on_error: true')}\n")
    )
    late = r.dispatched.pop(0)
    r.settle()
    assert r.finish.status == "succeeded"
    before = list(r.records)
    engine = r.engine()
    assert engine.step_finished(late.step_key, late.attempt, output={"late": True}) == []
    assert r.records == before


def test_the_step_timeout_covers_retries() -> None:
    r = make(
        f"""
steps:
  - {http("a", extra=", timeout: 10s, retry: { max_attempts: 10, backoff: fixed, delay: 3s }")}
""",
        {"https://a.example.com": fails("flaky")},
    ).start()
    assert r.finish.status == "failed"
    assert r.finish.error["type"] == "timeout"
    assert len(r.calls) == 4  # at 0, 3, 6 and 9 seconds


def test_a_timeout_error_can_be_retried_by_retry_on_only_if_it_comes_from_the_node() -> None:
    r = make(
        f"""
steps:
  - {http("a", extra=", retry: { max_attempts: 3, delay: 1s, retry_on: [timeout] }")}
""",
        {"https://a.example.com": fails("request timed out", type="timeout", until=3)},
    ).start()
    assert r.finish.status == "succeeded"
    assert len(r.calls) == 3


def test_a_group_timeout_cancels_the_steps_inside() -> None:
    r = start_only(
        make(
            f"""
steps:
  - id: g
    timeout: 1m
    steps:
      - {http("a")}
      - {http("b")}
"""
        )
    )
    never_answered(r, "a")
    r.settle()
    assert r.finish.status == "failed"
    assert r.finish.error["step"] == "g" and r.finish.error["type"] == "timeout"
    assert statuses(r) == {"a": "cancelled", "g": "timed_out"}


def test_a_step_timeout_inside_try_is_caught() -> None:
    r = start_only(
        make(
            f"""
steps:
  - id: guarded
    try: [ {http("a", extra=", timeout: 5s")} ]
    catch: [ {{ id: c, set: {{ type: "${{{{ error.type }}}}" }} }} ]
outputs: {{ type: "${{{{ vars.type }}}}", status: "${{{{ steps.a.status }}}}" }}
"""
        )
    )
    never_answered(r, "a")
    r.settle()
    assert r.finish.status == "succeeded"
    assert r.finish.outputs == {"type": "timeout", "status": "failed"}


def test_the_execution_timeout_cancels_running_steps_and_ends_timed_out() -> None:
    r = start_only(
        make(
            f"""
timeout: 1h
steps:
  - {http("a")}
catch: [ {http("alert")} ]
finally: [ {http("tidy")} ]
"""
        )
    )
    never_answered(r, "a")
    (due, _, timer) = r.timers[0]
    assert timer.kind == "execution_timeout" and due == r.clock + 3600
    r.settle()
    assert r.finish.status == "timed_out"
    assert r.finish.error["type"] == "timeout"
    assert statuses(r) == {"a": "cancelled"}
    assert r.calls == []


def test_the_execution_timeout_is_ignored_once_the_execution_finished() -> None:
    r = make(f"timeout: 1h\nsteps: [ {http('a')} ]\n").start()
    assert r.finish.status == "succeeded"
    engine = r.engine()
    assert engine.timer_fired("execution_timeout", {}) == []
