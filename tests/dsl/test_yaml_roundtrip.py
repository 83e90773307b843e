"""YAML printer: lossless (parse → print → parse gives an equal AST) and idempotent."""

from __future__ import annotations

from hypothesis import given, settings

from flowpilot.dsl import ast
from flowpilot.dsl.yaml_loader import parse_yaml
from flowpilot.dsl.yaml_printer import print_yaml
from tests.strategies import flows, to_yaml


def _parse(source: str) -> ast.Flow:
    flow, diagnostics = parse_yaml(source, "t.flow.yaml")
    errors = [d for d in diagnostics if d.is_error]
    assert flow is not None and not errors, (source, errors)
    return flow


@given(flows())
@settings(max_examples=150)
def test_generated_flows_survive_print_and_reparse(data) -> None:
    source = to_yaml(data)
    flow = _parse(source)
    printed = print_yaml(flow)
    again = _parse(printed)
    assert ast.dump(again) == ast.dump(flow), printed
    assert print_yaml(again) == printed  # idempotent


def test_comments_above_and_beside_steps_survive() -> None:
    source = """\
# Header comment
flow: commented
steps:
  # first comment
  # second line
  - id: a
    uses: core.noop
  - { id: b, wait: 10m }  # trailing
"""
    flow = _parse(source)
    assert flow.comments == ["Header comment"]
    assert flow.steps[0].comments == ["first comment", "second line"]
    assert flow.steps[1].comments == ["trailing"]
    printed = print_yaml(flow)
    assert "  # first comment\n  # second line\n  - id: a" in printed
    assert ast.dump(_parse(printed)) == ast.dump(flow)


def test_canonical_form_reads_like_the_docs() -> None:
    source = """\
flow: sample
inputs:
  tags: string[]
  note: { type: string, required: false }
steps:
  - id: fetch
    uses: http.request
    with: { url: "https://api.example.com/items", method: GET }
    retry: { max_attempts: 5, backoff: exponential, delay: 500ms }
"""
    printed = print_yaml(_parse(source))
    assert (
        printed
        == """\
flow: sample
inputs:
  tags: string[]
  note: string?
steps:
  - id: fetch
    uses: http.request
    with:
      url: https://api.example.com/items
      method: GET
    retry: { max_attempts: 5, backoff: exponential, delay: 500ms }
"""
    )


def test_multiline_templates_print_as_literal_blocks() -> None:
    source = 'flow: m\nsteps:\n  - id: a\n    uses: core.log\n    with:\n      message: "line one\\nline two\\n"\n'
    printed = print_yaml(_parse(source))
    assert "message: |\n        line one\n        line two\n" in printed
    assert ast.dump(_parse(printed)) == ast.dump(_parse(source))
