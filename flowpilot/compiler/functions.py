"""The built-in functions and filters of the expression language (DSL.md §2).

One table, :data:`FUNCTIONS`, serves the type checker (parameter types and a return-type rule),
the docs and hover (:func:`signature_text`, ``doc``) and the runtime (``impl``, a pure-Python
implementation). Call syntax ``len(x)`` and filter syntax ``x | len`` share a spec: for a filter
the filtered value is the first argument.

Implementations take and return plain JSON values (``None``, ``bool``, ``int``, ``float``,
``str``, ``list``, ``dict``) and raise :class:`FunctionError` on bad input; they are
deterministic except ``now`` and ``uuid`` (``pure=False``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import uuid as _uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

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


class FunctionError(ValueError):
    """A function was applied to a value it cannot handle (a run-time expression error)."""


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
# Value helpers shared with the evaluator
# --------------------------------------------------------------------------------------------


def to_text(value: Any) -> str:
    """How a value reads when it becomes text (``string()``, ``~``, interpolation, templates).

    ``null`` is empty, booleans are ``true``/``false``, lists and objects are compact JSON.
    """
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return str(value)


def type_name(value: Any) -> str:
    """The DSL name of a run-time value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _want(ok: bool, func: str, what: str, value: Any) -> None:
    if not ok:
        raise FunctionError(f"{func}() expects {what}, got {type_name(value)}")


def _str(func: str, value: Any) -> str:
    _want(isinstance(value, str), func, "a string", value)
    return value


def _num(func: str, value: Any) -> int | float:
    _want(_is_number(value), func, "a number", value)
    return value


def _list(func: str, value: Any) -> list[Any]:
    _want(isinstance(value, list), func, "an array", value)
    return value


def _dict(func: str, value: Any) -> dict[str, Any]:
    _want(isinstance(value, dict), func, "an object", value)
    return value


# --------------------------------------------------------------------------------------------
# Implementations
# --------------------------------------------------------------------------------------------


def _len(value: Any) -> int:
    _want(isinstance(value, str | list | dict), "len", "a string, array or object", value)
    return len(value)


def _lower(text: Any) -> str:
    return _str("lower", text).lower()


def _upper(text: Any) -> str:
    return _str("upper", text).upper()


def _trim(text: Any, chars: Any = None) -> str:
    return _str("trim", text).strip(None if chars is None else _str("trim", chars))


def _replace(text: Any, old: Any, new: Any) -> str:
    return _str("replace", text).replace(_str("replace", old), _str("replace", new))


def _split(text: Any, sep: Any = None) -> list[str]:
    text = _str("split", text)
    if sep is None:
        return text.split()
    if _str("split", sep) == "":
        return list(text)
    return text.split(sep)


def _join(items: Any, sep: Any = None) -> str:
    sep = "" if sep is None else _str("join", sep)
    return sep.join(to_text(v) for v in _list("join", items))


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, str):
        return _str("contains", needle) in haystack
    if isinstance(haystack, list):
        return needle in haystack
    if isinstance(haystack, dict):
        return isinstance(needle, str) and needle in haystack
    raise FunctionError(f"contains() expects a string, array or object, got {type_name(haystack)}")


def _starts_with(text: Any, prefix: Any) -> bool:
    return _str("starts_with", text).startswith(_str("starts_with", prefix))


def _ends_with(text: Any, suffix: Any) -> bool:
    return _str("ends_with", text).endswith(_str("ends_with", suffix))


def _default(value: Any, fallback: Any) -> Any:
    return fallback if value is None else value


