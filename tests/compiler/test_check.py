"""Checker semantics: reachability, null checks, secrets, argument checking."""

from __future__ import annotations

import textwrap

from flowpilot.compiler.pipeline import compile_source


def diags(source: str) -> list[tuple[str, int, int]]:
    result = compile_source(textwrap.dedent(source), "t.flow.yaml", lower=False)
    return [(d.code, d.span.line, d.span.column) for d in result.diagnostics]


def codes(source: str) -> list[str]:
    return [c for c, _, _ in diags(source)]


def test_parallel_branches_cannot_see_each_other_but_the_join_sees_all() -> None:
    found = diags(
        """\
        flow: p
        steps:
          - id: fan
            parallel:
              - { id: left, uses: core.noop }
              - { id: right, uses: core.log, with: { message: "${{ steps.left.status }}" } }
          - { id: after, uses: core.log, with: { message: "${{ steps.left.status }} ${{ steps.right.status }}" } }
        """
    )
    assert found == [("E202", 6, 66)]


def test_switch_case_steps_may_be_skipped_unless_null_checked() -> None:
    found = codes(
        """\
        flow: s
        inputs: { n: number }
        steps:
          - id: route
            switch:
              - when: ${{ inputs.n > 1 }}
                steps: [ { id: big, uses: core.noop } ]
          - { id: a, set: { x: "${{ steps.big.output }}" } }
          - { id: b, set: { x: "${{ steps.big.output | default(0) }}" } }
          - { id: c, set: { x: "${{ steps.big.output if steps.big.status == 'succeeded' else 0 }}" } }
          - id: d
            if: ${{ steps.big.status == 'succeeded' }}
            set: { x: "${{ steps.big.output }}" }
        """
    )
    assert found == ["W101"]


def test_foreach_scope_item_index_and_inner_steps() -> None:
    found = diags(
        """\
        flow: f
        inputs: { rows: "object[]" }
        steps:
          - id: each
            foreach: ${{ inputs.rows }}
            as: row
            steps:
              - { id: show, set: { x: "${{ index }} ${{ row.id }}" } }
              - { id: use, set: { y: "${{ steps.show.status }}" } }
          - { id: out, set: { z: "${{ steps.show.status }} ${{ row }}" } }
        """
    )
    assert [c for c, _, _ in found] == ["E202", "E204"]


def test_catch_sees_error_and_maybe_try_steps() -> None:
    found = codes(
        """\
        flow: t
        steps:
          - id: guarded
            try: [ { id: post, uses: core.noop } ]
            catch:
              - { id: report, uses: core.log, with: { level: error, message: "{{ error.message }}" } }
              - { id: s, set: { st: "${{ steps.post.status }}" } }
          - { id: later, set: { e: "${{ error }}" } }
        """
    )
    assert found == ["E204"]


def test_secrets_flow_into_headers_but_not_logs_or_outputs() -> None:
    found = codes(
        """\
        flow: sec
        steps:
          - id: call
            uses: http.request
            with:
              url: https://api.example.com
              headers: { Authorization: "Bearer ${{ secrets.API_TOKEN }}" }
          - { id: log, uses: core.log, with: { message: "{{ secrets.API_TOKEN }}" } }
        outputs:
          leaked: ${{ secrets.API_TOKEN | upper }}
        """
    )
    assert found == ["E601", "E601"]


def test_ai_extract_output_type_is_the_users_schema() -> None:
    found = diags(
        """\
        flow: ex
        inputs: { text: string }
        steps:
          - id: fields
            uses: ai.extract
            with:
              text: ${{ inputs.text }}
              schema: { type: object, properties: { total: { type: number } }, additionalProperties: false }
          - { id: a, set: { t: "${{ steps.fields.output.total * 2 }}" } }
          - { id: b, set: { v: "${{ steps.fields.output.vendor }}" } }
        """
    )
    assert found == [("E203", 10, 49)]


def test_unknown_argument_missing_argument_and_wrong_literal() -> None:
    found = codes(
        """\
        flow: args
        steps:
          - id: req
            uses: http.request
            with: { methd: GET, timeout: "soon" }
        """
    )
    assert sorted(found) == ["E102", "E103", "E104"]


def test_pinned_versions() -> None:
    assert codes("flow: v\nsteps:\n  - { id: a, uses: core.noop@1 }\n") == []
    assert codes("flow: v\nsteps:\n  - { id: a, uses: core.noop@9 }\n") == ["E101"]


def test_unused_inputs_and_vars_warn() -> None:
    found = codes(
        """\
        flow: u
        inputs: { used: string, unused: string }
        vars: { v: 1 }
        steps:
          - { id: a, uses: core.log, with: { message: "{{ inputs.used }}" } }
        """
    )
    assert found == ["W102", "W102"]


def test_internal_errors_never_escape(monkeypatch) -> None:
    import flowpilot.compiler.pipeline as pipeline

    def broken(ctx):
        raise KeyError("boom")

    monkeypatch.setattr(pipeline, "PASSES", (broken,))
    result = compile_source("flow: x\nsteps: [ { id: a, uses: core.noop } ]\n", "x.flow.yaml")
    assert [d.code for d in result.diagnostics] == ["E000"]
    assert result.plan is None
