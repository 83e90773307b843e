"""The fast text-form path (whole expressions as one token) against the full grammar.

``parse_text`` first reads every expression as one token and falls back to the full grammar on
anything doubtful. Both passes must give the same flow, spans included, and the same
diagnostics; these tests run them side by side on every ``.flow`` file of the repository, on
generated flows and on tricky snippets.
"""

from __future__ import annotations

import dataclasses
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from flowpilot.dsl import text_parser
from flowpilot.dsl.text_scan import FallBack, scan_expression

ROOT = Path(__file__).resolve().parents[2]
FLOW_FILES = sorted(p for p in ROOT.glob("**/*.flow") if ".git" not in p.parts)


def deep(node: Any) -> Any:
    """Everything a node holds, spans included, as comparable plain data."""
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return (
            type(node).__name__,
            *(deep(getattr(node, f.name)) for f in dataclasses.fields(node)),
        )
    if isinstance(node, list | tuple):
        return [deep(x) for x in node]
    if isinstance(node, dict):
        return {k: deep(v) for k, v in node.items()}
    return node


def both(source: str, file: str = "t.flow") -> tuple[Any, Any, bool]:
    fast = text_parser._parse(source, file, fast=True)
    ref = text_parser._parse(source, file, fast=False)
    assert ref is not None
    ref_data = (deep(ref[0]), [deep(d) for d in ref[1]])
    if fast is None:
        return None, ref_data, False
    return (deep(fast[0]), [deep(d) for d in fast[1]]), ref_data, True


def check(source: str) -> bool:
    """The fast pass agrees with the reference or gives up; returns whether it finished."""
    fast, ref, finished = both(source)
    if finished:
        assert fast == ref
    parsed = text_parser.parse_text(source, "t.flow")
    assert (deep(parsed[0]), [deep(d) for d in parsed[1]]) == ref
    return finished


@pytest.mark.parametrize("path", FLOW_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_repository_flows(path: Path) -> None:
    check(path.read_bytes().decode("utf-8", "replace"))


def test_valid_flows_take_the_fast_path() -> None:
    for path in FLOW_FILES:
        if "valid" in path.parts or path.parent.name == "examples":
            assert check(path.read_bytes().decode("utf-8", "replace")), path


@pytest.mark.parametrize("size", [10, 200])
def test_generated_flows(size: int) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from compile import generate_yaml, to_text  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    source = to_text(generate_yaml(size))
    assert source is not None
    assert check(source)


SNIPPETS = [
    "foreach e in x else y { step a = b.c() }",
    "foreach e in x if y { step a = b.c() }",
    "foreach e in (x if y else z) as row collect row.id { step a = b.c() }",
    "step a = b.c() if x else y",
    "step a = b.c() if x if y",
    "step a = b.c() if x not y",
    "step a = b.c() if x not in y",
    "step a = b.c() if x.if foo 1",
    "step a = b.c() if x in y timeout 5m",
    "step a = b.c() mock x or y",
    "step a = b.c() mock -1",
    "step a = b.c() mock {a: [1, 2], 'b': {c: null}} name \"x\"",
    "step a = b.c() foo 5m bar x",
    'step a = b.c() retry(delay: 2s, max_delay: "PT1M", max_attempts: 2, backoff: linear)',
    "step a = b.c() retry(delay: x, jitter: 1)",
    "var x = a if b else c\nstep a = b.c()",
    "var x = a else c\nstep a = b.c()",
    "var x = a.b\n  # hi\nstep a = b.c(k: [1, # c\n 2])",
    "var x = a.b # trailing\n# above\nstep a = b.c(k: x # c\n)",
    'var x = ${{ [1, 2] }}\nvar y = "${{ a.b }}"\nstep a = b.c()',
    "var x = true\nvar y = None\nvar z = -1.5e3\nvar w = 'it''s'\nstep a = b.c()",
    "var x = true.x\nstep a = b.c()",
    "var x = in + 1\nstep a = b.c()",
    "var x = a +\nstep a = b.c()",
    "var x = (a\nstep a = b.c()",
    "var x = a)\nstep a = b.c()",
    "var x = [a, b}\nstep a = b.c()",
    'var x = "abc\nstep a = b.c()',
    "var x = a.b(1)\nstep a = b.c()",
    "var x = x[1:2] | join(', ') ~ \"é\"\nstep a = b.c()",
    "var x = a $ b\nstep a = b.c()",
    "step a = b.c(k: 1abc)",
    "step a = b.c(k: 5m)",
    "step a = b.c(k: x y)",
    "step a = b.c(k: x,)",
    "step a = b.c(k: ,)",
    "step a = b.c(k:)",
    "step a = b.c(k: {a: 1)",
    "input x: number(minimum: 0) = 1 + 2\nstep a = b.c()",
    'input x: string? = "a"\noutput o = 1\nstep a = b.c()',
    'labels(a: "x", b: 1)\nstep a = b.c()',
    'trigger cron t("0 * * * *", inputs: {a: 1})\nstep a = b.c()',
    "switch s { when a == {b: 1} { step a = b.c() } when not a { step b = b.c() } }",
    "wait w until x.y > 3\nwait v 5m",
    "repeat r until x max_iterations 3 delay 1s { set s(a: a + 1) }",
    "step a = b.c()\noutput o = a if b else c\non failure { step r = b.c() }",
    "step a = b.c(\n  k: [\n    1,\n    2,\n  ],\n  j: f(x)\n    .y,\n)",
    'step a = b.c(k: "a\\nb ${{ x }}")',
    "step a = b.c() if x\n  .y",
    "step a = b.c() if x ==",
    "step a = b.c() if",
    "step a = b.c(k: x",
]


@pytest.mark.parametrize("body", SNIPPETS)
def test_snippets(body: str) -> None:
    check("flow f {\n" + body + "\n}\n")


def test_random_token_soup() -> None:
    """Random mixes of the pieces above: the fast path never disagrees, only gives up."""
    rng = random.Random(5)
    words = ["a", "b.c", "if", "else", "not", "in", "and", "(", ")", "[", "]", "{", "}", ",",
             ":", "1", "2s", '"s"', "-", "+", "==", "|", "f(", "#c\n", "\n", "true", "x.if"]  # fmt: skip
    for _ in range(300):
        expr = " ".join(rng.choice(words) for _ in range(rng.randint(1, 6)))
        for template in (
            "flow f {{ var v = {e}\n step a = b.c() }}",
            "flow f {{ step a = b.c(k: {e}) }}",
            "flow f {{ step a = b.c() if {e} timeout 1s }}",
            "flow f {{ step a = b.c() retry(delay: {e}) }}",
        ):
            check(template.format(e=expr))


def test_scan_expression_extent() -> None:
    text = "a.b + f(x, [1, 2]) timeout 5m"
    assert scan_expression(text, 0, head=True)[:2] == (0, 18)
    assert scan_expression("  x if y else z }", 0, head=False)[:2] == (2, 15)
    assert scan_expression("  x if y else z }", 0, head=True)[:2] == (2, 3)
    start, end, _ = scan_expression("  , x", 0, head=False)
    assert start == end  # no expression there
    with pytest.raises(FallBack):
        scan_expression("[1, 2)", 0, head=False)
