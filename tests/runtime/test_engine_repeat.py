"""``repeat``: rounds until ``until`` is true or ``max_iterations``, ``delay`` between rounds."""

from __future__ import annotations

from tests.runtime.engine_helpers import fails, make, run, statuses


def test_repeat_runs_until_the_condition_is_true_and_sees_iteration() -> None:
    r = run(
        """
vars: { n: 0, seen: [] }
steps:
  - id: poll
    repeat: { until: "${{ vars.n >= 3 }}", max_iterations: 10 }
    steps:
      - { id: bump, set: { n: "${{ vars.n + 1 }}", seen: "${{ vars.seen + [iteration] }}" } }
outputs: { n: "${{ vars.n }}", seen: "${{ vars.seen }}", out: "${{ steps.poll.output }}" }
"""
    )
    assert r.finish.outputs == {"n": 3, "seen": [1, 2, 3], "out": None}
    assert [k for k in statuses(r) if k != "poll"] == ["poll#1/bump", "poll#2/bump", "poll#3/bump"]


def test_until_sees_the_body_steps_of_the_round() -> None:
    answers = iter(["running", "running", "done", "never"])
    r = run(
        """
steps:
  - id: poll
    repeat: { until: "${{ steps.check.output.json.state == 'done' }}", max_iterations: 5 }
    steps:
      - { id: check, uses: http.request, with: { url: "https://job.example.com" } }
""",
        {"https://job.example.com": lambda args, attempt: {"json": {"state": next(answers)}}},
    )
    assert r.finish.status == "succeeded"
    assert [key for key, _ in r.calls] == ["poll#1/check", "poll#2/check", "poll#3/check"]


def test_max_iterations_ends_the_loop_successfully() -> None:
    r = run(
        """
vars: { n: 0 }
steps:
  - id: poll
    repeat: { until: "${{ vars.n > 100 }}", max_iterations: 4 }
    steps:
      - { id: bump, set: { n: "${{ vars.n + 1 }}" } }
outputs: { n: "${{ vars.n }}" }
"""
    )
    assert r.finish.status == "succeeded"
    assert r.finish.outputs == {"n": 4}


def test_delay_waits_between_rounds_not_before_the_first_nor_after_the_last() -> None:
    r = make(
        """
vars: { n: 0 }
steps:
  - id: poll
    repeat: { until: "${{ vars.n >= 3 }}", max_iterations: 10, delay: 30s }
    steps:
      - { id: check, uses: http.request, with: { url: "https://job.example.com" } }
      - { id: bump, set: { n: "${{ vars.n + 1 }}" } }
"""
    )
    start = r.clock
    r.start()
    assert r.finish.status == "succeeded"
    assert [t.kind for _, _, t in r.timers] == []
    assert r.clock - start == 60
    assert len(r.calls) == 3


def test_a_failing_round_fails_the_loop() -> None:
    r = run(
        """
steps:
  - id: poll
    repeat: { until: "${{ false }}", max_iterations: 5 }
    steps:
      - { id: check, uses: http.request, with: { url: "https://job.example.com" } }
""",
        {"https://job.example.com": fails("down")},
    )
    assert r.finish.status == "failed"
    assert statuses(r) == {"poll#1/check": "failed", "poll": "failed"}
