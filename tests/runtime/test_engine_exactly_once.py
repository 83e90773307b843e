"""Exactly-once state: duplicate, stale or unknown step results, timers and child results
change nothing (brokers redeliver; timers may fire twice)."""

from __future__ import annotations

import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from flowpilot.stdlib.errors import NodeError
from tests.runtime.engine_helpers import fails, http, make


def started(body: str, handlers=None, **options):  # type: ignore[no-untyped-def]
    r = make(body, handlers, **options)
    engine = r.engine()
    r._apply(engine, engine.start())
    return r


def deliver(r, step, **result):  # type: ignore[no-untyped-def]
    """Hand one result to a fresh engine, as the service would; return its actions."""
    engine = r.engine()
    actions = engine.step_finished(step.step_key, step.attempt, **result)
    r._apply(engine, actions)
    return actions


def frozen(r) -> str:  # type: ignore[no-untyped-def]
    return json.dumps([r.state, repr(r.records), repr(r.finish)], sort_keys=True)


def test_a_duplicate_result_is_ignored() -> None:
    r = started(f"steps:\n  - {http('a')}\n  - {http('b')}\n")
    first = r.dispatched.pop(0)
    deliver(r, first, output={"n": 1})
    before = frozen(r)
    assert deliver(r, first, output={"n": 2}) == []
    assert frozen(r) == before
    assert [d.step_key for d in r.dispatched] == ["b"]


def test_a_result_for_an_earlier_attempt_is_ignored() -> None:
    r = started(
        f"steps:\n  - {http('a', extra=', retry: { max_attempts: 3, delay: 1s }')}\n",
    )
    attempt1 = r.dispatched.pop(0)
    error = {"message": "x", "type": "t", "step": "a", "details": None, "attempts": 1}
    deliver(r, attempt1, error=error)
    r.settle(fire_timers=False)
    before = frozen(r)
    assert deliver(r, attempt1, output={"late": True}) == []
    assert deliver(r, attempt1, error=error) == []
    assert frozen(r) == before


def test_a_result_for_an_unknown_step_is_ignored() -> None:
    r = started(f"steps: [ {http('a')} ]\n")
    engine = r.engine()
    assert engine.step_finished("nope", 1, output=1) == []
    assert engine.step_finished("a", 7, output=1) == []


def test_a_retry_timer_firing_twice_starts_one_attempt() -> None:
    r = started(
        f"steps:\n  - {http('a', extra=', retry: { max_attempts: 3, delay: 1s }')}\n",
        {"https://a.example.com": fails()},
    )
    attempt1 = r.dispatched.pop(0)
    error = {"message": "x", "type": "t", "step": "a", "details": None, "attempts": 1}
    deliver(r, attempt1, error=error)
    (_, _, retry) = next(t for t in r.timers if t[2].kind == "retry")
    for _ in range(2):
        engine = r.engine()
        r._apply(engine, engine.timer_fired(retry.kind, retry.payload))
    assert [(d.step_key, d.attempt) for d in r.dispatched] == [("a", 2)]


def test_a_wait_timer_firing_twice_runs_the_next_step_once() -> None:
    r = started(f"steps:\n  - {{ id: pause, wait: 1m }}\n  - {http('b')}\n")
    (_, _, timer) = r.timers[0]
    for _ in range(3):
        engine = r.engine()
        r._apply(engine, engine.timer_fired(timer.kind, timer.payload))
    assert [d.step_key for d in r.dispatched] == ["b"]


def test_a_repeat_delay_timer_firing_twice_starts_one_round() -> None:
    r = started(
        """
steps:
  - id: poll
    repeat: { until: "${{ iteration >= 3 }}", max_iterations: 5, delay: 10s }
    steps: [ { id: check, uses: http.request, with: { url: "https://job.example.com" } } ]
"""
    )
    deliver(r, r.dispatched.pop(0), output={})
    (_, _, timer) = r.timers[-1]
    assert timer.kind == "repeat_delay"
    for _ in range(2):
        engine = r.engine()
        r._apply(engine, engine.timer_fired(timer.kind, timer.payload))
    assert [d.step_key for d in r.dispatched] == ["poll#2/check"]


def test_results_and_timers_after_the_end_are_ignored() -> None:
    r = started(f"timeout: 1h\nsteps:\n  - {http('a', extra=', timeout: 5m')}\n")
    step = r.dispatched.pop(0)
    deliver(r, step, output={})
    assert r.finish.status == "succeeded"
    before = frozen(r)
    assert deliver(r, step, output={}) == []
    for _, _, timer in r.timers:
        engine = r.engine()
        assert engine.timer_fired(timer.kind, timer.payload) == []
    assert frozen(r) == before


def test_a_result_replayed_from_the_same_stored_state_gives_the_same_actions() -> None:
    r = started(f"steps:\n  - {http('a')}\n  - {http('b')}\n")
    step = r.dispatched.pop(0)
    first = r.engine().step_finished(step.step_key, step.attempt, output={"n": 1})
    second = r.engine().step_finished(step.step_key, step.attempt, output={"n": 1})
    assert first == second


@settings(max_examples=40, deadline=None)
@given(
    failures=st.lists(st.integers(0, 3), min_size=1, max_size=4),
    seed=st.integers(0, 2**32 - 1),
)
def test_redelivered_results_and_timers_never_change_the_outcome(
    failures: list[int], seed: int
) -> None:
    """Branches that fail a few times before succeeding, with every result and timer delivered
    up to three times in a random order, end exactly like a clean run."""
    branches = "\n".join(
        f"      - {http(f'b{i}', extra=', retry: { max_attempts: 4, backoff: fixed, delay: 1s }')}"
        for i in range(len(failures))
    )
    body = f'steps:\n  - id: fan\n    parallel:\n{branches}\noutputs: {{ fan: "${{{{ steps.fan.output }}}}" }}\n'
    handlers = {
        f"https://b{i}.example.com": fails(until=count + 1) for i, count in enumerate(failures)
    }
    clean = make(body, handlers).start()

    rng = random.Random(seed)
    r = started(body, handlers)
    inbox: list[tuple[str, object]] = []
    while r.finish is None:
        for step in r.dispatched:
            inbox.extend([("step", step)] * rng.randint(1, 3))
        r.dispatched.clear()
        for _, _, timer in r.timers:
            inbox.extend([("timer", timer)] * rng.randint(1, 3))
        r.timers.clear()
        assert inbox, "the run is stuck"
        kind, item = inbox.pop(rng.randrange(len(inbox)))
        engine = r.engine()
        if kind == "timer":
            r._apply(engine, engine.timer_fired(item.kind, item.payload))  # type: ignore[attr-defined]
            continue
        args = item.args  # type: ignore[attr-defined]
        try:
            output = r.handlers["http.request"](args, item.attempt)  # type: ignore[attr-defined]
        except NodeError as exc:
            error = engine.to_error(exc, item.node_id, item.attempt)  # type: ignore[attr-defined]
            r._apply(engine, engine.step_finished(item.step_key, item.attempt, error=error))  # type: ignore[attr-defined]
        else:
            r._apply(engine, engine.step_finished(item.step_key, item.attempt, output=output))  # type: ignore[attr-defined]
    assert (r.finish.status, r.finish.outputs) == (clean.finish.status, clean.finish.outputs)
