"""Large step outputs are kept apart from the state and loaded when an expression reads them."""

from __future__ import annotations

import json
from typing import Any

from flowpilot.runtime.engine_support import Limits
from tests.runtime.driver import Run, compile_plan

FLOW = """
flow: big
steps:
  - { id: fetch, uses: http.request, with: { url: "https://x.example.com" } }
  - id: wait_a_bit
    wait: 1s
  - id: count
    set: { n: "${{ len(steps.fetch.output.json.rows) }}" }
vars: { n: 0 }
outputs:
  n: ${{ vars.n }}
  first: ${{ steps.fetch.output.json.rows[0] }}
"""


def _big(args: dict[str, Any], attempt: int) -> Any:
    return {"status": 200, "json": {"rows": [{"i": i, "pad": "x" * 50} for i in range(2000)]}}


def test_a_large_output_lives_outside_the_state_and_is_read_back() -> None:
    run = Run(
        compile_plan(FLOW),
        handlers={"http.request": _big},
        limits=Limits(inline_payload_bytes=10_000),
    ).start()
    assert run.finish is not None and run.finish.status == "succeeded", run.finish
    assert run.finish.outputs == {"n": 2000, "first": {"i": 0, "pad": "x" * 50}}
    assert len(run.payloads) == 1
    assert len(json.dumps(run.state)) < 10_000
    record = next(r for r in run.records if r.step_key == "fetch" and r.finished)
    assert record.output["$payload"] in run.payloads


def test_small_outputs_stay_inline() -> None:
    run = Run(
        compile_plan(FLOW),
        handlers={"http.request": lambda a, n: {"status": 200, "json": {"rows": [1]}}},
    ).start()
    assert run.finish is not None and run.finish.outputs == {"n": 1, "first": 1}
    assert run.payloads == {}
