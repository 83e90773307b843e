"""The built-in functions: implementations, return-type rules and signatures."""

from __future__ import annotations

import re
from typing import Any

import pytest

from flowpilot.compiler import types as T
from flowpilot.compiler.functions import FUNCTIONS, FunctionError, signature_text, to_text

DSL_NAMES = [
    *("len", "lower", "upper", "trim", "replace", "split", "join", "contains", "starts_with"),
    *("ends_with", "default", "coalesce", "keys", "values", "items", "sum", "min", "max"),
    *("round", "abs", "int", "float", "string", "bool", "to_json", "from_json", "first", "last"),
    *("sort", "unique", "flatten", "now", "date_format", "date_parse", "base64_encode"),
    *("base64_decode", "sha256", "regex_match", "uuid"),
]


def call(name: str, *args: Any) -> Any:
    return FUNCTIONS[name].impl(*args)


def returns(name: str, *args: T.Type) -> T.Type:
    return FUNCTIONS[name].returns(list(args))


def test_every_dsl_function_is_in_the_table_and_nothing_else() -> None:
    assert sorted(FUNCTIONS) == sorted(DSL_NAMES)
    for name, spec in FUNCTIONS.items():
        assert spec.doc and spec.doc.endswith(".")
        assert signature_text(name).startswith(f"{name}(")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("default", "default(value: T?, fallback: U) -> T | U"),
        ("first", "first(items: T[] | string) -> T?"),
        ("split", "split(text: string, sep?: string) -> string[]"),
        ("coalesce", "coalesce(...values: T?) -> T"),
        ("now", "now() -> string<date-time>"),
    ],
)
def test_signature_text(name: str, expected: str) -> None:
    assert signature_text(name) == expected


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("len", ("héllo",), 5),
        ("len", ([1, 2],), 2),
        ("len", ({"a": 1},), 1),
        ("len", ("",), 0),
        ("lower", ("ÄbC",), "äbc"),
        ("upper", ("straße",), "STRASSE"),
        ("trim", ("  x \n",), "x"),
        ("trim", ("--x--", "-"), "x"),
        ("replace", ("a-b-c", "-", "+"), "a+b+c"),
        ("split", ("a,b,,c", ","), ["a", "b", "", "c"]),
        ("split", ("  a  b ",), ["a", "b"]),
        ("split", ("ab", ""), ["a", "b"]),
        ("join", ([1, "a", None, True], ", "), "1, a, , true"),
        ("join", (["a", "b"],), "ab"),
        ("join", ([], "-"), ""),
        ("contains", ("invoice.pdf", ".pdf"), True),
        ("contains", ([1, 2], 3), False),
        ("contains", ({"a": 1}, "a"), True),
        ("contains", ({"a": 1}, 1), False),
        ("starts_with", ("invoice", "inv"), True),
        ("ends_with", ("invoice", "inv"), False),
        ("default", (None, "n/a"), "n/a"),
        ("default", (0, "n/a"), 0),
        ("default", ("", "n/a"), ""),
        ("coalesce", (None, None, 3, 4), 3),
        ("coalesce", (None,), None),
        ("keys", ({"b": 1, "a": 2},), ["b", "a"]),
        ("values", ({"b": 1, "a": 2},), [1, 2]),
        ("items", ({"k": 1},), [{"key": "k", "value": 1}]),
        ("sum", ([1, 2, 3],), 6),
        ("sum", ([1, 2.5],), 3.5),
        ("sum", ([],), 0),
        ("min", ([3, 1, 2],), 1),
        ("min", (3, 1, 2), 1),
        ("max", (["b", "c", "a"],), "c"),
        ("max", (2, 7.5), 7.5),
        ("round", (2.5,), 3),
        ("round", (-2.5,), -3),
        ("round", (2.675, 2), 2.68),
        ("round", (1234, -2), 1200.0),
        ("abs", (-3,), 3),
        ("abs", (-2.5,), 2.5),
        ("int", ("42",), 42),
        ("int", (" 3.9 ",), 3),
        ("int", (-3.9,), -3),
        ("int", (True,), 1),
        ("float", ("1e3",), 1000.0),
        ("float", (2,), 2.0),
        ("string", (None,), ""),
        ("string", (False,), "false"),
        ("string", (1.5,), "1.5"),
        ("string", ({"a": [1, "é"]},), '{"a":[1,"é"]}'),
        ("bool", ("false",), False),
        ("bool", (" No ",), False),
        ("bool", ("yes",), True),
        ("bool", ([],), False),
        ("bool", (0.0,), False),
        ("to_json", ({"a": None, "b": "é"},), '{"a":null,"b":"é"}'),
        ("to_json", ([1], 2), "[\n  1\n]"),
        ("from_json", ('{"a": [1, 2.5, null]}',), {"a": [1, 2.5, None]}),
        ("first", ([1, 2],), 1),
        ("first", ([],), None),
        ("first", ("ab",), "a"),
        ("last", ([1, 2],), 2),
        ("last", ("",), None),
        ("sort", ([3, None, 1],), [None, 1, 3]),
        ("sort", (["b", "a"],), ["a", "b"]),
        ("sort", ([{"n": 2}, {"n": 1}, {}], "n"), [{}, {"n": 1}, {"n": 2}]),
        (
            "unique",
            ([1, 1.0, True, "1", [1], [1], {"a": 1}, {"a": 1}],),
            [1, True, "1", [1], {"a": 1}],
        ),
        ("flatten", ([[1, 2], 3, [], [[4]]],), [1, 2, 3, [4]]),
        ("date_format", ("2024-03-05T14:07:00Z", "%d.%m.%Y %H:%M"), "05.03.2024 14:07"),
        ("date_format", ("2024-03-05T14:07:00+00:00", "%H:%M", "Europe/Berlin"), "15:07"),
        ("date_format", (0, "%Y-%m-%d"), "1970-01-01"),
        ("date_format", ("2024-03-05", "%A"), "Tuesday"),
        ("date_parse", ("05.03.2024", "%d.%m.%Y"), "2024-03-05T00:00:00Z"),
        ("date_parse", ("2024-03-05T10:00:00+02:00",), "2024-03-05T10:00:00+02:00"),
        ("date_parse", ("2024-03-05 10:00",), "2024-03-05T10:00:00Z"),
        ("base64_encode", ("héllo",), "aMOpbGxv"),
        ("base64_decode", ("aMOpbGxv",), "héllo"),
        ("base64_decode", ("aGk",), "hi"),
        ("base64_decode", ("w7w-Pw",), "ü>?"),
        ("sha256", ("",), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("regex_match", ("INV-2024-001", r"^INV-\d{4}-\d+$"), True),
        ("regex_match", ("abc", "x"), False),
    ],
)
def test_implementation(name: str, args: tuple[Any, ...], expected: Any) -> None:
    assert call(name, *args) == expected


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("len", (None,), "len() expects a string, array or object, got null"),
        ("len", (5,), "got integer"),
        ("upper", (None,), "upper() expects a string, got null"),
        ("contains", ("abc", 1), "expects a string, got integer"),
        ("sum", ([1, "2"],), "expects a number, got string"),
        ("sum", ([True],), "got boolean"),
        ("min", ([],), "empty"),
        ("max", ([1, "a"],), "all numbers or all strings"),
        ("round", (float("nan"),), "non-finite"),
        ("round", (1.5, 1.5), "integer digits"),
        ("int", ("abc",), "cannot convert"),
        ("int", (None,), "got null"),
        ("float", ("x",), "cannot convert"),
        ("from_json", ("{oops",), "invalid JSON"),
        ("from_json", (1,), "expects a string"),
        ("sort", ([1, "a"],), "different types"),
        ("date_format", ("yesterday", "%Y"), "not an ISO-8601 date"),
        ("date_format", ("2024-01-01", "%Y", "Mars/Olympus"), "unknown time zone"),
        ("date_parse", ("2024", "%d.%m"), "date_parse()"),
        ("base64_decode", ("!!!",), "not valid base64"),
        ("base64_decode", ("/w==",), "not valid base64"),
        ("regex_match", ("aaaa", "(a+)+$"), "nested quantifiers"),
        ("regex_match", ("aaaa", r"(\w*)*x"), "nested quantifiers"),
        ("regex_match", ("a", "x" * 600), "longer than"),
        ("regex_match", ("a", "(unclosed"), "invalid regular expression"),
        ("regex_match", ("a" * 200_000, "a"), "text longer than"),
        ("regex_match", ("aa", r"(a)\1"), "back-references"),
    ],
)
def test_bad_input_raises_function_error(name: str, args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(FunctionError, match=re.escape(message)):
        call(name, *args)


def test_regex_guard_accepts_ordinary_patterns() -> None:
    assert call("regex_match", "a.b@example.com", r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")
    assert call("regex_match", "2024-01-01", r"(\d{4})-(\d{2})-(\d{2})")


def test_nondeterministic_functions() -> None:
    now = call("now")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", now)
    assert call("date_parse", now) == now
    first, second = call("uuid"), call("uuid")
    assert first != second and re.fullmatch(r"[0-9a-f-]{36}", first)
    assert not FUNCTIONS["now"].pure and not FUNCTIONS["uuid"].pure
    assert all(spec.pure for name, spec in FUNCTIONS.items() if name not in ("now", "uuid"))


def test_to_text_matches_string() -> None:
    assert to_text(True) == call("string", True) == "true"
    assert to_text([1, None]) == "[1,null]"


ORDER = T.ObjectType(properties=(("id", T.STRING), ("total", T.NUMBER)), extra=None)


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("len", (T.STRING,), T.INT),
        ("first", (T.ArrayType(ORDER),), T.optional(ORDER)),
        ("last", (T.STRING,), T.optional(T.STRING)),
        ("first", (T.ANY,), T.ANY),
        ("default", (T.optional(T.INT), T.STRING), T.union((T.INT, T.STRING))),
        ("default", (T.optional(T.INT), T.INT), T.INT),
        ("default", (T.NULL, T.STRING), T.STRING),
        ("coalesce", (T.optional(T.INT), T.NUMBER), T.NUMBER),
        ("coalesce", (T.optional(T.INT), T.optional(T.STRING)),
         T.union((T.INT, T.STRING, T.NULL))),
        ("sort", (T.ArrayType(T.INT),), T.ArrayType(T.INT)),
        ("sort", (T.ANY,), T.ArrayType(T.ANY)),
        ("unique", (T.ArrayType(T.STRING),), T.ArrayType(T.STRING)),
        ("flatten", (T.ArrayType(T.ArrayType(T.INT)),), T.ArrayType(T.INT)),
        ("min", (T.ArrayType(T.INT),), T.INT),
        ("max", (T.INT, T.NUMBER), T.NUMBER),
        ("sum", (T.ArrayType(T.INT),), T.INT),
        ("sum", (T.ArrayType(T.NUMBER),), T.NUMBER),
        ("round", (T.NUMBER,), T.INT),
        ("round", (T.NUMBER, T.INT), T.NUMBER),
        ("abs", (T.INT,), T.INT),
        ("keys", (ORDER,), T.ArrayType(T.STRING)),
        ("values", (ORDER,), T.ArrayType(T.union((T.STRING, T.NUMBER)))),
        ("values", (T.ObjectType(extra=T.STRING),), T.ArrayType(T.STRING)),
        ("from_json", (T.STRING,), T.ANY),
        ("now", (), T.StringType(format="date-time")),
        ("date_parse", (T.STRING,), T.StringType(format="date-time")),
        ("uuid", (), T.StringType(format="uuid")),
        ("split", (T.STRING,), T.ArrayType(T.STRING)),
        ("regex_match", (T.STRING, T.STRING), T.BOOL),
    ],
)  # fmt: skip
def test_return_type_rule(name: str, args: tuple[T.Type, ...], expected: T.Type) -> None:
    assert returns(name, *args) == expected


def test_items_type_is_key_value_objects() -> None:
    items = returns("items", ORDER)
    assert isinstance(items, T.ArrayType) and isinstance(items.item, T.ObjectType)
    assert items.item.fields == {"key": T.STRING, "value": T.union((T.STRING, T.NUMBER))}


def test_arity_bounds() -> None:
    assert (FUNCTIONS["default"].min_args, FUNCTIONS["default"].max_args) == (2, 2)
    assert (FUNCTIONS["round"].min_args, FUNCTIONS["round"].max_args) == (1, 2)
    assert (FUNCTIONS["coalesce"].min_args, FUNCTIONS["coalesce"].max_args) == (0, None)
    assert FUNCTIONS["max"].arity_text() == "at least 1"
    assert FUNCTIONS["date_format"].arity_text() == "2 to 3"
