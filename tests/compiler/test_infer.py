"""Type inference and checking of expressions: types, diagnostics with exact spans, secrets."""

from __future__ import annotations

import time

import pytest

from flowpilot.compiler import types as T
from flowpilot.compiler.infer import constant_value, infer, infer_value, is_constant
from flowpilot.dsl import ast
from flowpilot.dsl.diagnostics import Diagnostic, DiagnosticSink
from tests.compiler.expr_fakes import INPUTS, ORDER, FakeEnv, Src


def check(expr: ast.Expr, env: FakeEnv | None = None) -> tuple[T.Type, list[Diagnostic]]:
    sink = DiagnosticSink()
    env = env or FakeEnv()
    env.sink = sink
    return infer(expr, env, sink), sink.items


def only(diagnostics: list[Diagnostic]) -> Diagnostic:
    assert len(diagnostics) == 1, diagnostics
    return diagnostics[0]


def where(d: Diagnostic) -> tuple[int, int, int]:
    return d.span.line, d.span.column, d.span.end_column


# -- names and fields -------------------------------------------------------------------------


def test_unknown_name_is_e204_with_did_you_mean() -> None:
    s = Src("inptus.threshold")
    t, diags = check(s.path("inptus.threshold"))
    d = only(diags)
    assert (d.code, d.message, d.hint) == (
        "E204",
        "unknown name 'inptus'",
        "did you mean 'inputs'?",
    )
    assert where(d) == (3, 5, 11)
    assert t == T.ANY


def test_unknown_field_on_closed_object_is_e203_at_the_attribute() -> None:
    s = Src("inputs.order.totl")
    t, diags = check(s.path("inputs.order.totl"))
    d = only(diags)
    assert d.code == "E203" and "unknown field 'totl'" in d.message
    assert d.hint == "did you mean 'total'?"
    assert where(d) == (3, 18, 22)
    assert t == T.ANY


def test_unknown_input_or_var_is_e204_at_the_attribute() -> None:
    s = Src("inputs.treshold > 1")
    d = only(check(s.path("inputs.treshold"))[1])
    assert (d.code, d.message, d.hint) == (
        "E204",
        "unknown input 'treshold'",
        "did you mean 'threshold'?",
    )
    assert where(d) == (3, 12, 20)
    env = FakeEnv(
        extra={"vars": T.ObjectType(properties=(("total", T.INT),), extra=None, name="vars")}
    )
    s = Src("vars.totl")
    d = only(check(s.path("vars.totl"), env)[1])
    assert (d.code, d.message) == ("E204", "unknown var 'totl'")


def test_open_objects_accept_any_field() -> None:
    s = Src("vars.anything.deeper")
    assert check(s.path("vars.anything.deeper")) == (T.ANY, [])
    s = Src("env.HOME")
    assert check(s.path("env.HOME")) == (T.STRING, [])


def test_paths_have_their_declared_types() -> None:
    s = Src("inputs.order.lines")
    assert check(s.path("inputs.order.lines"))[0] == ORDER.fields["lines"]
    s = Src("inputs.document.size")
    assert check(s.path("inputs.document.size")) == (T.INT, [])


def test_field_of_a_number_is_e301() -> None:
    s = Src("inputs.threshold.value")
    d = only(check(s.path("inputs.threshold.value"))[1])
    assert d.code == "E301" and d.message == "cannot read field 'value' of number"
    assert where(d) == (3, 22, 27)


def test_field_of_an_array_suggests_taking_an_item() -> None:
    s = Src("inputs.tags.name")
    d = only(check(s.path("inputs.tags.name"))[1])
    assert d.code == "E301" and "x[0]" in (d.hint or "")


def test_field_of_a_nullable_object_is_nullable_without_error() -> None:
    env = FakeEnv(extra={"maybe": T.optional(ORDER)})
    s = Src("maybe.total")
    assert check(s.path("maybe.total"), env) == (T.optional(T.NUMBER), [])


