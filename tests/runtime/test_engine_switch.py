"""``switch``: the first true case runs, else ``default``, else nothing."""

from __future__ import annotations

import pytest

from tests.runtime.engine_helpers import run, statuses

SWITCH = """
inputs: { amount: number }
steps:
  - id: route
    switch:
      - when: ${{ inputs.amount > 10000 }}
        steps: [ { id: big, set: { kind: big } } ]
      - when: ${{ inputs.amount > 0 }}
        steps: [ { id: normal, set: { kind: normal } } ]
      - default: [ { id: bad, set: { kind: other } } ]
outputs:
  kind: ${{ vars.kind }}
  route: ${{ steps.route.output }}
  big: ${{ steps.big.status }}
"""


@pytest.mark.parametrize(
    ("amount", "kind", "big"),
    [(20000, "big", "succeeded"), (5, "normal", None), (-1, "other", None)],
)
def test_the_first_true_case_runs_else_the_default(amount: int, kind: str, big: str) -> None:
    r = run(SWITCH, inputs={"amount": amount})
    assert r.finish.status == "succeeded"
    assert r.finish.outputs == {"kind": kind, "route": None, "big": big}
    assert statuses(r)["route"] == "succeeded"
    assert len([k for k in statuses(r) if k != "route"]) == 1


def test_no_true_case_and_no_default_runs_nothing_and_succeeds() -> None:
    r = run(
        """
inputs: { n: integer }
steps:
  - id: route
    switch:
      - when: ${{ inputs.n == 1 }}
        steps: [ { id: one, set: { x: 1 } } ]
  - { id: after, set: { y: "${{ steps.one.status | default('none') }}" } }
outputs: { y: "${{ vars.y }}" }
""",
        inputs={"n": 2},
    )
    assert r.finish.outputs == {"y": "none"}
    assert "one" not in statuses(r)


def test_a_when_that_cannot_be_evaluated_fails_the_switch() -> None:
    r = run(
        """
inputs: { n: any }
steps:
  - id: route
    switch:
      - when: ${{ inputs.n > 1 }}
        steps: [ { id: one, set: { x: 1 } } ]
""",
        inputs={"n": "text"},
    )
    assert r.finish.status == "failed"
    assert r.finish.error["step"] == "route"
    assert r.finish.error["type"] == "expression_error"


def test_a_failing_case_fails_the_switch() -> None:
    r = run(
        """
steps:
  - id: route
    switch:
      - default: [ { id: stop, fail: { message: nope, type: bad } } ]
"""
    )
    assert r.finish.status == "failed"
    assert r.finish.error["step"] == "stop"
    assert statuses(r) == {"stop": "failed", "route": "failed"}
