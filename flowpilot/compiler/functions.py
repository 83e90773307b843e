"""The built-in functions and filters of the expression language (DSL.md §2).

One table, :data:`FUNCTIONS`, serves the type checker (parameter types and a return-type rule),
the docs and hover (:func:`signature_text`, ``doc``) and the runtime (``impl``, a pure-Python
implementation). Call syntax ``len(x)`` and filter syntax ``x | len`` share a spec: for a filter
the filtered value is the first argument.

The implementations, over plain JSON values, are in :mod:`flowpilot.compiler.function_impls`
(they raise :class:`FunctionError` on bad input and are deterministic except ``now`` and
``uuid``, ``pure=False``); their public names stay importable from here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flowpilot.compiler.function_impls import (
    IMPLEMENTATIONS,
    MAX_PATTERN,
    MAX_REGEX_INPUT,
    FunctionError,
    regex_problem,
    to_text,
    type_name,
)
from flowpilot.compiler.types import (
    ANY,
    BOOL,
    INT,
    NUMBER,
    STRING,
    AnyType,
    ArrayType,
    IntType,
    NullType,
    ObjectType,
    StringType,
    Type,
    UnionType,
    is_nullable,
    optional,
    union,
)

ReturnRule = Callable[[Sequence[Type]], Type]


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter. ``text`` is how its type reads in signatures (``T?``, ``string[]``)."""

    name: str
    type: Type
    text: str
    optional: bool = False
    variadic: bool = False


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """A built-in function.

    Attributes:
        name: the name used in calls and filters.
        params: the parameters, in order; optional ones come last, a variadic one is the last.
        returns: the result type given the argument types (after arity was checked).
        returns_text: how the result type reads in signatures.
        doc: one line for docs and hover.
        impl: the implementation over plain JSON values.
        pure: False when the result may differ between calls (``now``, ``uuid``).
        taints: the result is text derived from the arguments, so a secret argument makes the
            result secret.
        check: optional extra check over the argument types the parameter types cannot express;
            returns an error message or None.
        check_constant: optional check of a literal argument ``(index, value)`` at compile time;
            returns an error message or None.
    """

    name: str
    params: tuple[Param, ...]
    returns: ReturnRule
    returns_text: str
    doc: str
    impl: Callable[..., Any]
    pure: bool = True
    taints: bool = False
    check: Callable[[Sequence[Type]], str | None] | None = None
    check_constant: Callable[[int, Any], str | None] | None = None
    min_args: int = field(init=False)
    max_args: int | None = field(init=False)

    def __post_init__(self) -> None:
        required = sum(1 for p in self.params if not p.optional and not p.variadic)
        variadic = any(p.variadic for p in self.params)
        object.__setattr__(self, "min_args", required)
        object.__setattr__(self, "max_args", None if variadic else len(self.params))

    def param_for(self, index: int) -> Param | None:
        """The parameter that receives positional argument ``index``."""
        if index < len(self.params):
            return self.params[index]
        if self.params and self.params[-1].variadic:
            return self.params[-1]
        return None

    def arity_text(self) -> str:
        """``1``, ``1 to 3`` or ``at least 1``."""
        if self.max_args is None:
            return f"at least {self.min_args}"
        if self.max_args == self.min_args:
            return str(self.min_args)
        return f"{self.min_args} to {self.max_args}"


# --------------------------------------------------------------------------------------------
# Return-type rules
# --------------------------------------------------------------------------------------------

ARRAY = ArrayType(ANY)
OBJECT = ObjectType()
COLLECTION = union((STRING, ARRAY, OBJECT))
DATE_TIME = StringType(format="date-time")


def _members(t: Type) -> tuple[Type, ...]:
    return t.members if isinstance(t, UnionType) else (t,)


def item_type(t: Type) -> Type:
    """What iterating over a value of type ``t`` gives (array items, string characters, keys)."""
    if isinstance(t, ArrayType):
        return t.item
    if isinstance(t, StringType):
        return STRING
    if isinstance(t, ObjectType):
        return STRING
    if isinstance(t, UnionType):
        return union(item_type(m) for m in t.members if not isinstance(m, NullType))
    return ANY


def value_type(t: Type) -> Type:
    """The type of any field value of an object type."""
    if isinstance(t, ObjectType):
        parts = [typ for _, typ in t.properties]
        if t.extra is not None:
            parts.append(t.extra)
        return union(parts)
    if isinstance(t, UnionType):
        return union(value_type(m) for m in t.members if not isinstance(m, NullType))
    return ANY


def _returns(t: Type) -> ReturnRule:
    return lambda _args: t


def _same_array(args: Sequence[Type]) -> Type:
    arr = [m for m in _members(args[0]) if isinstance(m, ArrayType)]
    return union(arr) if arr else ARRAY


def _first_rule(args: Sequence[Type]) -> Type:
    t = args[0]
    return t if isinstance(t, AnyType) else optional(item_type(t))


def _default_rule(args: Sequence[Type]) -> Type:
    kept = [m for m in _members(args[0]) if not isinstance(m, NullType)]
    return union((*kept, args[1]))


