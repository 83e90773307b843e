"""Sequences, guards, outputs, ``set``/``fail``/``return``, ``continue_on_error`` and the
``steps.<id>`` fields of docs/dsl.md §9."""

from __future__ import annotations

import json
import textwrap

import pytest

from flowpilot.runtime.engine_support import Limits
from tests.runtime.engine_helpers import fails, finished, http, make, run, statuses


def test_steps_run_in_order_and_outputs_are_evaluated_at_the_end() -> None:
    r = run(
        f"""
vars: {{ n: 1 }}
steps:
  - {http("a")}
  - {{ id: b, set: {{ n: "${{{{ vars.n + 1 }}}}" }} }}
  - {http("c")}
outputs:
  n: ${{{{ vars.n }}}}
  url: ${{{{ steps.a.output.url }}}}
"""
    )
    assert r.finish is not None and r.finish.status == "succeeded"
    assert r.finish.outputs == {"n": 2, "url": "https://a.example.com"}
    assert finished(r) == ["a", "b", "c"]
    assert [key for key, _ in r.calls] == ["a", "c"]


def test_a_step_reads_the_output_of_an_earlier_step() -> None:
    r = run(
        """
steps:
  - { id: a, uses: http.request, with: { url: "https://a.example.com" } }
  - { id: b, uses: http.request, with: { url: "${{ steps.a.output.url }}/next" } }
outputs:
  b: ${{ steps.b.output.url }}
"""
    )
    assert r.finish.outputs == {"b": "https://a.example.com/next"}


def test_a_false_guard_skips_the_step_with_null_output_and_zero_attempts() -> None:
    r = run(
        """
inputs: { go: boolean }
steps:
  - { id: a, if: "${{ inputs.go }}", uses: http.request, with: { url: "https://a.example.com" } }
outputs:
  status: ${{ steps.a.status }}
  output: ${{ steps.a.output }}
  error: ${{ steps.a.error }}
  attempts: ${{ steps.a.attempts }}
""",
        inputs={"go": False},
    )
    assert r.calls == []
    assert r.finish.outputs == {"status": "skipped", "output": None, "error": None, "attempts": 0}
    assert statuses(r) == {"a": "skipped"}


def test_a_guard_on_a_group_skips_everything_inside() -> None:
    r = run(
        f"""
steps:
  - id: g
    if: ${{{{ false or inputs.go }}}}
    steps:
      - {http("a")}
      - {http("b")}
  - {http("c")}
inputs: {{ go: boolean }}
""",
        inputs={"go": False},
    )
    assert [key for key, _ in r.calls] == ["c"]
    assert statuses(r) == {"g": "skipped", "c": "succeeded"}


def test_a_guard_that_cannot_be_evaluated_fails_the_step() -> None:
    r = run(
        """
inputs: { n: any }
steps:
  - { id: a, if: "${{ inputs.n > 1 }}", set: { x: 1 } }
""",
        inputs={"n": "text"},
    )
    assert r.finish.status == "failed"
    assert r.finish.error["step"] == "a"
    assert r.finish.error["type"] == "expression_error"


def test_steps_fields_of_a_succeeded_step() -> None:
    r = run(
        f"""
steps:
  - {http("a")}
outputs:
  status: ${{{{ steps.a.status }}}}
  error: ${{{{ steps.a.error }}}}
  attempts: ${{{{ steps.a.attempts }}}}
"""
    )
    assert r.finish.outputs == {"status": "succeeded", "error": None, "attempts": 1}


def test_steps_fields_of_a_failed_step_with_continue_on_error() -> None:
    r = run(
        """
steps:
  - id: a
    uses: http.request
    with: { url: "https://a.example.com" }
    continue_on_error: true
    retry: { max_attempts: 2, delay: 1s }
  - { id: b, set: { seen: "${{ steps.a.status }}" } }
outputs:
  status: ${{ steps.a.status }}
  output: ${{ steps.a.output }}
  error: ${{ steps.a.error }}
  attempts: ${{ steps.a.attempts }}
  seen: ${{ vars.seen }}
""",
        {"https://a.example.com": fails("down", type="http_status", data={"status": 503})},
    )
    assert r.finish.status == "succeeded"
    out = r.finish.outputs
    assert out["status"] == "failed" and out["output"] is None and out["attempts"] == 2
    assert out["error"] == {
        "message": "down",
        "type": "http_status",
        "step": "a",
        "details": {"status": 503},
        "attempts": 2,
    }
    assert out["seen"] == "failed"
    assert any(log.level == "warning" and "down" in log.message for log in r.logs)


