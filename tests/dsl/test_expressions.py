"""The ${{ }} expression language: syntax, precedence, spans, errors, formatting."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowpilot.dsl import ast
from flowpilot.dsl.diagnostics import DiagnosticSink
from flowpilot.dsl.expressions import (
    expected_tokens,
    format_expression,
    parse_expression,
    parse_expression_lark,
    parse_value_string,
)
from flowpilot.dsl.span import Origin, Span

ORIGIN = Origin("flow.yaml", 4, 12, 200)


def parse(text: str, origin: Origin = ORIGIN) -> ast.Expr:
    sink = DiagnosticSink()
    expr = parse_expression(text, origin, sink)
    assert expr is not None, [d.message for d in sink.items]
    assert not sink.items
    return expr


def error(text: str) -> tuple[str, int, int, str | None]:
    """(message, start column, end column, hint) of the single E003 for ``text`` (origin 1:1)."""
    sink = DiagnosticSink()
    assert parse_expression(text, Origin("f", 1, 1, 0), sink) is None
    assert len(sink.items) == 1
    d = sink.items[0]
    assert d.code == "E003"
    return d.message, d.span.column, d.span.end_column, d.hint


def fmt(text: str) -> str:
    return format_expression(parse(text))


def dump(node: object) -> object:
    return ast.dump(node, comments=True)


# --------------------------------------------------------------------------------------------
# Operators and precedence
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        ("a or b and c", ("or", "a", ("and", "b", "c"))),
        ("a and b or c", ("or", ("and", "a", "b"), "c")),
        ("not a and b", ("and", ("not", "a"), "b")),
        ("not a == b", ("not", ("==", "a", "b"))),
        ("a == b ~ c", ("==", "a", ("~", "b", "c"))),
        ("a ~ b + c", ("~", "a", ("+", "b", "c"))),
        ("a + b * c", ("+", "a", ("*", "b", "c"))),
        ("a - b - c", ("-", ("-", "a", "b"), "c")),
        ("a * -b", ("*", "a", ("-", "b"))),
        ("-a | abs", ("-", ("|abs", "a"))),
        ("-a.b", ("-", ("attr b", "a"))),
        ("a // b % c", ("%", ("//", "a", "b"), "c")),
        ("a / b", ("/", "a", "b")),
        ("a in b", ("in", "a", "b")),
        ("a not in b", ("not in", "a", "b")),
        ("a != b", ("!=", "a", "b")),
        ("a <= b", ("<=", "a", "b")),
        ("a >= b", (">=", "a", "b")),
        ("a < b", ("<", "a", "b")),
        ("a > b", (">", "a", "b")),
        ("x if c else y", ("if", "x", "c", "y")),
        ("x if a or b else y if c else z", ("if", "x", ("or", "a", "b"), ("if", "y", "c", "z"))),
        ("(a + b) * c", ("*", ("+", "a", "b"), "c")),
        ("a | f | g", ("|g", ("|f", "a"))),
        ("a | default('n/a')", ("|default", "a", "'n/a'")),
    ],
)
def test_precedence(text: str, shape: object) -> None:
    def shape_of(node: ast.Expr) -> object:
        if isinstance(node, ast.Name):
            return node.name
        if isinstance(node, ast.Const):
            return repr(node.value)
        if isinstance(node, ast.BinOp):
            return (node.op, shape_of(node.left), shape_of(node.right))
        if isinstance(node, ast.UnaryOp):
            return (node.op, shape_of(node.operand))
        if isinstance(node, ast.CondExpr):
            return ("if", shape_of(node.body), shape_of(node.test), shape_of(node.orelse))
        if isinstance(node, ast.Attr):
            return (f"attr {node.attr}", shape_of(node.obj))
        if isinstance(node, ast.Call) and node.filter:
            return (f"|{node.func}", *(shape_of(a) for a in node.args))
        raise AssertionError(node)

    assert shape_of(parse(text)) == shape
    assert dump(parse_expression_lark(text, ORIGIN, DiagnosticSink())) == dump(parse(text))


def test_literals() -> None:
    consts = parse("[null, None, true, True, false, False, 1, 2.5, 1e3, 'a', \"b\"]")
    assert isinstance(consts, ast.ListExpr)
    values = [c.value for c in consts.items]  # type: ignore[attr-defined]
    assert values == [None, None, True, True, False, False, 1, 2.5, 1000.0, "a", "b"]
    assert [type(v) for v in values[6:9]] == [int, float, float]


def test_string_escapes() -> None:
    node = parse(r"'it\'s\n\t\\ \u00e9 \x41 \q' ~ " + r'"say \"hi\""')
    assert isinstance(node, ast.BinOp)
    assert node.left.value == "it's\n\t\\ é A \\q"  # type: ignore[attr-defined]
    assert node.right.value == 'say "hi"'  # type: ignore[attr-defined]


def test_dict_keys_are_any_expression() -> None:
    node = parse("{'a': 1, b: 2, 1 + 1: [3], }")
    assert isinstance(node, ast.DictExpr)
    assert [type(k).__name__ for k in node.keys] == ["Const", "Name", "BinOp"]


def test_access_forms() -> None:
    node = parse("a.b['c'][0][1:3]")
    assert isinstance(node, ast.Slice)
    assert node.lower.value == 1 and node.upper.value == 3  # type: ignore[union-attr]
    index = node.obj
    assert isinstance(index, ast.Index) and index.index.value == 0  # type: ignore[attr-defined]
    lower_only = parse("a[1:]")
    assert isinstance(lower_only, ast.Slice) and lower_only.upper is None
    assert isinstance(parse("a[:]"), ast.Slice)


def test_calls_and_filters() -> None:
    call = parse("coalesce(a, 'x', )")
    assert isinstance(call, ast.Call) and not call.filter and len(call.args) == 2
    filt = parse("items | join(', ')")
    assert isinstance(filt, ast.Call) and filt.filter and filt.func == "join"
    assert isinstance(filt.args[0], ast.Name) and filt.args[1].value == ", "  # type: ignore[attr-defined]


def test_keywords_are_attribute_names_but_not_names() -> None:
    assert isinstance(parse("a.in"), ast.Attr)
    assert isinstance(parse("a.if.not"), ast.Attr)
    assert parse("nota").name == "nota"  # type: ignore[attr-defined]
    message, *_ = error("if")
    assert "reserved word" in message
    # keywords end at a word boundary: `a ina` is not `a in a`
    message, col, _, _ = error("a ina")
    assert "unexpected name 'ina'" in message and col == 3


# --------------------------------------------------------------------------------------------
# Spans
# --------------------------------------------------------------------------------------------


def test_spans_are_exact_file_positions() -> None:
    node = parse("steps.fetch.output  +  f(x)[0]")
    assert isinstance(node, ast.BinOp)
    assert (node.span.line, node.span.column, node.span.end_column) == (4, 12, 42)
    assert (node.span.start, node.span.end) == (200, 230)
    attr = node.left
    assert isinstance(attr, ast.Attr)
    assert (attr.attr_span.column, attr.attr_span.end_column) == (24, 30)
    index = node.right
    assert isinstance(index, ast.Index)
    call = index.obj
    assert isinstance(call, ast.Call)
    assert (call.name_span.column, call.name_span.end_column) == (35, 36)
    assert (call.span.column, call.span.end_column) == (35, 39)


def test_parenthesised_operand_widens_parent_span() -> None:
    node = parse("(a + b) * c", Origin("f", 1, 1, 0))
    assert isinstance(node, ast.BinOp)
    assert (node.span.column, node.span.end_column) == (1, 12)
    assert (node.left.span.column, node.left.span.end_column) == (2, 7)


def test_multiline_spans() -> None:
    node = parse("a +\n  b.c", Origin("f", 10, 5, 100))
    assert isinstance(node, ast.BinOp)
    assert node.right.span == Span("f", 11, 3, 11, 6, 106, 109)
    assert (node.span.line, node.span.column, node.span.end_line, node.span.end_column) == (
        10,
        5,
        11,
        6,
    )


def test_fallback_origin_maps_every_span_to_the_scalar() -> None:
    fallback = Span("f", 3, 3, 3, 20, 50, 67)
    node = parse("a.b + 1", Origin("f", 3, 4, 51, fallback=fallback))
    assert all(n.span == fallback for n in node.walk())


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "col", "end"),
    [
        ("1 +", "expected an expression after '+'", 3, 4),
        ("a and", "expected an expression after 'and'", 3, 6),
        ("(a + b", "unclosed '('", 1, 2),
        ("f(a, [1, 2)", "'[' is closed by ')'", 11, 12),
        ("a)", "unmatched ')'", 2, 3),
        ("a.", "expected an attribute name after '.'", 2, 3),
        ("x |", "expected a filter name after '|'", 3, 4),
        ("a b", "unexpected name 'b'; expected an operator or the end of the expression", 3, 4),
        ("'abc", "unterminated string", 1, 5),
        ("a = b", "unexpected character '='", 3, 4),
        ("", "empty expression", 1, 1),
        ("x if y", "unexpected end of the expression; expected 'else'", 6, 7),
    ],
)
def test_syntax_errors(text: str, message: str, col: int, end: int) -> None:
    got, got_col, got_end, _ = error(text)
    assert got.startswith(message), got
    assert (got_col, got_end) == (col, end)


def test_error_hints() -> None:
    assert error("a = b")[3] == "use '==' to compare"
    assert error("(a")[3] == "add ')'"


def test_error_position_is_in_file_coordinates() -> None:
    sink = DiagnosticSink()
    assert parse_expression("a +\n  * b", Origin("f", 7, 9, 0), sink) is None
    span = sink.items[0].span
    assert (span.line, span.column) == (8, 3)


_FRAGMENTS = list("ab1.()[]{}'\"|:,-+*/=<> notiferl\n\\$")


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(_FRAGMENTS), max_size=30))
def test_random_text_never_raises(text: str) -> None:
    sink = DiagnosticSink()
    expr = parse_expression(text, ORIGIN, sink)
    assert (expr is None) == bool(sink.items)
    # the hand-written parser accepts exactly what the grammar accepts
    lark_sink = DiagnosticSink()
    lark = parse_expression_lark(text, ORIGIN, lark_sink)
    assert (lark is None) == (expr is None)
    if expr is not None:
        assert dump(expr) == dump(lark)
        assert [n.span for n in expr.walk()] == [n.span for n in lark.walk()]  # type: ignore[union-attr]


@given(st.text(max_size=40))
def test_arbitrary_unicode_never_raises(text: str) -> None:
    parse_expression(text, ORIGIN, DiagnosticSink())


def test_deep_nesting_never_raises() -> None:
    for text in ("(" * 5000 + "a" + ")" * 5000, "-" * 5000 + "a", "[" * 3000, "a" + ".b" * 5000):
        sink = DiagnosticSink()
        parse_expression(text, ORIGIN, sink)


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("a+b*c", "a + b * c"),
        ("(a+b)*c", "(a + b) * c"),
        ("a-(b-c)", "a - (b - c)"),
        ("(a-b)-c", "a - b - c"),
        ("not (a and b)", "not (a and b)"),
        ("(not a) == b", "(not a) == b"),
        ('"x"', "'x'"),
        ("None", "null"),
        ("True", "true"),
        ("(x if c else y) | f", "(x if c else y) | f"),
        ("(x if c else y) if d else z", "(x if c else y) if d else z"),
        ("-(a + b)", "-(a + b)"),
        ("- -a", "- -a"),
        ("(-a) | abs", "(-a) | abs"),
        ("{'a':[1,2]}", "{'a': [1, 2]}"),
        ("a [ 0 ] . b", "a[0].b"),
        ("f ( )", "f()"),
    ],
)
def test_format_expression(text: str, canonical: str) -> None:
    assert fmt(text) == canonical
    assert fmt(canonical) == canonical


NAMES = st.sampled_from(["a", "b", "steps", "inputs", "x_1", "row"])


def _exprs() -> st.SearchStrategy[ast.Expr]:
    leaves = st.one_of(
        NAMES.map(lambda n: ast.Name(name=n)),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(min_value=0, max_value=10**12),
            st.floats(min_value=0, allow_nan=False, allow_infinity=False),
            st.text(max_size=8),
        ).map(lambda v: ast.Const(value=v)),
    )

    def extend(children: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
        ops = st.sampled_from(["or", "and", "==", "!=", "<", "<=", ">", ">=", "in", "not in",
                               "~", "+", "-", "*", "/", "//", "%"])  # fmt: skip
        return st.one_of(
            st.builds(lambda o, a, b: ast.BinOp(op=o, left=a, right=b), ops, children, children),
            st.builds(
                lambda o, a: ast.UnaryOp(op=o, operand=a), st.sampled_from(["not", "-"]), children
            ),
            st.builds(lambda t, b, e: ast.CondExpr(test=t, body=b, orelse=e), *[children] * 3),
            st.builds(lambda o, n: ast.Attr(obj=o, attr=n), children, NAMES),
            st.builds(lambda o, i: ast.Index(obj=o, index=i), children, children),
            st.builds(
                lambda o, lo, up: ast.Slice(obj=o, lower=lo, upper=up),
                children,
                st.none() | children,
                st.none() | children,
            ),
            st.builds(
                lambda f, a, flt: ast.Call(func=f, args=a, filter=flt and bool(a)),
                NAMES,
                st.lists(children, max_size=3),
                st.booleans(),
            ),
            st.lists(children, max_size=3).map(lambda i: ast.ListExpr(items=i)),
            st.lists(st.tuples(children, children), max_size=3).map(
                lambda kv: ast.DictExpr(keys=[k for k, _ in kv], values=[v for _, v in kv])
            ),
        )

    return st.recursive(leaves, extend, max_leaves=12)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_exprs())
def test_format_then_parse_round_trips(expr: ast.Expr) -> None:
    text = format_expression(expr)
    parsed = parse(text)
    assert dump(parsed) == dump(expr), text
    assert format_expression(parsed) == text
    lark = parse_expression_lark(text, ORIGIN, DiagnosticSink())
    assert dump(lark) == dump(parsed)
    assert [n.span for n in lark.walk()] == [n.span for n in parsed.walk()]  # type: ignore[union-attr]


# --------------------------------------------------------------------------------------------
# Strings with ${{ }}
# --------------------------------------------------------------------------------------------

VALUE_SPAN = Span("f", 1, 1, 1, 40, 0, 39)


def value(text: str, sink: DiagnosticSink | None = None) -> ast.Value:
    return parse_value_string(text, Origin("f", 1, 1, 0), sink or DiagnosticSink(), VALUE_SPAN)


def test_plain_string_is_scalar() -> None:
    assert dump(value("hello {{ jinja }}")) == {"_": "Scalar", "value": "hello {{ jinja }}"}


def test_single_expression_keeps_its_type() -> None:
    v = value("  ${{ inputs.n * 2 }} ")
    assert isinstance(v, ast.ExprValue)
    assert v.source == "inputs.n * 2" and v.span == VALUE_SPAN
    assert isinstance(v.expr, ast.BinOp)
    assert (v.expr.span.column, v.expr.span.end_column) == (7, 19)


def test_interpolated_parts_and_spans() -> None:
    v = value("Hi ${{ a.b }}, ${{ {'k': '}}'} }}!")
    assert isinstance(v, ast.Interpolated)
    kinds = [type(p).__name__ for p in v.parts]
    assert kinds == ["TextPart", "ExprValue", "TextPart", "ExprValue", "TextPart"]
    first = v.parts[1]
    assert (first.span.column, first.span.end_column) == (4, 14)
    assert (v.parts[2].span.column, v.parts[2].span.end_column) == (14, 16)
    dict_part = v.parts[3]
    assert isinstance(dict_part, ast.ExprValue) and dict_part.source == "{'k': '}}'}"
    assert isinstance(dict_part.expr, ast.DictExpr)
    assert v.parts[4].text == "!"  # type: ignore[union-attr]


def test_nested_dict_closes_correctly() -> None:
    v = value("${{ {'a': {'b': 1}} }}")
    assert isinstance(v, ast.ExprValue) and isinstance(v.expr, ast.DictExpr)


def test_unterminated_interpolation() -> None:
    sink = DiagnosticSink()
    v = value("total: ${{ a.b", sink)
    assert [d.message for d in sink.items] == ["unterminated '${{'; close it with '}}'"]
    assert (sink.items[0].span.column, sink.items[0].span.end_column) == (8, 11)
    assert isinstance(v, ast.Interpolated)
    assert v.parts[1].expr is None  # type: ignore[union-attr]


def test_bad_expression_inside_string_is_e003_at_its_position() -> None:
    sink = DiagnosticSink()
    v = value("x ${{ a + }}", sink)
    assert isinstance(v, ast.Interpolated)
    assert sink.items[0].code == "E003" and sink.items[0].span.column == 9


@given(st.text(max_size=40))
def test_value_strings_never_raise(text: str) -> None:
    value(text)


def test_expected_tokens_for_completion() -> None:
    after_dot = expected_tokens("steps.")
    assert after_dot == {"NAME"}
    assert "RPAR" in (expected_tokens("f(a") or set())
    assert expected_tokens("a b") is None