def _coalesce_rule(args: Sequence[Type]) -> Type:
    kept = [m for t in args for m in _members(t) if not isinstance(m, NullType)]
    result = union(kept)
    return optional(result) if all(is_nullable(t) for t in args) else result


def _number_of(t: Type) -> Type:
    return INT if isinstance(t, IntType) else NUMBER


def _extreme_rule(args: Sequence[Type]) -> Type:
    return item_type(args[0]) if len(args) == 1 else union(args)


def _extreme_check(args: Sequence[Type]) -> str | None:
    if len(args) == 1:
        if not any(isinstance(m, ArrayType | AnyType) for m in _members(args[0])):
            return f"with one argument it must be an array, got {args[0].describe()}"
        return None
    ok = all(isinstance(m, IntType | AnyType) or m == NUMBER for t in args for m in _members(t))
    ok = ok or all(isinstance(m, StringType | AnyType) for t in args for m in _members(t))
    return None if ok else "arguments must be all numbers or all strings"


def _flatten_rule(args: Sequence[Type]) -> Type:
    inner = item_type(args[0])
    return ArrayType(union(m.item if isinstance(m, ArrayType) else m for m in _members(inner)))


def _items_rule(args: Sequence[Type]) -> Type:
    entry = ObjectType(
        properties=(("key", STRING), ("value", value_type(args[0]))),
        required=frozenset({"key", "value"}),
        extra=None,
    )
    return ArrayType(entry)


def _regex_constant(index: int, value: Any) -> str | None:
    return regex_problem(value) if index == 1 and isinstance(value, str) else None


# --------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------


# Every type written in a signature below, and what the checker accepts for it. Type variables
# accept anything; the return rule relates them.
_TYPE_TEXT: dict[str, Type] = {
    "any": ANY,
    "T": ANY,
    "T?": ANY,
    "U": ANY,
    "T[] | T": ANY,
    "string": STRING,
    "integer": INT,
    "number": NUMBER,
    "boolean": BOOL,
    "string[]": ArrayType(STRING),
    "number[]": ArrayType(NUMBER),
    "any[]": ARRAY,
    "T[]": ARRAY,
    "T[][]": ARRAY,
    "V[]": ARRAY,
    "object": OBJECT,
    "{V}": OBJECT,
    "string | number": union((STRING, NUMBER)),
    "string | number | boolean": union((STRING, NUMBER, BOOL)),
    "string | array | object": COLLECTION,
    "T[] | string": union((ARRAY, STRING)),
    "integer | number": NUMBER,
    "string<date-time>": DATE_TIME,
    "string<uuid>": StringType(format="uuid"),
    "{key: string, value: V}[]": ARRAY,
}

_SIGNATURE = re.compile(r"(\w+)\((.*)\) -> (.+)")


def _fn(
    signature: str,
    doc: str,
    returns: ReturnRule | None = None,
    **options: Any,
) -> FunctionSpec:
    """A spec from its signature text and the implementation of that name; without ``returns``
    the result type is the written one."""
    match = _SIGNATURE.fullmatch(signature)
    assert match, signature
    name, params_text, returns_text = match.groups()
    params = []
    for part in filter(None, (p.strip() for p in params_text.split(", "))):
        pname, ptype = part.split(": ", 1)
        variadic = pname.startswith("...")
        opt = pname.endswith("?")
        pname = pname.removeprefix("...").removesuffix("?")
        params.append(Param(pname, _TYPE_TEXT[ptype], ptype, optional=opt, variadic=variadic))
    rule = returns or _returns(_TYPE_TEXT[returns_text])
    impl = IMPLEMENTATIONS[name]
    return FunctionSpec(name, tuple(params), rule, returns_text, doc, impl, **options)


