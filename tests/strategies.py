"""Hypothesis strategies that generate valid flows as YAML-form data (dicts ready to dump).

Generated flows use every step kind, nested containers, expressions and awkward strings
(quotes, colons, hashes, unicode, leading spaces, newlines) so that printers and parsers are
exercised where they are most likely to go wrong.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import strategies as st

IDS = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)

# Text that is hard to print: YAML indicators, quotes, numbers-as-strings, unicode, newlines.
AWKWARD = st.one_of(
    st.sampled_from(
        [
            "yes",
            "no",
            "null",
            "~",
            "123",
            "1.5",
            "0x1F",
            "2024-01-01",
            "a: b",
            "# not a comment",
            "- dash",
            "[x]",
            "{y}",
            "'single'",
            '"double"',
            "trailing ",
            " leading",
            "multi\nline\n",
            "multi\nline",
            "tab\there",
            "emoji 🚀 ünïcödé",
            "back\\slash",
            "%percent",
            "@at",
            "`tick`",
            "*star",
            "&amp",
            "!bang",
            "|pipe",
            ">gt",
            "",
            "{{ jinja }} text",
        ]
    ),
    st.text(
        alphabet=st.characters(
            blacklist_categories=("Cs", "Cc"), blacklist_characters="\x85\u2028\u2029\ufeff"
        ),
        max_size=30,
    ).filter(lambda s: "${{" not in s),
)

SCALARS = st.one_of(
    AWKWARD,
    st.integers(min_value=-(10**9), max_value=10**9),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.none(),
)

EXPRESSIONS = st.sampled_from(
    [
        "inputs.name",
        "inputs.count * 2 + 1",
        "vars.greeting ~ '!'",
        "len(inputs.tags) > 0",
        "inputs.tags | join(', ')",
        "inputs.name | upper",
        "inputs.count if inputs.count > 3 else 0",
        "{'a': 1, 'b': [1, 2]}",
        "[inputs.name, 'x']",
        "not (inputs.count == 1)",
        "inputs['name'][0:2]",
    ]
)

DURATIONS = st.sampled_from(["250ms", "30s", "5m", "2h", "3d", "PT5M"])


def expr(text: str) -> str:
    return "${{ " + text + " }}"


@st.composite
def values(draw: st.DrawFn, depth: int = 0) -> Any:
    if depth >= 2:
        return draw(st.one_of(SCALARS, EXPRESSIONS.map(expr)))
    return draw(
        st.one_of(
            SCALARS,
            EXPRESSIONS.map(expr),
            st.tuples(AWKWARD, EXPRESSIONS).map(lambda p: f"{p[0]} {expr(p[1])} end"),
            st.lists(values(depth + 1), max_size=3),
            st.dictionaries(IDS, values(depth + 1), max_size=3),
        )
    )


class _Ids:
    def __init__(self) -> None:
        self.count = 0

    def next(self, base: str) -> str:
        self.count += 1
        return f"{base}_{self.count}"


@st.composite
def steps(draw: st.DrawFn, ids: _Ids, depth: int = 0) -> dict[str, Any]:
    kinds = ["uses", "set", "wait", "fail", "return", "call"]
    if depth < 2:
        kinds += ["group", "parallel", "switch", "foreach", "repeat", "try"]
    kind = draw(st.sampled_from(kinds))
    step: dict[str, Any] = {"id": ids.next(kind)}
    if draw(st.booleans()):
        step["name"] = draw(AWKWARD)
    if draw(st.integers(0, 4)) == 0:
        step["if"] = expr("inputs.count > 1")

    def body(max_size: int = 2) -> list[dict[str, Any]]:
        return [draw(steps(ids, depth + 1)) for _ in range(draw(st.integers(1, max_size)))]

    if kind == "uses":
        step["uses"] = "core.log"
        step["with"] = {"message": draw(AWKWARD) or "x", "data": draw(values())}
        if draw(st.booleans()):
            step["retry"] = {"max_attempts": 3, "backoff": "linear", "delay": draw(DURATIONS)}
        if draw(st.booleans()):
            step["timeout"] = draw(DURATIONS)
    elif kind == "set":
        step["set"] = draw(st.dictionaries(IDS, values(), min_size=1, max_size=3))
    elif kind == "wait":
        step["wait"] = draw(st.one_of(DURATIONS, st.just({"until": expr("inputs.when")})))
    elif kind == "fail":
        step["fail"] = {"message": draw(AWKWARD) or "boom", "type": "custom"}
    elif kind == "return":
        step["return"] = draw(st.dictionaries(IDS, values(), max_size=2))
    elif kind == "call":
        step["call"] = "child-flow"
        step["with"] = draw(st.dictionaries(IDS, values(), max_size=2))
    elif kind == "group":
        step["steps"] = body()
    elif kind == "parallel":
        step["parallel"] = body(3)
        if draw(st.booleans()):
            step["fail_fast"] = draw(st.booleans())
            step["max_concurrency"] = draw(st.integers(1, 8))
    elif kind == "switch":
        cases: list[dict[str, Any]] = [
            {"when": expr("inputs.count == 1"), "steps": body()}
            for _ in range(draw(st.integers(1, 2)))
        ]
        if draw(st.booleans()):
            cases.append({"default": body()})
        step["switch"] = cases
    elif kind == "foreach":
        step["foreach"] = expr("inputs.tags")
        if draw(st.booleans()):
            step["as"] = "tag"
        if draw(st.booleans()):
            step["concurrency"] = draw(st.integers(1, 4))
        step["steps"] = body()
    elif kind == "repeat":
        step["repeat"] = {"until": expr("vars.done"), "max_iterations": draw(st.integers(1, 9))}
        step["steps"] = body()
    elif kind == "try":
        step["try"] = body()
        step["catch"] = body()
        if draw(st.booleans()):
            step["finally"] = body()
    return step


@st.composite
def flows(draw: st.DrawFn) -> dict[str, Any]:
    ids = _Ids()
    flow: dict[str, Any] = {"flow": "generated-flow"}
    if draw(st.booleans()):
        flow["description"] = draw(AWKWARD)
    if draw(st.booleans()):
        flow["labels"] = {"team": draw(AWKWARD)}
    flow["inputs"] = {
        "name": "string",
        "count": {"type": "integer", "default": 1, "minimum": 0},
        "tags": "string[]",
        "when": "string?",
    }
    flow["vars"] = {"greeting": draw(AWKWARD), "done": False}
    if draw(st.booleans()):
        flow["triggers"] = [
            {"id": "nightly", "type": "cron", "cron": "0 2 * * *", "timezone": "UTC"},
            {"id": "hook", "type": "webhook", "path": "in", "auth": "none"},
        ]
    if draw(st.booleans()):
        flow["defaults"] = {"timeout": "5m", "retry": {"max_attempts": 2}}
    flow["steps"] = [draw(steps(ids)) for _ in range(draw(st.integers(1, 4)))]
    if draw(st.booleans()):
        flow["catch"] = [draw(steps(ids, 2))]
    if draw(st.booleans()):
        flow["outputs"] = {"result": expr("inputs.name")}
    return flow


def to_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=80)