def test_steps_access_goes_through_the_env() -> None:
    env = FakeEnv(known_steps={"fetch": T.ObjectType(properties=(("code", T.INT),), extra=None)})
    s = Src("steps.fetch.output.code")
    assert check(s.path("steps.fetch.output.code"), env) == (T.INT, [])
    assert env.step_calls == ["fetch"]

    s = Src("steps['fetch'].output")
    expr = s.attr_of(s.index(s.name("steps"), s.const("fetch", "'fetch'")), "output")
    assert check(expr, env)[1] == []
    assert env.step_calls == ["fetch", "fetch"]


def test_unknown_step_is_reported_by_the_env_only() -> None:
    env = FakeEnv()
    s = Src("steps.nope.output.x")
    t, diags = check(s.path("steps.nope.output.x"), env)
    assert [d.code for d in diags] == ["E201"] and t == T.ANY


def test_bare_steps_is_an_open_object() -> None:
    s = Src("steps")
    t, diags = check(s.name("steps"))
    assert isinstance(t, T.ObjectType) and t.extra == T.ANY and diags == []


# -- indexing and slicing ---------------------------------------------------------------------


def test_indexing() -> None:
    s = Src("inputs.tags[0]")
    assert check(s.index(s.path("inputs.tags"), s.const(0)))[0] == T.STRING
    s = Src("inputs.order['total']")
    assert check(s.index(s.path("inputs.order"), s.const("total", "'total'")))[0] == T.NUMBER
    s = Src("inputs.name[0]")
    assert check(s.index(s.path("inputs.name"), s.const(0)))[0] == T.STRING
    s = Src("inputs.order.lines[inputs.order.count].sku")
    lines = s.index(s.path("inputs.order.lines"), s.path("inputs.order.count"))
    assert check(s.attr_of(lines, "sku")) == (T.STRING, [])


def test_constant_key_on_an_object_is_a_field_lookup() -> None:
    s = Src("inputs.order['totl']")
    d = only(check(s.index(s.path("inputs.order"), s.const("totl", "'totl'")))[1])
    assert d.code == "E203" and where(d) == (3, 18, 24)
    env = FakeEnv(extra={"byindex": T.ObjectType(properties=(("0", T.BOOL),), extra=None)})
    s = Src("byindex[0]")
    assert check(s.index(s.name("byindex"), s.const(0)), env) == (T.BOOL, [])


def test_array_indexed_by_a_string_is_e301() -> None:
    s = Src("inputs.tags['x']")
    d = only(check(s.index(s.path("inputs.tags"), s.const("x", "'x'")))[1])
    assert d.code == "E301" and where(d) == (3, 17, 20)


def test_number_cannot_be_indexed() -> None:
    s = Src("inputs.threshold[0]")
    d = only(check(s.index(s.path("inputs.threshold"), s.const(0)))[1])
    assert d.code == "E301" and d.message == "number cannot be indexed"


def test_slicing_keeps_the_type() -> None:
    s = Src("inputs.tags[1:2]")
    expr = ast.Slice(obj=s.path("inputs.tags"), lower=s.const(1), upper=s.const(2), span=s.all)
    assert check(expr) == (T.ArrayType(T.STRING), [])
    s = Src("secrets.KEY[:4]")
    expr = ast.Slice(obj=s.path("secrets.KEY"), upper=s.const(4), span=s.all)
    assert check(expr)[0] == T.SECRET


# -- operators --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "op", "right", "expected"),
    [
        (1, "+", 2, T.INT),
        (1, "+", 2.5, T.NUMBER),
        (7, "/", 2, T.NUMBER),
        (7, "//", 2, T.INT),
        (7, "%", 2, T.INT),
        ("a", "+", "b", T.STRING),
        ("a", "~", 1, T.STRING),
        (None, "~", True, T.STRING),
        ("ab", "*", 3, T.STRING),
        (1, "<", 2.5, T.BOOL),
        ("a", ">=", "b", T.BOOL),
        ("a", "in", "abc", T.BOOL),
        (1, "==", "1", T.BOOL),
        (True, "and", False, T.BOOL),
        (None, "or", "x", T.STRING),
    ],
)
def test_operator_types(left: object, op: str, right: object, expected: T.Type) -> None:
    s = Src(f"{left!r} {op} {right!r}")
    expr = s.binop(op, s.const(left), s.const(right, repr(right), nth=0))
    assert check(expr) == (expected, [])


