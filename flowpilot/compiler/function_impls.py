"""The implementations of the built-in functions, over plain JSON values.

Implementations take and return ``None``, ``bool``, ``int``, ``float``, ``str``, ``list`` and
``dict`` and raise :class:`FunctionError` on bad input; they are deterministic except ``now`` and
``uuid``. :data:`IMPLEMENTATIONS` maps each built-in name to its implementation; the signatures,
types and docs are in :mod:`flowpilot.compiler.functions`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import uuid as _uuid
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

__all__ = [
    "IMPLEMENTATIONS",
    "MAX_PATTERN",
    "MAX_REGEX_INPUT",
    "FunctionError",
    "regex_problem",
    "to_text",
    "type_name",
]


class FunctionError(ValueError):
    """A function was applied to a value it cannot handle (a run-time expression error)."""


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


IMPLEMENTATIONS: dict[str, Callable[..., Any]] = {
    "len": _len,
    "lower": _lower,
    "upper": _upper,
    "trim": _trim,
    "replace": _replace,
    "split": _split,
    "join": _join,
    "contains": _contains,
    "starts_with": _starts_with,
    "ends_with": _ends_with,
    "default": _default,
    "coalesce": _coalesce,
    "keys": _keys,
    "values": _values,
    "items": _items,
    "sum": _sum,
    "min": _min,
    "max": _max,
    "round": _round,
    "abs": _abs,
    "int": _int,
    "float": _float,
    "string": to_text,
    "bool": _bool,
    "to_json": _to_json,
    "from_json": _from_json,
    "first": _first,
    "last": _last,
    "sort": _sort,
    "unique": _unique,
    "flatten": _flatten,
    "now": _now,
    "date_format": _date_format,
    "date_parse": _date_parse,
    "base64_encode": _base64_encode,
    "base64_decode": _base64_decode,
    "sha256": _sha256,
    "regex_match": _regex_match,
    "uuid": _uuid4,
}
