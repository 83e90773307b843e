"""Retries of ``uses`` steps: backoff kinds, jitter, ``max_delay``, ``retry_on``, non-retryable
errors and ``Retry-After`` (docs/dsl.md §12)."""

from __future__ import annotations

import random
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowpilot.runtime.retry import DELAY_CEILING_MS, RetryPolicy
from tests.runtime.engine_helpers import fails, make, run, statuses


def retry_gaps(retry: str, handler, **options) -> tuple[list[float], object]:  # type: ignore[no-untyped-def]
    """Seconds between consecutive attempts of step ``a`` under ``retry``."""
    r = make(
        f"""
steps:
  - id: a
    uses: http.request
    with: {{ url: "https://a.example.com" }}
    retry: {retry}
""",
        {"https://a.example.com": handler},
        **options,
    )
    times: list[float] = []
    inner = r.handlers["http.request"]

    def timed(args, attempt):  # type: ignore[no-untyped-def]
        times.append(r.clock)
        return inner(args, attempt)

    r.handlers["http.request"] = timed
    r.start()
    return [round(b - a, 3) for a, b in pairwise(times)], r


@pytest.mark.parametrize(
    ("retry", "gaps"),
    [
        ("{ max_attempts: 4, backoff: fixed, delay: 2s }", [2, 2, 2]),
        ("{ max_attempts: 4, backoff: linear, delay: 2s }", [2, 4, 6]),
        ("{ max_attempts: 5, backoff: exponential, delay: 1s }", [1, 2, 4, 8]),
        ("{ max_attempts: 4, backoff: exponential, delay: 1s, factor: 3 }", [1, 3, 9]),
        ("{ max_attempts: 5, backoff: exponential, delay: 1s, max_delay: 3s }", [1, 2, 3, 3]),
        ("{ max_attempts: 4, backoff: linear, delay: 500ms, max_delay: 1s }", [0.5, 1, 1]),
        ("3", [1, 2]),
    ],
)
def test_backoff_kinds_space_attempts_as_documented(retry: str, gaps: list[float]) -> None:
    seen, r = retry_gaps(retry, fails())
    assert seen == gaps
    assert r.finish.status == "failed"
    assert r.finish.error["attempts"] == len(gaps) + 1


def test_a_retry_that_succeeds_ends_the_step_successfully_with_its_attempt_count() -> None:
    r = run(
        """
steps:
  - id: a
    uses: http.request
    with: { url: "https://a.example.com" }
    retry: { max_attempts: 5, delay: 1s }
outputs: { attempts: "${{ steps.a.attempts }}", out: "${{ steps.a.output }}" }
""",
        {"https://a.example.com": fails(until=3)},
    )
    assert r.finish.status == "succeeded"
    assert r.finish.outputs == {"attempts": 3, "out": {"attempt": 3}}
    assert [rec.status for rec in r.records if rec.step_key == "a" and rec.finished] == [
        "failed",
        "failed",
        "succeeded",
    ]
    retry_logs = [log for log in r.logs if "retrying" in log.message]
    assert len(retry_logs) == 2 and "attempt 1 of 5 failed (http_status)" in retry_logs[0].message


def test_defaults_retry_applies_to_uses_steps() -> None:
    r = run(
        """
defaults: { retry: { max_attempts: 3, backoff: fixed, delay: 1s } }
steps:
  - { id: a, uses: http.request, with: { url: "https://a.example.com" } }
""",
        {"https://a.example.com": fails()},
    )
    assert r.finish.error["attempts"] == 3


def test_retry_on_retries_only_listed_error_types() -> None:
    seen, r = retry_gaps(
        "{ max_attempts: 5, delay: 1s, retry_on: [timeout, http_5xx] }",
        fails(type="http_4xx"),
    )
    assert seen == [] and r.finish.error["attempts"] == 1
    seen, r = retry_gaps(
        "{ max_attempts: 3, delay: 1s, retry_on: [timeout, http_5xx] }",
        fails(type="http_5xx"),
    )
    assert seen == [1, 2] and r.finish.error["attempts"] == 3


def test_retry_on_accepts_a_single_string() -> None:
    seen, _ = retry_gaps("{ max_attempts: 3, delay: 1s, retry_on: timeout }", fails(type="timeout"))
    assert seen == [1, 2]


def test_non_retryable_errors_are_never_retried() -> None:
    seen, r = retry_gaps("{ max_attempts: 5, delay: 1s }", fails("bad input", retryable=False))
    assert seen == []
    assert r.finish.error["attempts"] == 1 and r.finish.error["message"] == "bad input"


def test_non_retryable_errors_are_not_retried_even_when_listed_in_retry_on() -> None:
    seen, _ = retry_gaps(
        "{ max_attempts: 5, delay: 1s, retry_on: [invalid_input] }",
        fails(type="invalid_input", retryable=False),
    )
    assert seen == []