def test_continue_on_error_on_a_group_swallows_the_failure_of_a_step_inside() -> None:
    r = run(
        f"""
steps:
  - id: g
    continue_on_error: true
    steps:
      - {http("a")}
      - {http("b")}
  - {http("c")}
outputs:
  g: ${{{{ steps.g.status }}}}
  err: ${{{{ steps.g.error.step }}}}
""",
        {"https://a.example.com": fails()},
    )
    assert r.finish.status == "succeeded"
    assert [key for key, _ in r.calls] == ["a", "c"]
    assert r.finish.outputs == {"g": "failed", "err": "a"}


def test_a_failure_ends_the_execution_and_later_steps_never_run() -> None:
    r = run(
        f"""
steps:
  - {http("a")}
  - {http("b")}
""",
        {"https://a.example.com": fails("nope", type="http_status")},
    )
    assert r.finish.status == "failed"
    assert r.finish.error == {
        "message": "nope",
        "type": "http_status",
        "step": "a",
        "details": None,
        "attempts": 1,
    }
    assert r.finish.outputs is None
    assert [key for key, _ in r.calls] == ["a"]


# ----------------------------------------------------------------------------- set, fail


def test_set_assigns_several_vars_and_later_steps_see_them() -> None:
    r = run(
        """
vars: { total: 1 }
steps:
  - { id: s, set: { done: true, total: "${{ vars.total + 1 }}" } }
  - { id: t, set: { double: "${{ vars.total * 2 }}" } }
outputs:
  v: ${{ vars }}
  s: ${{ steps.s.output }}
"""
    )
    assert r.finish.outputs == {"v": {"total": 2, "done": True, "double": 4}, "s": None}


def test_vars_are_evaluated_in_order() -> None:
    r = run(
        """
inputs: { n: { type: number, default: 2 } }
vars:
  a: ${{ inputs.n * 10 }}
  b: ${{ vars.a + 1 }}
steps:
  - { id: s, set: { c: "${{ vars.b }}" } }
outputs: { b: "${{ vars.b }}" }
""",
        inputs={"n": 2},
    )
    assert r.finish.outputs == {"b": 21}


def test_a_var_that_cannot_be_evaluated_fails_the_execution_before_any_step() -> None:
    r = run(
        f"""
inputs: {{ n: any }}
vars:
  a: ${{{{ inputs.n + 1 }}}}
steps:
  - {http("a")}
""",
        inputs={"n": "x"},
    )
    assert r.finish.status == "failed"
    assert r.finish.error["message"].startswith("vars.a: ")
    assert r.calls == []


def test_fail_ends_the_execution_with_its_message_and_type() -> None:
    r = run(
        """
inputs: { n: integer }
steps:
  - { id: stop, fail: { message: "too many: ${{ inputs.n }}", type: too_large } }
""",
        inputs={"n": 7},
    )
    assert r.finish.status == "failed"
    assert r.finish.error == {
        "message": "too many: 7",
        "type": "too_large",
        "step": "stop",
        "details": None,
        "attempts": 1,
    }
    assert statuses(r) == {"stop": "failed"}


def test_fail_shorthand_has_type_fail() -> None:
    r = run('steps:\n  - { id: stop, fail: "plain" }\n')
    assert (r.finish.error["message"], r.finish.error["type"]) == ("plain", "fail")


# ----------------------------------------------------------------------------- return


def test_return_ends_the_execution_successfully_and_merges_over_outputs() -> None:
    r = run(
        f"""
steps:
  - {{ id: early, return: {{ reason: nothing-to-do, extra: "${{{{ 1 + 1 }}}}" }} }}
  - {http("never")}
outputs:
  reason: done
  kept: "yes"
"""
    )
    assert r.finish.status == "succeeded"
    assert r.finish.outputs == {"reason": "nothing-to-do", "kept": "yes", "extra": 2}
    assert r.calls == []
    assert statuses(r) == {"early": "succeeded"}


def test_return_with_a_false_guard_does_nothing() -> None:
    r = run(
        f"""
steps:
  - {{ id: early, if: "${{{{ inputs.stop }}}}", return: {{ reason: early }} }}
  - {http("a")}
inputs: {{ stop: boolean }}
outputs: {{ reason: late }}
""",
        inputs={"stop": False},
    )
    assert r.finish.outputs == {"reason": "late"}
    assert statuses(r)["early"] == "skipped"


INNER = f"""
- {http("before")}
- {{ id: early, return: {{ where: here }} }}
- {http("after")}
"""

WRAPPERS = {
    "group": "steps: {inner}",
    "try": "try: {inner}\ncatch: [ { id: c, set: { caught: true } } ]",
    "switch": "switch:\n  - when: ${{ true }}\n    steps: {inner}",
    "foreach": "foreach: ${{ [1, 2, 3] }}\nconcurrency: 2\nsteps: {inner}",
    "repeat": "repeat: { until: false, max_iterations: 3 }\nsteps: {inner}",
    "parallel": "parallel:\n  - id: branch\n    steps: {inner}",
}


