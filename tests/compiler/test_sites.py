"""``scope_at``: what the type checker has in scope at a position, for editors."""

from __future__ import annotations

import textwrap

from flowpilot.compiler import types as T
from flowpilot.compiler.pipeline import compile_source
from flowpilot.compiler.sites import scope_at
from flowpilot.dsl import ast

FLOW = textwrap.dedent(
    """\
    flow: scoped
    inputs:
      rows: { type: array, items: { type: object, properties: { id: { type: integer } } } }
    steps:
      - id: fetch
        uses: http.request
        with: { url: "https://example.com" }
      - id: maybe
        if: ${{ inputs.rows }}
        uses: core.log
        with: { message: "${{ steps.fetch.output.status }}" }
      - id: each
        foreach: ${{ inputs.rows }}
        as: row
        steps:
          - id: show
            uses: core.log
            with: { message: "${{ row.id }}" }
      - id: last
        uses: core.log
        with: { message: "${{ steps.maybe.output }}" }
    """
)


def _at(needle: str):  # type: ignore[no-untyped-def]
    result = compile_source(FLOW, "scoped.flow.yaml")
    assert result.flow is not None
    site = scope_at(result.flow, FLOW, FLOW.index(needle))
    assert site is not None
    return site


def test_steps_visible_at_an_expression_are_those_that_ran_before_it():
    site = _at("steps.fetch.output.status")
    assert site.visible_steps() == {"fetch": True}
    assert site.step is not None and site.step.id == "maybe"


def test_a_guarded_step_is_visible_afterwards_as_maybe_skipped():
    site = _at("steps.maybe.output")
    assert site.visible_steps() == {"fetch": True, "maybe": False, "each": True}


def test_loop_variables_are_local_names_inside_the_body():
    site = _at("row.id")
    assert set(site.local_names()) == {"row", "index"}
    assert "show" not in site.visible_steps()


def test_infer_gives_the_type_of_an_expression_written_there():
    site = _at("row.id")
    expr = ast.Attr(obj=ast.Name(name="row"), attr="id")
    ast.link_parents(expr)
    assert site.infer(expr) == T.INT


def test_outside_any_step_or_expression_there_is_no_scope():
    result = compile_source(FLOW, "scoped.flow.yaml")
    assert result.flow is not None
    assert scope_at(result.flow, FLOW, FLOW.index("flow: scoped")) is None


def test_scope_at_leaves_the_flow_and_its_diagnostics_alone():
    result = compile_source(FLOW, "scoped.flow.yaml")
    assert result.flow is not None
    before = ast.dump(result.flow)
    scope_at(result.flow, FLOW, FLOW.index("row.id"))
    assert ast.dump(result.flow) == before
    assert compile_source(FLOW, "scoped.flow.yaml").diagnostics == result.diagnostics
