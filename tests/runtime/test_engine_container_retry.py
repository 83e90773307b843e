"""`retry` on container steps: the whole step runs again when its body fails."""

from __future__ import annotations

from typing import Any

from flowpilot.stdlib.errors import NodeError
from tests.runtime.driver import Run, compile_plan


def _flaky(failures: int):  # type: ignore[no-untyped-def]
    calls: list[int] = []

    def handler(args: dict[str, Any], attempt: int) -> Any:
        calls.append(attempt)
        if len(calls) <= failures:
            raise NodeError("upstream down", type="http_status")
        return {"status": 200, "json": {"n": len(calls)}}

    return handler, calls


GROUP = """
flow: group-retry
steps:
  - id: batch
    retry: { max_attempts: 3, delay: 1s, backoff: fixed }
    steps:
      - { id: prepare, set: { tries: "${{ vars.tries + 1 }}" } }
      - { id: call, uses: http.request, with: { url: "https://x.example.com" } }
vars: { tries: 0 }
outputs:
  tries: ${{ vars.tries }}
  n: ${{ steps.call.output.json.n }}
  attempts: ${{ steps.batch.attempts }}
"""


def test_a_failing_group_runs_again_from_its_first_step() -> None:
    handler, _ = _flaky(failures=2)
    run = Run(compile_plan(GROUP), handlers={"http.request": handler}).start()
    assert run.finish is not None and run.finish.status == "succeeded", run.finish
    assert run.finish.outputs == {"tries": 3, "n": 3, "attempts": 3}
    group_records = [(r.attempt, r.status) for r in run.records if r.step_key == "batch"]
    assert (1, "failed") in group_records and (2, "failed") in group_records
    assert group_records[-1] == (3, "succeeded")
    assert run.clock >= 1_000_002  # two 1 s delays on the virtual clock


def test_a_group_that_keeps_failing_fails_after_its_attempts() -> None:
    handler, calls = _flaky(failures=10)
    run = Run(compile_plan(GROUP), handlers={"http.request": handler}).start()
    assert run.finish is not None and run.finish.status == "failed"
    assert len(calls) == 3
    group_records = [(r.attempt, r.status) for r in run.records if r.step_key == "batch"]
    assert group_records[-1] == (3, "failed")
    assert run.finish.error["message"] == "upstream down"


def test_retry_on_filters_container_retries_too() -> None:
    source = GROUP.replace("backoff: fixed }", "backoff: fixed, retry_on: [timeout] }")
    handler, calls = _flaky(failures=1)
    run = Run(compile_plan(source), handlers={"http.request": handler}).start()
    assert run.finish is not None and run.finish.status == "failed"
    assert len(calls) == 1