@pytest.mark.parametrize("wrapper", sorted(WRAPPERS))
def test_return_inside_nested_containers_ends_the_execution_successfully(wrapper: str) -> None:
    inner = "[" + ", ".join(line[2:] for line in INNER.strip().splitlines()) + "]"
    body = textwrap.indent(WRAPPERS[wrapper].replace("{inner}", inner), " " * 8).strip()
    r = run(
        f"""
steps:
  - id: outer
    steps:
      - id: w
        {body}
      - {http("next")}
  - {http("last")}
outputs:
  where: none
  o: fixed
"""
    )
    assert r.finish.status == "succeeded", r.finish
    assert r.finish.outputs == {"where": "here", "o": "fixed"}
    assert [key.rsplit("/", 1)[-1] for key, _ in r.calls] == ["before"]
    assert statuses(r)["w"] == "succeeded"


def test_return_inside_a_parallel_branch_cancels_the_running_siblings() -> None:
    r = make(
        f"""
steps:
  - id: fan
    parallel:
      - {http("slow")}
      - id: quick
        steps:
          - {{ id: early, return: {{ done: true }} }}
"""
    ).start()
    assert r.finish.status == "succeeded" and r.finish.outputs == {"done": True}
    assert statuses(r)["slow"] == "cancelled"


# ----------------------------------------------------------------------------- limits


def test_a_10000_step_sequence_of_set_steps_runs_without_recursion_error() -> None:
    steps = "\n".join(
        f'  - {{ id: s{i}, set: {{ n: "${{{{ vars.n + 1 }}}}" }} }}' for i in range(10_000)
    )
    r = run(f'vars: {{ n: 0 }}\nsteps:\n{steps}\noutputs: {{ n: "${{{{ vars.n }}}}" }}\n')
    assert r.finish.status == "succeeded"
    assert r.finish.outputs == {"n": 10_000}


def test_max_steps_fails_the_execution_with_a_clear_error() -> None:
    r = run(
        """
steps:
  - id: loop
    foreach: ${{ [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }}
    steps:
      - { id: s, set: { x: "${{ item }}" } }
""",
        limits=Limits(max_steps=5),
    )
    assert r.finish.status == "failed"
    assert r.finish.error["type"] == "limit_exceeded"
    assert "more than 5 steps" in r.finish.error["message"]
    assert "FLOWPILOT_MAX_STEPS_PER_EXECUTION" in r.finish.error["message"]


def test_max_foreach_items_fails_the_loop_with_a_clear_error() -> None:
    r = run(
        """
steps:
  - id: loop
    foreach: ${{ [1, 2, 3] }}
    steps:
      - { id: s, set: { x: "${{ item }}" } }
""",
        limits=Limits(max_foreach_items=2),
    )
    assert r.finish.status == "failed"
    error = r.finish.error
    assert (error["type"], error["step"]) == ("limit_exceeded", "loop")
    assert "3 items" in error["message"] and "limit of 2" in error["message"]
    assert statuses(r) == {"loop": "failed"}


def test_the_state_is_json_after_every_event() -> None:
    r = run(
        f"""
steps:
  - {http("a", extra=", retry: { max_attempts: 2, delay: 1s }")}
  - id: each
    foreach: ${{{{ [1, 2] }}}}
    steps:
      - {{ id: s, set: {{ x: "${{{{ item }}}}" }} }}
""",
        {"https://a.example.com": fails(until=2)},
    )
    assert r.finish.status == "succeeded"
    assert json.loads(json.dumps(r.state)) == r.state


def test_set_can_snapshot_all_vars_without_making_a_cycle() -> None:
    r = run(
        """
vars: { a: 1 }
steps:
  - { id: s, set: { snap: "${{ vars }}" } }
  - { id: t, set: { a: 2 } }
outputs: { snap: "${{ vars.snap }}", a: "${{ vars.a }}" }
"""
    )
    assert r.finish.status == "succeeded"
    assert r.finish.outputs == {"snap": {"a": 1}, "a": 2}


def test_a_collected_snapshot_of_vars_does_not_change_with_later_sets() -> None:
    r = run(
        """
vars: { n: 0 }
steps:
  - id: each
    foreach: ${{ [1, 2, 3] }}
    collect: ${{ vars }}
    steps: [ { id: s, set: { n: "${{ item }}" } } ]
outputs: { out: "${{ steps.each.output }}" }
"""
    )
    assert r.finish.outputs == {"out": [{"n": 1}, {"n": 2}, {"n": 3}]}