def test_array_concatenation() -> None:
    s = Src("inputs.tags + [1]")
    expr = s.binop("+", s.path("inputs.tags"), ast.ListExpr(items=[s.const(1)], span=s.at("[1]")))
    assert check(expr) == (T.ArrayType(T.union((T.STRING, T.INT))), [])


@pytest.mark.parametrize(
    ("source", "left", "op", "right", "message"),
    [
        ("'a' - 1", "a", "-", 1, "operator '-' cannot be applied to string and integer"),
        ("'a' < 1", "a", "<", 1, "operator '<' cannot be applied to string and integer"),
        ("1 in 2", 1, "in", 2, "operator 'in' cannot be applied to integer and integer"),
        ("1 in 'a'", 1, "in", "a", "operator 'in' cannot be applied to integer and string"),
        ("true + 1", True, "+", 1, "operator '+' cannot be applied to boolean and integer"),
    ],
)
def test_operator_on_wrong_types_is_e301(
    source: str, left: object, op: str, right: object, message: str
) -> None:
    s = Src(source)
    tokens = source.split(f" {op} ")
    expr = s.binop(op, s.const(left, tokens[0]), s.const(right, tokens[1], nth=0))
    d = only(check(expr)[1])
    assert (d.code, d.message) == ("E301", message)
    assert where(d) == (3, 5, 5 + len(source))


def test_nullable_arithmetic_is_e301_with_a_default_hint() -> None:
    s = Src("inputs.limit * 2")
    t, diags = check(s.binop("*", s.path("inputs.limit"), s.const(2)))
    d = only(diags)
    assert d.code == "E301" and d.message == "operand of '*' may be null (integer?)"
    assert d.hint == "use `inputs.limit | default(0)`"
    assert where(d) == (3, 5, 17)
    assert t == T.INT


def test_any_never_produces_operator_errors() -> None:
    s = Src("inputs.payload.a + inputs.payload.b * 2 - -inputs.payload.c < inputs.payload.d")
    p = s.path
    product = s.binop("*", p("inputs.payload.b"), s.const(2))
    neg = ast.UnaryOp(op="-", operand=p("inputs.payload.c"), span=s.at("-inputs"))
    expr = s.binop(
        "<", s.binop("-", s.binop("+", p("inputs.payload.a"), product), neg), p("inputs.payload.d")
    )
    assert check(expr) == (T.BOOL, [])
    s = Src("inputs.payload in inputs.payload ~ inputs.payload[inputs.payload]")
    member = s.index(p("inputs.payload", 2), p("inputs.payload", 3))
    expr = s.binop("in", p("inputs.payload"), s.binop("~", p("inputs.payload", 1), member))
    assert check(expr) == (T.BOOL, [])


def test_not_accepts_anything_and_minus_needs_a_number() -> None:
    s = Src("not inputs.tags")
    assert check(ast.UnaryOp(op="not", operand=s.path("inputs.tags"), span=s.all)) == (T.BOOL, [])
    s = Src("-inputs.name")
    d = only(check(ast.UnaryOp(op="-", operand=s.path("inputs.name"), span=s.all))[1])
    assert d.code == "E301"


def test_conditional_is_the_union_of_its_branches() -> None:
    s = Src("inputs.threshold if inputs.flag else 'none'")
    expr = ast.CondExpr(
        test=s.path("inputs.flag"),
        body=s.path("inputs.threshold"),
        orelse=s.const("none", "'none'"),
        span=s.all,
    )
    assert check(expr) == (T.union((T.NUMBER, T.STRING)), [])


