"""``foreach``: per-item bodies, ``as``/``index``, ``collect``, ``concurrency``, scoping."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.runtime.engine_helpers import fails, make, run, statuses


def test_collect_gives_one_value_per_item_in_order() -> None:
    r = run(
        """
inputs: { rows: "object[]" }
steps:
  - id: each
    foreach: ${{ inputs.rows }}
    as: row
    collect: ${{ row.id * 2 + index }}
    steps:
      - { id: show, set: { last: "${{ row.id }}" } }
outputs: { out: "${{ steps.each.output }}", last: "${{ vars.last }}" }
""",
        inputs={"rows": [{"id": 1}, {"id": 5}, {"id": 7}]},
    )
    assert r.finish.outputs == {"out": [2, 11, 16], "last": 7}
    assert [k for k in statuses(r) if "/" in k] == ["each[0]/show", "each[1]/show", "each[2]/show"]


def test_without_collect_each_item_maps_top_level_body_steps_to_outputs() -> None:
    r = run(
        """
steps:
  - id: each
    foreach: ${{ ['a', 'b'] }}
    steps:
      - { id: fetch, uses: http.request, with: { url: "https://x.example.com/${{ item }}" } }
      - id: inner
        steps:
          - { id: nested, uses: http.request, with: { url: "https://n.example.com" } }
outputs: { out: "${{ steps.each.output }}" }
""",
    )
    out = r.finish.outputs["out"]
    assert [sorted(entry) for entry in out] == [["fetch", "inner"], ["fetch", "inner"]]
    assert [entry["fetch"]["url"] for entry in out] == [
        "https://x.example.com/a",
        "https://x.example.com/b",
    ]
    assert out[0]["inner"] is None


def test_an_empty_array_gives_an_empty_output_and_runs_nothing() -> None:
    r = run(
        """
steps:
  - id: each
    foreach: ${{ [] }}
    steps: [ { id: s, uses: http.request, with: { url: "https://x.example.com" } } ]
outputs: { out: "${{ steps.each.output }}" }
"""
    )
    assert r.finish.outputs == {"out": []}
    assert r.calls == []


def test_a_non_array_fails_the_loop_with_a_type_error() -> None:
    r = run(
        """
inputs: { rows: any }
steps:
  - id: each
    foreach: ${{ inputs.rows }}
    steps: [ { id: s, set: { x: 1 } } ]
""",
        inputs={"rows": {"a": 1}},
    )
    assert r.finish.status == "failed"
    assert r.finish.error["type"] == "type_error"
    assert "needs an array, got object" in r.finish.error["message"]


def test_concurrency_dispatches_that_many_iterations_at_once() -> None:
    r = make(
        """
steps:
  - id: each
    foreach: ${{ [1, 2, 3, 4, 5] }}
    concurrency: 3
    steps: [ { id: s, uses: http.request, with: { url: "https://x.example.com/${{ item }}" } } ]
"""
    )
    engine = r.engine()
    r._apply(engine, engine.start())
    assert [d.step_key for d in r.dispatched] == ["each[0]/s", "each[1]/s", "each[2]/s"]
    r.settle()
    assert r.finish.status == "succeeded"


def test_a_failing_iteration_fails_the_loop_and_cancels_running_ones() -> None:
    r = run(
        """
steps:
  - id: each
    foreach: ${{ [1, 2, 3, 4] }}
    concurrency: 2
    steps: [ { id: s, uses: http.request, with: { url: "https://x.example.com/${{ item }}" } } ]
""",
        {"https://x.example.com/1": fails("one failed")},
    )
    assert r.finish.status == "failed"
    assert r.finish.error["step"] == "s"
    assert statuses(r) == {"each[0]/s": "failed", "each[1]/s": "cancelled", "each": "failed"}


def test_continue_on_error_in_the_body_keeps_the_loop_going() -> None:
    r = run(
        """
