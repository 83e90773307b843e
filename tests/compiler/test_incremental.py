"""A compile session gives exactly what a cold compile gives, after any edit.

``CompileSession`` reuses the YAML front end's work on steps whose text did not change; these
tests edit flows one line at a time — edits that add errors, rename steps and break the
references to them, add or remove lines above other steps, break the YAML — and compare the
session's result (AST with every span, diagnostics, plan) with a cold ``compile_source``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowpilot.compiler.pipeline import CompileResult, CompileSession, compile_source
from flowpilot.dsl import ast
from tests.strategies import flows, to_yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

HAND_WRITTEN = """\
# A flow with comments, blank lines and an anchor, which the step cache must respect.
flow: edited-flow
inputs:
  customer: string
  amount: { type: number, default: 10 }
vars:
  limit: ${{ inputs.amount * 2 }}
steps:
  - id: fetch   # trailing comment
    uses: http.request
    with: &request { url: "https://api.example.com/${{ inputs.customer }}", method: GET }

  # about the log
  - id: log_it
    uses: core.log
    with: { message: "fetched {{ steps.fetch.output.status }}", level: info }
  - id: again
    uses: http.request
    with: *request
  - id: route
    if: ${{ steps.fetch.output.status == 200 }}
    switch:
      - when: ${{ inputs.amount > vars.limit }}
        steps: [ { id: big, set: { size: big } } ]
      - default: [ { id: small, set: { size: small } } ]
  - id: each
    foreach: ${{ [1, 2, 3] }}
    as: n
    steps:
      - { id: show, uses: core.log, with: { message: "{{ n }}" } }
outputs:
  status: ${{ steps.fetch.output.status }}
"""

# One-line edits, each a (description, function of the line) pair.
EDITS = [
    lambda line: line.replace("id: ", "id: x", 1),  # renames a step: references break
    lambda line: line.replace("steps.", "steps.missing_", 1),  # an unknown step
    lambda line: line.replace("inputs.", "inputs.nope_", 1),  # an unknown input
    lambda line: line.replace("uses: core.log", "uses: core.lgo", 1),  # an unknown node type
    lambda line: line.replace(": ", ":: ", 1),  # broken YAML or a strange key
    lambda line: line.replace("message: ", "message: edited ", 1),
    lambda line: line + line,  # a duplicated line: duplicate keys or an extra step
    lambda line: "",  # a deleted line: later steps move up
    lambda line: "\n" + line,  # a blank line above: later steps move down
    lambda line: "  # a new comment\n" + line,
    lambda line: line.replace("    ", "  ", 1),  # wrong indentation
    lambda line: line[: len(line) // 2] + "\n",  # a truncated line
]


def full(node: Any) -> Any:
    """Every field of an AST, spans included (``parent`` aside), as comparable data."""
    if isinstance(node, ast.Node):
        out: list[Any] = [type(node).__name__]
        for cls in type(node).__mro__:
            for name in getattr(cls, "__slots__", ()):
                if name != "parent":
                    out.append((name, full(getattr(node, name))))
        return tuple(out)
    if isinstance(node, list | tuple) and not hasattr(node, "_fields"):
        return tuple(full(v) for v in node)
    if isinstance(node, dict):
        return tuple(sorted((k, full(v)) for k, v in node.items()))
    return node


def assert_same(incremental: CompileResult, cold: CompileResult) -> None:
    assert incremental.diagnostics == cold.diagnostics
    assert full(incremental.flow) == full(cold.flow)
    assert incremental.plan == cold.plan
    if incremental.flow is not None:
        for node in incremental.flow.walk():
            for child in node.children():
                assert child.parent is node


def edit(source: str, line_no: int, which: int) -> str:
    lines = source.splitlines(keepends=True)
    line_no %= len(lines)
    lines[line_no] = EDITS[which % len(EDITS)](lines[line_no])
    return "".join(lines)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=flows(), edits=st.lists(st.tuples(st.integers(0, 500), st.integers(0, 50)), max_size=6))
def test_session_equals_cold_compile_after_random_edits(
    data: dict[str, Any], edits: list[tuple[int, int]]
) -> None:
    source = to_yaml(data)
    session = CompileSession("generated.flow.yaml")
    assert_same(session.compile(source), compile_source(source, "generated.flow.yaml"))
    for line_no, which in edits:
        edited = edit(source, line_no, which)
        assert_same(session.compile(edited), compile_source(edited, "generated.flow.yaml"))
        source = edited if which % 3 else source  # sometimes edit on, sometimes go back


def test_every_edit_of_every_line_of_a_commented_flow() -> None:
    session = CompileSession("edited.flow.yaml")
    session.compile(HAND_WRITTEN)
    for line_no in range(HAND_WRITTEN.count("\n")):
        for which in range(len(EDITS)):
            edited = edit(HAND_WRITTEN, line_no, which)
            assert_same(session.compile(edited), compile_source(edited, "edited.flow.yaml"))


def test_editing_an_anchor_reaches_the_step_that_uses_it() -> None:
    session = CompileSession("edited.flow.yaml")
    session.compile(HAND_WRITTEN)
    edited = HAND_WRITTEN.replace("method: GET", "method: GOT")
    result = session.compile(edited)
    assert_same(result, compile_source(edited, "edited.flow.yaml"))
    again = next(s for s in result.flow.steps if s.id == "again")  # type: ignore[union-attr]
    assert isinstance(again, ast.UsesStep) and again.args is not None
    method = again.args.get("method")
    assert method is not None and ast.dump(method.value) == {"_": "Scalar", "value": "GOT"}


def test_examples_edited_line_by_line() -> None:
    for path in sorted(EXAMPLES.glob("*.flow.yaml")):
        source = path.read_text(encoding="utf-8")
        session = CompileSession(path.name)
        session.compile(source)
        for line_no in range(0, source.count("\n"), 7):
            edited = edit(source, line_no, line_no)
            assert_same(session.compile(edited), compile_source(edited, path.name))


def test_a_session_reuses_unchanged_steps() -> None:
    session = CompileSession("edited.flow.yaml")
    session.compile(HAND_WRITTEN)
    before = session._steps.hits
    session.compile(HAND_WRITTEN.replace("level: info", "level: debug"))
    assert session._steps.hits - before >= 3  # every step but the edited one (and `again`)