def test_list_and_dict_literals() -> None:
    s = Src("[1, 'a', 2]")
    expr = ast.ListExpr(items=[s.const(1), s.const("a", "'a'"), s.const(2)], span=s.all)
    assert check(expr)[0] == T.ArrayType(T.union((T.INT, T.STRING)))
    s = Src("{'id': inputs.name, 'n': 1}")
    expr = ast.DictExpr(
        keys=[s.const("id", "'id'"), s.const("n", "'n'")],
        values=[s.path("inputs.name"), s.const(1)],
        span=s.all,
    )
    t = check(expr)[0]
    assert isinstance(t, T.ObjectType) and t.extra is None
    assert t.fields == {"id": T.STRING, "n": T.INT}


# -- functions and filters --------------------------------------------------------------------


def test_filter_and_call_share_a_spec() -> None:
    s = Src("inputs.limit | default(10)")
    assert check(s.filter(s.path("inputs.limit"), "default", s.const(10))) == (T.INT, [])
    s = Src("len(inputs.tags)")
    assert check(s.call("len", s.path("inputs.tags"))) == (T.INT, [])
    s = Src("inputs.order.lines | first")
    t = check(s.filter(s.path("inputs.order.lines"), "first"))[0]
    assert t == T.optional(ORDER.fields["lines"].item)  # type: ignore[attr-defined]
    s = Src("inputs.tags | join(', ') | upper")
    joined = s.filter(s.path("inputs.tags"), "join", s.const(", ", "', '"))
    assert check(s.filter(joined, "upper")) == (T.STRING, [])


def test_unknown_function_is_e302_with_did_you_mean() -> None:
    s = Src("lenght(inputs.tags)")
    d = only(check(s.call("lenght", s.path("inputs.tags")))[1])
    assert (d.code, d.message, d.hint) == (
        "E302",
        "unknown function 'lenght'",
        "did you mean 'len'?",
    )
    assert where(d) == (3, 5, 11)
    s = Src("inputs.name | uper")
    d = only(check(s.filter(s.path("inputs.name"), "uper"))[1])
    assert d.message == "unknown filter 'uper'" and d.hint == "did you mean 'upper'?"


def test_wrong_number_of_arguments_is_e302() -> None:
    s = Src("round(1, 2, 3)")
    d = only(check(s.call("round", s.const(1), s.const(2), s.const(3)))[1])
    assert d.code == "E302"
    assert d.message == "function 'round' takes 1 to 2 argument(s), 3 given"
    assert d.hint == "round(value: number, digits?: integer) -> integer | number"
    s = Src("inputs.name | replace('a')")
    d = only(check(s.filter(s.path("inputs.name"), "replace", s.const("a", "'a'")))[1])
    assert d.message == "filter 'replace' takes 2 argument(s) after the filtered value, 1 given"
    assert where(d) == (3, 19, 26)


def test_argument_type_mismatch_is_e301_on_the_argument() -> None:
    s = Src("upper(inputs.threshold)")
    d = only(check(s.call("upper", s.path("inputs.threshold")))[1])
    assert d.code == "E301"
    assert d.message == "argument 'text' of upper() must be string, got number"
    assert where(d) == (3, 11, 27)


def test_nullable_argument_is_e301_with_hint() -> None:
    s = Src("inputs.tags | first | upper")
    t, diags = check(s.filter(s.filter(s.path("inputs.tags"), "first"), "upper"))
    d = only(diags)
    assert d.code == "E301" and "may be null" in d.message
    assert d.hint == "use `x | default('')`"
    assert t == T.STRING


def test_literal_regex_is_checked_at_compile_time() -> None:
    s = Src("regex_match(inputs.name, '(a+)+')")
    d = only(check(s.call("regex_match", s.path("inputs.name"), s.const("(a+)+", "'(a+)+'")))[1])
    assert d.code == "E301" and "nested quantifiers" in d.message
    assert where(d) == (3, 30, 37)


def test_min_of_one_non_array_is_e301() -> None:
    s = Src("min(inputs.threshold)")
    assert only(check(s.call("min", s.path("inputs.threshold")))[1]).code == "E301"
    s = Src("max(inputs.threshold, inputs.order.count)")
    expr = s.call("max", s.path("inputs.threshold"), s.path("inputs.order.count"))
    assert check(expr) == (T.NUMBER, [])