# fmt: off
_SPECS = (
    _fn("len(value: string | array | object) -> integer", "Number of characters, items or keys."),
    _fn("lower(text: string) -> string", "Lower-case text.", taints=True),
    _fn("upper(text: string) -> string", "Upper-case text.", taints=True),
    _fn("trim(text: string, chars?: string) -> string",
        "Text without leading and trailing whitespace (or the given characters).",
        taints=True),
    _fn("replace(text: string, old: string, new: string) -> string",
        "Text with every occurrence of `old` replaced by `new`.", taints=True),
    _fn("split(text: string, sep?: string) -> string[]",
        "Text split at `sep` (default: at runs of whitespace; '' splits into characters).",
        taints=True),
    _fn("join(items: any[], sep?: string) -> string",
        "The items as text, joined with `sep` (default: nothing).", taints=True),
    _fn("contains(haystack: string | array | object, needle: any) -> boolean",
        "Whether a string has a substring, an array an item, or an object a key."),
    _fn("starts_with(text: string, prefix: string) -> boolean",
        "Whether the text starts with `prefix`."),
    _fn("ends_with(text: string, suffix: string) -> boolean",
        "Whether the text ends with `suffix`."),
    _fn("default(value: T?, fallback: U) -> T | U",
        "`value`, or `fallback` when `value` is null.", _default_rule),
    _fn("coalesce(...values: T?) -> T",
        "The first argument that is not null (null when all are).", _coalesce_rule),
    _fn("keys(object: object) -> string[]", "The keys of an object, in order."),
    _fn("values(object: {V}) -> V[]", "The values of an object, in key order.",
        lambda a: ArrayType(value_type(a[0]))),
    _fn("items(object: {V}) -> {key: string, value: V}[]",
        "The entries of an object as `{key, value}` objects.", _items_rule),
    _fn("sum(items: number[]) -> number", "The sum of an array of numbers (0 when empty).",
        lambda a: _number_of(item_type(a[0]))),
    _fn("min(values: T[] | T, ...more: T) -> T",
        "The smallest item of an array, or the smallest argument (numbers or strings).",
        _extreme_rule, check=_extreme_check),
    _fn("max(values: T[] | T, ...more: T) -> T",
        "The largest item of an array, or the largest argument (numbers or strings).",
        _extreme_rule, check=_extreme_check),
    _fn("round(value: number, digits?: integer) -> integer | number",
        "Rounded half away from zero: an integer, or a number with `digits` decimals.",
        lambda a: INT if len(a) == 1 else NUMBER),
    _fn("abs(value: number) -> number", "The absolute value.", lambda a: _number_of(a[0])),
    _fn("int(value: string | number | boolean) -> integer",
        "A number, numeric string or boolean as an integer (truncated toward zero)."),
    _fn("float(value: string | number | boolean) -> number",
        "A number, numeric string or boolean as a number."),
    _fn("string(value: any) -> string",
        "Any value as text: null is empty, booleans true/false, arrays and objects JSON.",
        taints=True),
    _fn("bool(value: any) -> boolean",
        "Truthiness; the strings '', 'false', '0', 'no', 'off', 'null', 'none' are false."),
    _fn("to_json(value: any, indent?: integer) -> string",
        "The value as JSON text (compact, or indented by `indent` spaces).", taints=True),
    _fn("from_json(text: string) -> any", "The value that JSON text describes.",
        taints=True),
    _fn("first(items: T[] | string) -> T?",
        "The first item (or character); null when empty.", _first_rule),
    _fn("last(items: T[] | string) -> T?",
        "The last item (or character); null when empty.", _first_rule),
    _fn("sort(items: T[], key?: string) -> T[]",
        "The items in ascending order (objects by their field `key`); nulls first.",
        _same_array),
    _fn("unique(items: T[]) -> T[]", "The items without duplicates, first occurrence kept.",
        _same_array),
    _fn("flatten(items: T[][]) -> T[]", "Nested arrays flattened by one level.", _flatten_rule),
    _fn("now() -> string<date-time>", "The current UTC time, ISO-8601 (milliseconds).",
        pure=False),
    _fn("date_format(date: string | number, format: string, timezone?: string) -> string",
        "An ISO-8601 date (or epoch seconds) formatted with strftime codes, optionally in an "
        "IANA time zone.", taints=True),
    _fn("date_parse(text: string, format?: string) -> string<date-time>",
        "Text parsed as a date (ISO-8601, or strptime `format`) to ISO-8601; naive is UTC.",
        taints=True),
    _fn("base64_encode(text: string) -> string", "UTF-8 text encoded as base64.", taints=True),
    _fn("base64_decode(text: string) -> string",
        "Base64 (standard or URL-safe) decoded as UTF-8 text.", taints=True),
    _fn("sha256(text: string) -> string", "The SHA-256 digest of UTF-8 text, in hex.",
        taints=True),
    _fn("regex_match(text: string, pattern: string) -> boolean",
        "Whether a Python regular expression matches anywhere in the text.",
        check_constant=_regex_constant),
    _fn("uuid() -> string<uuid>", "A random UUID (version 4).", pure=False),
)
# fmt: on

FUNCTIONS: dict[str, FunctionSpec] = {spec.name: spec for spec in _SPECS}
assert set(FUNCTIONS) == set(IMPLEMENTATIONS), set(FUNCTIONS) ^ set(IMPLEMENTATIONS)


def _param_text(p: Param) -> str:
    if p.variadic:
        return f"...{p.name}: {p.text}"
    return f"{p.name}{'?' if p.optional else ''}: {p.text}"


def signature_text(name: str) -> str:
    """The signature of built-in ``name`` for docs and hover.

    For example ``default(value: T?, fallback: U) -> T | U``; an optional parameter reads
    ``name?: type``, a variadic one ``...name: type``.
    """
    spec = FUNCTIONS[name]
    params = ", ".join(_param_text(p) for p in spec.params)
    return f"{spec.name}({params}) -> {spec.returns_text}"


__all__ = [
    "FUNCTIONS",
    "MAX_PATTERN",
    "MAX_REGEX_INPUT",
    "FunctionError",
    "FunctionSpec",
    "Param",
    "item_type",
    "regex_problem",
    "signature_text",
    "to_text",
    "type_name",
    "value_type",
]