def test_retry_after_wins_when_it_asks_for_longer() -> None:
    seen, _ = retry_gaps("{ max_attempts: 3, backoff: fixed, delay: 1s }", fails(retry_after=30))
    assert seen == [30, 30]


def test_retry_after_shorter_than_the_backoff_does_not_shorten_it() -> None:
    seen, _ = retry_gaps("{ max_attempts: 3, backoff: fixed, delay: 10s }", fails(retry_after=2))
    assert seen == [10, 10]


def test_jittered_delays_stay_between_half_and_the_full_delay() -> None:
    seen, _ = retry_gaps(
        "{ max_attempts: 6, backoff: exponential, delay: 1s, max_delay: 8s, jitter: true }",
        fails(),
    )
    full = [1, 2, 4, 8, 8]
    assert len(seen) == len(full)
    for gap, cap in zip(seen, full, strict=True):
        assert cap / 2 - 0.001 <= gap <= cap


def test_expression_errors_in_arguments_are_not_retried() -> None:
    r = run(
        """
inputs: { x: any }
steps:
  - id: a
    uses: http.request
    with: { url: "https://a.example.com/${{ inputs.x + 1 }}" }
    retry: { max_attempts: 4, delay: 1s }
""",
        inputs={"x": "text"},
    )
    assert r.finish.status == "failed"
    assert r.finish.error["type"] == "expression_error"
    assert r.calls == []
    assert statuses(r) == {"a": "failed"}


def test_the_retry_of_a_container_step_runs_it_again() -> None:
    r = run(
        """
steps:
  - id: g
    retry: { max_attempts: 3, delay: 1s }
    steps: [ { id: a, uses: http.request, with: { url: "https://a.example.com" } } ]
""",
        {"https://a.example.com": fails()},
    )
    assert r.finish.status == "failed"
    assert len(r.calls) == 3  # the group ran three times (test_engine_container_retry.py)


# ----------------------------------------------------------------------------- the policy


policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(1, 50),
    backoff=st.sampled_from(["fixed", "linear", "exponential"]),
    delay_ms=st.integers(1, 60_000),
    factor=st.floats(1.01, 10),
    max_delay_ms=st.none() | st.integers(60_000, 3_600_000),
    jitter=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(policy=policies, attempt=st.integers(1, 2000), seed=st.integers(0, 2**32 - 1))
def test_every_delay_is_within_the_policy_bounds(
    policy: RetryPolicy, attempt: int, seed: int
) -> None:
    delay = policy.delay_after(attempt, rng=random.Random(seed))
    if policy.backoff == "fixed":
        full = policy.delay_ms
    elif policy.backoff == "linear":
        full = policy.delay_ms * attempt
    else:
        try:
            full = policy.delay_ms * policy.factor ** (attempt - 1)
        except OverflowError:
            full = DELAY_CEILING_MS
    full = min(full, DELAY_CEILING_MS)
    if policy.max_delay_ms is not None:
        full = min(full, policy.max_delay_ms)
    assert delay <= int(full) + 1
    assert delay >= (int(full / 2) - 1 if policy.jitter else int(full) - 1)
    assert isinstance(delay, int) and delay >= 0


@settings(max_examples=100, deadline=None)
@given(policy=policies, retry_after=st.floats(0, 100_000))
def test_retry_after_is_a_lower_bound(policy: RetryPolicy, retry_after: float) -> None:
    assert policy.delay_after(1, retry_after_s=retry_after) >= int(retry_after * 1000) - 1


@settings(max_examples=100, deadline=None)
@given(policy=policies, attempt=st.integers(1, 60))
def test_should_retry_stops_at_max_attempts(policy: RetryPolicy, attempt: int) -> None:
    assert policy.should_retry(attempt, "x", True) == (attempt < policy.max_attempts)
    assert not policy.should_retry(attempt, "x", False)


def test_retry_after_may_exceed_max_delay() -> None:
    seen, _ = retry_gaps(
        "{ max_attempts: 2, backoff: fixed, delay: 1s, max_delay: 5s }", fails(retry_after=30)
    )
    assert seen == [30]


def test_an_inline_node_failure_is_recorded_like_a_dispatched_one() -> None:
    r = run(
        """
steps:
  - id: p
    uses: core.json_parse
    with: { text: "{bad" }
    retry: { max_attempts: 3, delay: 1s }
    continue_on_error: true
outputs: { type: "${{ steps.p.error.type }}", attempts: "${{ steps.p.attempts }}" }
"""
    )
    assert r.finish.status == "succeeded"
    assert r.finish.outputs == {"type": "invalid_json", "attempts": 1}
    assert r.calls == []