# -- secrets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda s: s.binop("~", s.const("Bearer ", "'Bearer '"), s.path("secrets.TOKEN")),
        lambda s: s.binop("+", s.const("Bearer ", "'Bearer '"), s.path("secrets.TOKEN")),
        lambda s: s.filter(s.path("secrets.TOKEN"), "upper"),
        lambda s: s.call(
            "replace", s.path("secrets.TOKEN"), s.const("a", "'a'"), s.const("b", "'b'")
        ),
        lambda s: s.filter(s.path("secrets.TOKEN"), "base64_encode"),
        lambda s: s.filter(s.path("secrets.TOKEN"), "default", s.const("x", "'x'")),
    ],
)
def test_text_derived_from_a_secret_is_secret(build) -> None:  # type: ignore[no-untyped-def]
    s = Src("'Bearer ' ~ secrets.TOKEN | upper | replace('a', 'b') | base64_encode | default('x')")
    t, diags = check(build(s))
    assert diags == []
    assert T.contains_secret(t)


def test_split_of_a_secret_is_an_array_of_secrets() -> None:
    s = Src("secrets.TOKEN | split(':')")
    assert check(s.filter(s.path("secrets.TOKEN"), "split", s.const(":", "':'")))[0] == T.ArrayType(
        T.SECRET
    )


def test_comparisons_and_len_of_a_secret_are_plain() -> None:
    s = Src("secrets.TOKEN == 'x' and len(secrets.TOKEN) > 3")
    length = s.call("len", s.path("secrets.TOKEN", 1))
    expr = s.binop(
        "and",
        s.binop("==", s.path("secrets.TOKEN"), s.const("x", "'x'")),
        s.binop(">", length, s.const(3)),
    )
    assert check(expr) == (T.BOOL, [])
    assert check(length) == (T.INT, [])


def test_interpolated_value_with_a_secret_is_secret() -> None:
    s = Src("token=${{ secrets.TOKEN }}")
    inner = ast.ExprValue(source="secrets.TOKEN", expr=s.path("secrets.TOKEN"))
    value = ast.Interpolated(parts=[ast.TextPart(text="token="), inner])
    assert infer_value(value, FakeEnv(), DiagnosticSink()) == T.SECRET
    plain = ast.Interpolated(
        parts=[ast.TextPart(text="a"), ast.ExprValue(source="1", expr=s.const(1, "="))]
    )
    assert infer_value(plain, FakeEnv(), DiagnosticSink()) == T.STRING


# -- values -----------------------------------------------------------------------------------


def test_infer_value() -> None:
    sink = DiagnosticSink()
    env = FakeEnv()
    assert infer_value(ast.Scalar(value=3), env, sink) == T.INT
    assert infer_value(ast.ExprValue(source="(", expr=None), env, sink) == T.ANY
    s = Src("inputs.tags")
    mapping = ast.MapValue(
        entries=[
            ast.Entry(
                key="tags", value=ast.ExprValue(source="inputs.tags", expr=s.path("inputs.tags"))
            ),
            ast.Entry(
                key="items", value=ast.ListValue(items=[ast.Scalar(value=1), ast.Scalar(value="a")])
            ),
        ]
    )
    t = infer_value(mapping, env, sink)
    assert isinstance(t, T.ObjectType) and t.extra is None and t.required == {"tags", "items"}
    assert t.fields == {
        "tags": T.ArrayType(T.STRING),
        "items": T.ArrayType(T.union((T.INT, T.STRING))),
    }
    assert sink.items == []
    assert INPUTS.fields["tags"] == T.ArrayType(T.STRING)


# -- constants --------------------------------------------------------------------------------


