"""What expressions see where (docs/dsl.md §10), and containers nested in each other."""

from __future__ import annotations

from tests.runtime.engine_helpers import fails, http, make, run, statuses


def test_global_names_execution_flow_and_trigger() -> None:
    r = run(
        """
name: Test flow
labels: { team: qa }
steps:
  - id: s
    set:
      ids: "${{ [execution.id, flow.id, flow.name, flow.labels.team, trigger.type] }}"
outputs: { ids: "${{ vars.ids }}" }
"""
    )
    assert r.finish.outputs == {"ids": ["exec", "t", "Test flow", "qa", "manual"]}


def test_a_guard_in_a_loop_body_sees_the_item_and_index() -> None:
    r = run(
        """
steps:
  - id: each
    foreach: ${{ [1, 2, 3, 4] }}
    collect: ${{ steps.s.status }}
    steps:
      - { id: s, if: "${{ item % 2 == 0 and index > 0 }}", set: { x: "${{ item }}" } }
outputs: { out: "${{ steps.each.output }}" }
"""
    )
    assert r.finish.outputs == {"out": ["skipped", "succeeded", "skipped", "succeeded"]}


def test_a_guard_can_test_the_status_of_a_failed_step() -> None:
    r = run(
        f"""
steps:
  - {http("a", extra=", continue_on_error: true")}
  - {{ id: fallback, if: "${{{{ steps.a.status == 'failed' }}}}", set: {{ used: fallback }} }}
  - {{ id: normal, if: "${{{{ steps.a.status == 'succeeded' }}}}", set: {{ used: normal }} }}
outputs: {{ used: "${{{{ vars.used }}}}" }}
""",
        {"https://a.example.com": fails()},
    )
    assert r.finish.outputs == {"used": "fallback"}
    assert statuses(r)["normal"] == "skipped"


def test_fail_with_continue_on_error_goes_on() -> None:
    r = run(
        """
steps:
  - { id: stop, fail: "soft", continue_on_error: true }
  - { id: after, set: { msg: "${{ steps.stop.error.message }}" } }
outputs: { msg: "${{ vars.msg }}" }
"""
    )
    assert r.finish.status == "succeeded"
    assert r.finish.outputs == {"msg": "soft"}


def test_the_flow_catch_sees_siblings_cancelled_by_fail_fast() -> None:
    r = run(
        f"""
steps:
  - id: fan
    parallel:
      - {http("bad")}
      - {http("slow")}
catch:
  - {{ id: report, set: {{ slow: "${{{{ steps.slow.status }}}}", fan: "${{{{ steps.fan.status }}}}" }} }}
  - {{ id: show, uses: http.request, with: {{ url: "https://r.example.com/${{{{ vars.slow }}}}/${{{{ vars.fan }}}}" }} }}
""",
        {"https://bad.example.com": fails()},
    )
    assert r.finish.status == "failed"
    assert [key for key, _ in r.calls][-1] == "show"
    show = next(rec for rec in r.records if rec.step_key == "show" and rec.finished)
    assert show.output["url"] == "https://r.example.com/cancelled/failed"


def test_parallel_inside_foreach_gives_each_iteration_its_own_branch_outputs() -> None:
    r = run(
        """
steps:
  - id: each
    foreach: ${{ ['x', 'y'] }}
    concurrency: 2
    collect: ${{ [steps.fan.output.a.url, steps.fan.output.b.url] }}
    steps:
      - id: fan
        parallel:
          - { id: a, uses: http.request, with: { url: "https://a.example.com/${{ item }}" } }
          - { id: b, uses: http.request, with: { url: "https://b.example.com/${{ item }}" } }
outputs: { out: "${{ steps.each.output }}" }
"""
    )
    assert r.finish.outputs == {
        "out": [
            ["https://a.example.com/x", "https://b.example.com/x"],
            ["https://a.example.com/y", "https://b.example.com/y"],
        ]
    }


def test_foreach_inside_a_parallel_branch() -> None:
    r = run(
        """
steps:
  - id: fan
    parallel:
      - id: each
        foreach: ${{ [1, 2] }}
        collect: ${{ item * 10 }}
        steps: [ { id: s, set: { x: "${{ item }}" } } ]
      - { id: other, uses: http.request, with: { url: "https://o.example.com" } }
outputs: { fan: "${{ steps.fan.output.each }}" }
"""
    )
    assert r.finish.outputs == {"fan": [10, 20]}


def test_a_repeat_inside_a_foreach_sees_the_item_in_until() -> None:
    r = run(
        """
vars: { log: [] }
steps:
  - id: each
    foreach: ${{ [2, 3] }}
    steps:
      - id: poll
        repeat: { until: "${{ iteration >= item }}", max_iterations: 10 }
        steps: [ { id: s, set: { log: "${{ vars.log + [item ~ ':' ~ iteration] }}" } } ]
outputs: { log: "${{ vars.log }}" }
"""
    )
    assert r.finish.status == "succeeded", r.finish
    assert r.finish.outputs == {"log": ["2:1", "2:2", "3:1", "3:2", "3:3"]}


def test_a_collect_that_fails_fails_the_loop() -> None:
    r = run(
        """
steps:
  - id: each
    foreach: ${{ [1, 'x'] }}
    collect: ${{ item + 1 }}
    steps: [ { id: s, set: { v: "${{ item }}" } } ]
"""
    )
    assert r.finish.status == "failed"
    assert r.finish.error["step"] == "each"
    assert r.finish.error["type"] == "expression_error"


def test_outputs_that_cannot_be_evaluated_fail_the_execution() -> None:
    r = run(
        """
inputs: { x: any }
steps: [ { id: s, set: { v: 1 } } ]
outputs: { bad: "${{ inputs.x + 1 }}" }
""",
        inputs={"x": "text"},
    )
    assert r.finish.status == "failed"
    assert r.finish.error["message"].startswith("outputs: ")


def test_a_foreach_step_timeout_cancels_its_running_iterations() -> None:
    r = make(
        """
steps:
  - id: each
    timeout: 30s
    foreach: ${{ [1, 2, 3] }}
    concurrency: 2
    steps: [ { id: s, uses: http.request, with: { url: "https://x.example.com/${{ item }}" } } ]
"""
    )
    engine = r.engine()
    r._apply(engine, engine.start())
    r.dispatched.clear()  # the workers hang
    r.settle()
    assert r.finish.status == "failed"
    assert r.finish.error["type"] == "timeout" and r.finish.error["step"] == "each"
    assert statuses(r) == {"each[0]/s": "cancelled", "each[1]/s": "cancelled", "each": "timed_out"}
