"""The whole compiler never fails internally, whatever it is fed.

Real example flows are mutated the way editing goes wrong (truncated, a span deleted, random
characters inserted, a line duplicated or dropped) in both syntaxes; every result must be
diagnostics, never an exception and never E000 (internal compiler error).
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowpilot.compiler.pipeline import compile_source, is_flow_file

EXAMPLES = sorted(
    p for p in (Path(__file__).resolve().parents[2] / "examples").iterdir() if is_flow_file(p.name)
)
SOURCES = [(p.name, p.read_text(encoding="utf-8")) for p in EXAMPLES]

NOISE = st.lists(
    st.sampled_from([*"{}[]()\"':,-#|>$ \n\t.*!&%@`~=<>?\\", "${{", "}}", "\x00"]), max_size=12
).map("".join)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    name, source = draw(st.sampled_from(SOURCES))
    kind = draw(st.sampled_from(["truncate", "delete", "insert", "dup_line", "drop_line"]))
    pos = draw(st.integers(0, len(source)))
    if kind == "truncate":
        source = source[:pos]
    elif kind == "delete":
        source = source[:pos] + source[pos + draw(st.integers(1, 40)) :]
    elif kind == "insert":
        source = source[:pos] + draw(NOISE) + source[pos:]
    else:
        lines = source.splitlines(keepends=True)
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        if kind == "dup_line":
            lines.insert(i, lines[i])
        else:
            del lines[i]
        source = "".join(lines)
    return name, source


@given(mutated())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_examples_give_diagnostics_not_crashes(case: tuple[str, str]) -> None:
    name, source = case
    result = compile_source(source, name)
    internal = [d for d in result.diagnostics if d.code == "E000"]
    assert not internal, (name, source)
    for d in result.diagnostics:
        assert d.span.line >= 1 and d.span.column >= 1, d