def _coalesce(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _keys(obj: Any) -> list[str]:
    return list(_dict("keys", obj))


def _values(obj: Any) -> list[Any]:
    return list(_dict("values", obj).values())


def _items(obj: Any) -> list[dict[str, Any]]:
    return [{"key": k, "value": v} for k, v in _dict("items", obj).items()]


def _sum(items: Any) -> int | float:
    total: int | float = 0
    for v in _list("sum", items):
        total += _num("sum", v)
    return total


def _extreme(func: str, pick: Callable[..., Any], values: tuple[Any, ...]) -> Any:
    seq = values[0] if len(values) == 1 and isinstance(values[0], list) else list(values)
    if not seq:
        raise FunctionError(f"{func}() of an empty array")
    if all(_is_number(v) for v in seq) or all(isinstance(v, str) for v in seq):
        return pick(seq)
    raise FunctionError(f"{func}() needs all numbers or all strings")


def _min(*values: Any) -> Any:
    return _extreme("min", min, values)


def _max(*values: Any) -> Any:
    return _extreme("max", max, values)


def _round(x: Any, digits: Any = None) -> int | float:
    x = _num("round", x)
    if digits is not None:
        _want(
            isinstance(digits, int) and not isinstance(digits, bool),
            "round",
            "integer digits",
            digits,
        )
    if not math.isfinite(x):
        raise FunctionError("round() of a non-finite number")
    # Half away from zero, as people round by hand (Python's round() is half-to-even).
    places = 0 if digits is None else max(-30, min(30, digits))
    try:
        rounded = Decimal(repr(x)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        rounded = Decimal(round(x, places))
    return int(rounded) if digits is None else float(rounded)


def _abs(x: Any) -> int | float:
    return abs(_num("abs", x))


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FunctionError("int() of a non-finite number")
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text, 10)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            raise FunctionError(f"int() cannot convert {value[:40]!r}") from None
        return _int(number)
    raise FunctionError(f"int() expects a number, string or boolean, got {type_name(value)}")


def _float(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise FunctionError(f"float() cannot convert {value[:40]!r}") from None
    raise FunctionError(f"float() expects a number, string or boolean, got {type_name(value)}")


_FALSY_TEXT = frozenset({"", "false", "0", "no", "off", "null", "none"})


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in _FALSY_TEXT
    return bool(value)


def _to_json(value: Any, indent: Any = None) -> str:
    if indent is not None:
        _want(
            isinstance(indent, int) and not isinstance(indent, bool),
            "to_json",
            "an integer indent",
            indent,
        )
        return json.dumps(value, ensure_ascii=False, indent=max(0, min(indent, 16)), default=str)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _from_json(text: Any) -> Any:
    try:
        return json.loads(_str("from_json", text))
    except json.JSONDecodeError as exc:
        raise FunctionError(
            f"from_json(): invalid JSON ({exc.msg} at position {exc.pos})"
        ) from None


def _first(items: Any) -> Any:
    _want(isinstance(items, list | str), "first", "an array or string", items)
    return items[0] if items else None


def _last(items: Any) -> Any:
    _want(isinstance(items, list | str), "last", "an array or string", items)
    return items[-1] if items else None


def _sort_key(value: Any) -> tuple[int, Any]:
    # null first, then the values themselves (mixed kinds raise TypeError in sorted()).
    return (0, 0) if value is None else (1, value)


def _sort(items: Any, key: Any = None) -> list[Any]:
    items = _list("sort", items)
    try:
        if key is None:
            return sorted(items, key=_sort_key)
        key = _str("sort", key)
        return sorted(items, key=lambda v: _sort_key(_dict("sort", v).get(key)))
    except TypeError:
        raise FunctionError("sort() cannot order values of different types") from None


def _identity(value: Any) -> Any:
    """A hashable key under which equal JSON values are equal (1 == 1.0, true != 1)."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", value)
    if isinstance(value, list):
        return ("l", tuple(_identity(v) for v in value))
    if isinstance(value, dict):
        return ("o", tuple(sorted((str(k), _identity(v)) for k, v in value.items())))
    return ("s", value)


def _unique(items: Any) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for v in _list("unique", items):
        key = _identity(v)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


def _flatten(items: Any) -> list[Any]:
    out: list[Any] = []
    for v in _list("flatten", items):
        if isinstance(v, list):
            out.extend(v)
        else:
            out.append(v)
    return out


def _iso(moment: datetime, timespec: str = "auto") -> str:
    if timespec == "auto" and moment.microsecond % 1000 == 0 and moment.microsecond:
        timespec = "milliseconds"
    text = moment.isoformat(timespec=timespec)
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _now() -> str:
    return _iso(datetime.now(UTC), "milliseconds")


def _to_datetime(func: str, value: Any) -> datetime:
    if _is_number(value):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise FunctionError(f"{func}(): timestamp out of range") from None
    text = _str(func, value).strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise FunctionError(f"{func}(): {text[:40]!r} is not an ISO-8601 date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _zone(func: str, name: Any) -> tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(_str(func, name))
    except (ZoneInfoNotFoundError, ValueError):
        raise FunctionError(f"{func}(): unknown time zone {name!r}") from None


def _date_format(value: Any, fmt: Any, tz: Any = None) -> str:
    moment = _to_datetime("date_format", value)
    if tz is not None:
        moment = moment.astimezone(_zone("date_format", tz))
    if len(_str("date_format", fmt)) > 200:
        raise FunctionError("date_format(): format too long")
    return moment.strftime(fmt)


def _date_parse(text: Any, fmt: Any = None) -> str:
    if fmt is None:
        return _iso(_to_datetime("date_parse", text))
    try:
        moment = datetime.strptime(_str("date_parse", text), _str("date_parse", fmt))
    except ValueError as exc:
        raise FunctionError(f"date_parse(): {exc}") from None
    return _iso(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _base64_encode(text: Any) -> str:
    return base64.b64encode(_str("base64_encode", text).encode()).decode("ascii")


def _base64_decode(text: Any) -> str:
    data = _str("base64_decode", text).strip()
    data += "=" * (-len(data) % 4)
    try:
        raw = base64.b64decode(
            data, altchars=b"-_" if ("-" in data or "_" in data) else None, validate=True
        )
        return raw.decode("utf-8")
    except (binascii.Error, ValueError):
        raise FunctionError("base64_decode(): not valid base64-encoded UTF-8 text") from None


def _sha256(text: Any) -> str:
    return hashlib.sha256(_str("sha256", text).encode()).hexdigest()


MAX_PATTERN = 512
MAX_REGEX_INPUT = 100_000
# Python 3.11's `re` has no timeout, so the classic shape of catastrophic backtracking is
# refused rather than run: a repeated group whose body (or one alternative of it) is made only
# of quantified atoms, like `(a+)+`, `(\w+\s?)*` or `(x*y*){2,}`. A group with a fixed atom,
# like `(\.\w+)+`, repeats unambiguously and is fine.
_REPEATED_GROUP = re.compile(r"\((?:\?:)?((?:[^()\\]|\\.)*)\)(?:[+*]|\{\d*,\d*\})")
_ATOM = re.compile(r"(\\.|\[(?:[^\]\\]|\\.)*\]|[^\\\[])([+*?]|\{\d*(?:,\d*)?\})?\??")
_BACKREF = re.compile(r"\\[1-9]|\(\?P=")


def regex_problem(pattern: str) -> str | None:
    """Why ``pattern`` may not be used by ``regex_match``, or None when it is fine."""
    if len(pattern) > MAX_PATTERN:
        return f"pattern longer than {MAX_PATTERN} characters"
    if any(_ambiguous(m.group(1)) for m in _REPEATED_GROUP.finditer(pattern)):
        return "nested quantifiers like `(a+)+` can take exponential time"
    if _BACKREF.search(pattern):
        return "back-references are not supported"
    try:
        _compiled(pattern)
    except re.error as exc:
        return f"invalid regular expression: {exc}"
    return None


def _ambiguous(body: str) -> bool:
    for alternative in body.split("|"):
        atoms = _ATOM.findall(alternative)
        variable = [q for _, q in atoms if q and (q[0] != "{" or "," in q)]
        if atoms and len(variable) == len(atoms) and any(q != "?" for q in variable):
            return True
    return False


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _regex_match(text: Any, pattern: Any) -> bool:
    text = _str("regex_match", text)
    problem = regex_problem(_str("regex_match", pattern))
    if problem:
        raise FunctionError(f"regex_match(): {problem}")
    if len(text) > MAX_REGEX_INPUT:
        raise FunctionError(f"regex_match(): text longer than {MAX_REGEX_INPUT} characters")
    return _compiled(pattern).search(text) is not None


def _uuid4() -> str:
    return str(_uuid.uuid4())


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
    impl: Callable[..., Any],
    returns: ReturnRule | None = None,
    **options: Any,
) -> FunctionSpec:
    """A spec from its signature text; without ``returns`` the result type is the written one."""
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
    return FunctionSpec(name, tuple(params), rule, returns_text, doc, impl, **options)


# fmt: off
_SPECS = (
    _fn("len(value: string | array | object) -> integer",
        "Number of characters, items or keys.", _len),
    _fn("lower(text: string) -> string", "Lower-case text.", _lower, taints=True),
    _fn("upper(text: string) -> string", "Upper-case text.", _upper, taints=True),
    _fn("trim(text: string, chars?: string) -> string",
        "Text without leading and trailing whitespace (or the given characters).", _trim,
        taints=True),
    _fn("replace(text: string, old: string, new: string) -> string",
        "Text with every occurrence of `old` replaced by `new`.", _replace, taints=True),
    _fn("split(text: string, sep?: string) -> string[]",
        "Text split at `sep` (default: at runs of whitespace; '' splits into characters).",
        _split, taints=True),
    _fn("join(items: any[], sep?: string) -> string",
        "The items as text, joined with `sep` (default: nothing).", _join, taints=True),
    _fn("contains(haystack: string | array | object, needle: any) -> boolean",
        "Whether a string has a substring, an array an item, or an object a key.", _contains),
    _fn("starts_with(text: string, prefix: string) -> boolean",
        "Whether the text starts with `prefix`.", _starts_with),
    _fn("ends_with(text: string, suffix: string) -> boolean",
        "Whether the text ends with `suffix`.", _ends_with),
    _fn("default(value: T?, fallback: U) -> T | U",
        "`value`, or `fallback` when `value` is null.", _default, _default_rule),
    _fn("coalesce(...values: T?) -> T",
        "The first argument that is not null (null when all are).", _coalesce, _coalesce_rule),
    _fn("keys(object: object) -> string[]", "The keys of an object, in order.", _keys),
    _fn("values(object: {V}) -> V[]", "The values of an object, in key order.", _values,
        lambda a: ArrayType(value_type(a[0]))),
    _fn("items(object: {V}) -> {key: string, value: V}[]",
        "The entries of an object as `{key, value}` objects.", _items, _items_rule),
    _fn("sum(items: number[]) -> number", "The sum of an array of numbers (0 when empty).",
        _sum, lambda a: _number_of(item_type(a[0]))),
    _fn("min(values: T[] | T, ...more: T) -> T",
        "The smallest item of an array, or the smallest argument (numbers or strings).",
        _min, _extreme_rule, check=_extreme_check),
    _fn("max(values: T[] | T, ...more: T) -> T",
        "The largest item of an array, or the largest argument (numbers or strings).",
        _max, _extreme_rule, check=_extreme_check),
    _fn("round(value: number, digits?: integer) -> integer | number",
        "Rounded half away from zero: an integer, or a number with `digits` decimals.",
        _round, lambda a: INT if len(a) == 1 else NUMBER),
    _fn("abs(value: number) -> number", "The absolute value.", _abs,
        lambda a: _number_of(a[0])),
    _fn("int(value: string | number | boolean) -> integer",
        "A number, numeric string or boolean as an integer (truncated toward zero).", _int),
    _fn("float(value: string | number | boolean) -> number",
        "A number, numeric string or boolean as a number.", _float),
    _fn("string(value: any) -> string",
        "Any value as text: null is empty, booleans true/false, arrays and objects JSON.",
        to_text, taints=True),
    _fn("bool(value: any) -> boolean",
        "Truthiness; the strings '', 'false', '0', 'no', 'off', 'null', 'none' are false.",
        _bool),
    _fn("to_json(value: any, indent?: integer) -> string",
        "The value as JSON text (compact, or indented by `indent` spaces).", _to_json,
        taints=True),
    _fn("from_json(text: string) -> any", "The value that JSON text describes.", _from_json,
        taints=True),
    _fn("first(items: T[] | string) -> T?",
        "The first item (or character); null when empty.", _first, _first_rule),
    _fn("last(items: T[] | string) -> T?",
        "The last item (or character); null when empty.", _last, _first_rule),
    _fn("sort(items: T[], key?: string) -> T[]",
        "The items in ascending order (objects by their field `key`); nulls first.", _sort,
        _same_array),
    _fn("unique(items: T[]) -> T[]", "The items without duplicates, first occurrence kept.",
        _unique, _same_array),
    _fn("flatten(items: T[][]) -> T[]", "Nested arrays flattened by one level.", _flatten,
        _flatten_rule),
    _fn("now() -> string<date-time>", "The current UTC time, ISO-8601 (milliseconds).", _now,
        pure=False),
    _fn("date_format(date: string | number, format: string, timezone?: string) -> string",
        "An ISO-8601 date (or epoch seconds) formatted with strftime codes, optionally in an "
        "IANA time zone.", _date_format, taints=True),
    _fn("date_parse(text: string, format?: string) -> string<date-time>",
        "Text parsed as a date (ISO-8601, or strptime `format`) to ISO-8601; naive is UTC.",
        _date_parse, taints=True),
    _fn("base64_encode(text: string) -> string", "UTF-8 text encoded as base64.",
        _base64_encode, taints=True),
    _fn("base64_decode(text: string) -> string",
        "Base64 (standard or URL-safe) decoded as UTF-8 text.", _base64_decode, taints=True),
    _fn("sha256(text: string) -> string", "The SHA-256 digest of UTF-8 text, in hex.",
        _sha256, taints=True),
    _fn("regex_match(text: string, pattern: string) -> boolean",
        "Whether a Python regular expression matches anywhere in the text.", _regex_match,
        check_constant=_regex_constant),
    _fn("uuid() -> string<uuid>", "A random UUID (version 4).", _uuid4, pure=False),
)
# fmt: on

FUNCTIONS: dict[str, FunctionSpec] = {spec.name: spec for spec in _SPECS}


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