steps:
  - id: each
    foreach: ${{ [1, 2, 3] }}
    collect: ${{ steps.s.status }}
    steps:
      - id: s
        uses: http.request
        with: { url: "https://x.example.com/${{ item }}" }
        continue_on_error: true
outputs: { out: "${{ steps.each.output }}" }
""",
        {"https://x.example.com/2": fails()},
    )
    assert r.finish.outputs == {"out": ["succeeded", "failed", "succeeded"]}


def test_an_inner_loop_sees_the_outer_loop_variable_in_body_and_collect() -> None:
    r = run(
        """
steps:
  - id: outer
    foreach: ${{ [10, 20] }}
    as: row
    collect: ${{ steps.inner.output }}
    steps:
      - id: inner
        foreach: ${{ [1, 2] }}
        as: col
        collect: ${{ row + col + index }}
        steps:
          - { id: s, set: { seen: "${{ row * col }}" } }
outputs: { out: "${{ steps.outer.output }}", seen: "${{ vars.seen }}" }
"""
    )
    assert r.finish.status == "succeeded", r.finish
    assert r.finish.outputs == {"out": [[11, 13], [21, 23]], "seen": 40}


def test_body_steps_of_each_iteration_see_their_own_iteration_only() -> None:
    r = run(
        """
steps:
  - id: each
    foreach: ${{ ['a', 'b', 'c'] }}
    concurrency: 3
    collect: ${{ steps.two.output }}
    steps:
      - { id: one, uses: http.request, with: { url: "https://x.example.com/${{ item }}" } }
      - { id: two, uses: http.request, with: { url: "${{ steps.one.output.url }}/2" } }
outputs: { out: "${{ steps.each.output }}" }
"""
    )
    assert [o["url"] for o in r.finish.outputs["out"]] == [
        "https://x.example.com/a/2",
        "https://x.example.com/b/2",
        "https://x.example.com/c/2",
    ]


@settings(max_examples=40, deadline=None)
@given(
    items=st.lists(st.integers(-1000, 1000), max_size=12),
    concurrency=st.integers(1, 15),
    seed=st.integers(0, 2**32 - 1),
)
def test_collect_keeps_item_order_whatever_the_concurrency_and_finish_order(
    items: list[int], concurrency: int, seed: int
) -> None:
    r = make(
        f"""
inputs: {{ xs: "integer[]" }}
steps:
  - id: each
    foreach: ${{{{ inputs.xs }}}}
    concurrency: {concurrency}
    collect: ${{{{ steps.s.output.json }}}}
    steps:
      - {{ id: s, uses: http.request, with: {{ url: "https://x.example.com/${{{{ item }}}}" }} }}
outputs: {{ out: "${{{{ steps.each.output }}}}" }}
""",
        {},
        inputs={"xs": items},
    )
    shuffle = random.Random(seed)
    engine = r.engine()
    r._apply(engine, engine.start())
    in_flight = 0
    while r.finish is None:
        in_flight = max(in_flight, len(r.dispatched))
        step = r.dispatched.pop(shuffle.randrange(len(r.dispatched)))
        output = {"json": int(step.args["url"].rsplit("/", 1)[-1])}
        engine = r.engine()
        r._apply(engine, engine.step_finished(step.step_key, step.attempt, output=output))
    assert r.finish.outputs == {"out": items}
    assert in_flight <= concurrency


def test_a_failed_loop_leaves_no_iteration_results_in_the_state() -> None:
    r = run(
        """
steps:
  - id: each
    foreach: ${{ [1, 2, 3, 4] }}
    concurrency: 3
    steps: [ { id: s, uses: http.request, with: { url: "https://x.example.com/${{ item }}" } } ]
""",
        {"https://x.example.com/1": fails()},
    )
    assert r.finish.status == "failed"
    assert statuses(r)["each[2]/s"] == "cancelled"
    assert sorted(r.state["results"]) == [""]