def test_constant_slices_and_lookups() -> None:
    s = Src("'abcdef'[1:3]")
    expr = ast.Slice(
        obj=s.const("abcdef", "'abcdef'"), lower=s.const(1), upper=s.const(3), span=s.all
    )
    assert constant_value(expr) == (True, "bc")
    s = Src("{'a': [1, 2]}.a[1]")
    obj = ast.DictExpr(
        keys=[s.const("a", "'a'")],
        values=[ast.ListExpr(items=[s.const(1), s.const(2)], span=s.at("[1, 2]"))],
        span=s.at("{'a': [1, 2]}"),
    )
    assert constant_value(s.index(s.attr_of(obj, "a"), s.const(1, "1", nth=1))) == (True, 2)


def test_constant_folding() -> None:
    s = Src("1 + 2 * 3 == 7")
    expr = s.binop("==", s.binop("+", s.const(1), s.binop("*", s.const(2), s.const(3))), s.const(7))
    assert constant_value(expr) == (True, True)
    s = Src("'INV' ~ 1 | lower")
    assert constant_value(s.filter(s.binop("~", s.const("INV", "'INV'"), s.const(1)), "lower")) == (
        True,
        "inv1",
    )
    s = Src("len([1, 2]) > 1 if true else x")
    listing = ast.ListExpr(items=[s.const(1), s.const(2)], span=s.at("[1, 2]"))
    expr = ast.CondExpr(
        test=s.const(True, "true"),
        body=s.binop(">", s.call("len", listing), s.const(1, "1", nth=1)),
        orelse=s.name("x"),
        span=s.all,
    )
    assert constant_value(expr) == (True, True)


def test_short_circuit_makes_a_constant() -> None:
    s = Src("false and inputs.flag")
    assert constant_value(s.binop("and", s.const(False, "false"), s.path("inputs.flag"))) == (
        True,
        False,
    )
    s = Src("inputs.flag and false")
    assert not is_constant(s.binop("and", s.path("inputs.flag"), s.const(False, "false")))


@pytest.mark.parametrize(
    "build",
    [
        lambda s: s.name("x"),
        lambda s: s.call("now"),
        lambda s: s.call("uuid"),
        lambda s: s.binop("/", s.const(1), s.const(0)),
        lambda s: s.binop("*", s.const("x", "'x'"), s.const(10**9, "1000000000")),
        lambda s: s.binop("**", s.const(10), s.const(10**9, "1000000000")),
        lambda s: s.binop("<", s.const(1), s.const("x", "'x'")),
        lambda s: s.call("int", s.const("x", "'x'")),
        lambda s: ast.Slice(obj=s.const("x", "'x'"), lower=s.name("x"), span=s.all),
    ],
)
def test_not_constant(build) -> None:  # type: ignore[no-untyped-def]
    s = Src("x now uuid 1 0 'x' 1000000000 10 int")
    assert constant_value(build(s)) == (False, None)


# -- cost -------------------------------------------------------------------------------------


def test_inference_is_cheap() -> None:
    s = Src("steps.fetch.output.json.items | length > inputs.threshold and inputs.name ~ 'x'")
    expr = s.binop(
        "and",
        s.binop(">", s.path("steps.fetch.output"), s.path("inputs.threshold")),
        s.binop("~", s.path("inputs.name"), s.const("x", "'x'")),
    )
    env, sink = FakeEnv(), DiagnosticSink()
    start = time.perf_counter()
    for _ in range(2000):
        infer(expr, env, sink)
    assert time.perf_counter() - start < 0.5  # the budget is ~100 ms for a whole flow
    assert sink.items == []


def test_with_the_real_expression_parser_when_available() -> None:
    expressions = pytest.importorskip("flowpilot.dsl.expressions")
    from flowpilot.dsl.span import Origin

    sink = DiagnosticSink()
    try:
        expr = expressions.parse_expression("inputs.order.totl + 1", Origin("f", 1, 1, 0), sink)
    except Exception as exc:  # the parser is being written in parallel
        pytest.skip(f"parser not usable yet: {exc}")
    assert expr is not None
    env = FakeEnv()
    infer(expr, env, sink)
    d = only(sink.items)
    assert d.code == "E203" and (d.span.column, d.span.end_column) == (14, 18)
