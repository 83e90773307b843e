"""The YAML front end: spans, shapes and never raising on bad input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from flowpilot.dsl import ast
from flowpilot.dsl.yaml_loader import parse_yaml


def _codes(source: str) -> list[tuple[str, int, int]]:
    _, diagnostics = parse_yaml(source, "t.flow.yaml")
    return [(d.code, d.span.line, d.span.column) for d in diagnostics]


def test_spans_point_at_ids_keys_and_expressions() -> None:
    source = """\
flow: demo
steps:
  - id: fetch
    uses: http.request
    with:
      url: ${{ inputs.url }}
"""
    flow, diagnostics = parse_yaml(source, "t.flow.yaml")
    assert not diagnostics and flow is not None
    step = flow.steps[0]
    assert isinstance(step, ast.UsesStep)
    assert (step.id_span.line, step.id_span.column, step.id_span.end_column) == (3, 9, 14)
    assert (step.uses_span.line, step.uses_span.column) == (4, 11)
    entry = step.args.entries[0]
    assert (entry.span.line, entry.span.column) == (6, 7)
    value = entry.value
    assert isinstance(value, ast.ExprValue) and value.source == "inputs.url"
    attr = value.expr
    assert isinstance(attr, ast.Attr)
    assert (attr.attr_span.line, attr.attr_span.column) == (6, 23)


def test_expression_positions_inside_quoted_strings() -> None:
    source = 'flow: q\nsteps:\n  - id: a\n    set: { x: "hi ${{ inputs.name }}" }\n'
    flow, _ = parse_yaml(source, "t.flow.yaml")
    value = flow.steps[0].values.entries[0].value
    assert isinstance(value, ast.Interpolated)
    expr_part = value.parts[1]
    assert isinstance(expr_part, ast.ExprValue)
    name = next(expr_part.expr.find_all(ast.Name))
    assert (name.span.line, name.span.column) == (4, 23)


def test_duplicate_keys_are_errors_not_silently_collapsed() -> None:
    source = "flow: d\nsteps:\n  - id: a\n    uses: core.noop\n    uses: core.log\n"
    assert ("E001", 5, 5) in _codes(source)


def test_every_problem_is_reported_in_one_run() -> None:
    source = """\
flowz: x
steps:
  - uses: core.noop
  - id: b
    uses: core.noop
    set: { a: 1 }
  - id: c
    wait: soon
"""
    codes = {c for c, _, _ in _codes(source)}
    assert {"E010", "E011", "E012"} <= codes


def test_step_kinds_and_shorthands() -> None:
    source = """\
flow: kinds
concurrency: 3
steps:
  - { id: a, fail: "boom" }
  - { id: b, wait: 10m, retry: 3 }
  - { id: c, return: }
"""
    flow, diagnostics = parse_yaml(source, "t.flow.yaml")
    assert not diagnostics
    fail, wait, ret = flow.steps
    assert isinstance(fail, ast.FailStep) and fail.message.value == "boom"
    assert isinstance(wait, ast.WaitStep) and wait.duration.ms == 600_000
    assert wait.retry.max_attempts == 3
    assert isinstance(ret, ast.ReturnStep) and not ret.values.entries
    assert flow.concurrency.limit == 3 and flow.concurrency.on_limit == "queue"


def test_unknown_key_gets_a_did_you_mean() -> None:
    _, diagnostics = parse_yaml("flow: x\nsteps:\n  - id: a\n    usess: core.noop\n", "t")
    assert any(d.hint and "uses" in d.hint for d in diagnostics)


def test_syntax_error_position() -> None:
    assert _codes("flow: x\nsteps: [\n  a\nb: 1\n")[0][0] == "E001"


@given(st.binary(max_size=300))
@settings(max_examples=200)
def test_random_bytes_never_raise(data: bytes) -> None:
    parse_yaml(data.decode("utf-8", errors="replace"), "fuzz.flow.yaml")


@given(st.text(max_size=400))
@settings(max_examples=200)
def test_random_text_never_raises(text: str) -> None:
    parse_yaml(text, "fuzz.flow.yaml")


def test_deep_nesting_and_huge_strings_are_diagnostics() -> None:
    deep = "flow: d\nsteps:\n  - id: a\n    set: { x: " + "[" * 5000 + "]" * 5000 + " }\n"
    parse_yaml(deep, "deep.flow.yaml")
    huge = "flow: h\nsteps:\n  - id: a\n    set: { x: '" + "x" * 2_000_000 + "' }\n"
    flow, diagnostics = parse_yaml(huge, "huge.flow.yaml")
    assert flow is not None and not diagnostics
