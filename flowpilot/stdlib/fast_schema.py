"""Compile a JSON Schema (draft 2020-12) once into a fast "is this instance valid?" check.

``jsonschema`` interprets the schema on every call and builds an error object for each failed
keyword, which is the right tool for explaining a failure but costly for the runtime, which
checks every step's arguments and nearly always finds them valid. :func:`compile_schema` turns a
schema into the source of one Python function (plus one per ``anyOf``/``oneOf``/``not`` branch),
with every keyword check written out inline, and ``exec``s it once.

The check answers exactly what ``Draft202012Validator(schema, format_checker=None).is_valid``
answers for JSON values (``None``, bools, ints, floats, strings, lists, dicts with string keys):
types, JSON equality and ``uniqueItems`` follow ``jsonschema``'s own definitions, quirks
included. A schema that uses anything outside :data:`ASSERTIONS` and :data:`ANNOTATIONS` (or
``x-*`` extensions) compiles to None, and callers keep ``jsonschema`` for it.
"""

from __future__ import annotations

import itertools
import math
import numbers
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any

SchemaCheck = Callable[[Any], bool]
"""A compiled schema: True when the instance is valid."""

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

# Keywords with no effect on validity. ``format`` is one of them because the runtime validates
# with ``format_checker=None``; ``contentSchema`` because jsonschema does not apply it.
ANNOTATIONS = frozenset(
    {
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "format",
        "contentEncoding",
        "contentMediaType",
        "contentSchema",
    }
)

# The assertion keywords this compiler handles, grouped by the kind of instance they apply to
# (JSON Schema ignores e.g. ``minLength`` on a number), each group in the order checked.
_STRING_KEYWORDS = ("minLength", "maxLength", "pattern")
_NUMBER_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_OBJECT_KEYWORDS = ("required", "properties", "patternProperties", "additionalProperties")
_ARRAY_KEYWORDS = ("minItems", "maxItems", "uniqueItems", "prefixItems", "items")
_ANY_KEYWORDS = ("type", "enum", "const", "allOf", "anyOf", "oneOf", "not")

ASSERTIONS = frozenset(
    _STRING_KEYWORDS + _NUMBER_KEYWORDS + _OBJECT_KEYWORDS + _ARRAY_KEYWORDS + _ANY_KEYWORDS
)

# ``type`` names and their tests, as jsonschema's draft 2020-12 type checker defines them: bools
# are neither integers nor numbers, and a float with no fractional part is an integer.
_TYPE_TESTS = {
    "null": "{v} is None",
    "boolean": "({v} is True or {v} is False)",
    "string": "isinstance({v}, str)",
    "object": "isinstance({v}, dict)",
    "array": "isinstance({v}, list)",
    "number": "(type({v}) is int or type({v}) is float or _is_number({v}))",
    "integer": "(type({v}) is int or _is_integer({v}))",
}

# Each group: the JSON types it applies to, the guard expression on ``{v}``, its keywords.
_GROUPS: tuple[tuple[frozenset[str], str, tuple[str, ...]], ...] = (
    (frozenset({"string"}), _TYPE_TESTS["string"], _STRING_KEYWORDS),
    (frozenset({"number", "integer"}), _TYPE_TESTS["number"], _NUMBER_KEYWORDS),
    (frozenset({"object"}), _TYPE_TESTS["object"], _OBJECT_KEYWORDS),
    (frozenset({"array"}), _TYPE_TESTS["array"], _ARRAY_KEYWORDS),
)

_NUMERIC_COMPARISONS = {  # keyword -> the comparison that makes an instance invalid
    "minimum": "<",
    "maximum": ">",
    "exclusiveMinimum": "<=",
    "exclusiveMaximum": ">=",
}
_LENGTH_COMPARISONS = {"minLength": "<", "maxLength": ">", "minItems": "<", "maxItems": ">"}

_INDENT = "    "


def compile_schema(schema: Any) -> SchemaCheck | None:
    """Compile ``schema`` into a check, or return None when it uses an unsupported keyword.

    Compiling a node's input schema takes about half a millisecond: do it once per schema.
    """
    root = schema
    if type(schema) is dict and "$schema" in schema:
        if schema["$schema"] != DRAFT_2020_12:
            return None  # another draft's rules (jsonschema picks its validator by $schema)
        root = {k: v for k, v in schema.items() if k != "$schema"}
    emitter = _Emitter()
    try:
        name = emitter.function(root, known=None)
        code = compile("\n\n".join(emitter.functions), "<fast_schema>", "exec")
    except (_Unsupported, RecursionError, SyntaxError):
        # SyntaxError: a schema nested deeper than Python's limit on nested blocks.
        return None
    exec(code, emitter.namespace)
    check: SchemaCheck = emitter.namespace[name]
    return check


class _Unsupported(Exception):
    """The schema holds something this compiler does not handle; jsonschema must."""


class _Emitter:
    """Writes the source of the check functions for one schema.

    Every subschema is emitted as a block of statements that ``return False`` unless the value in
    a given variable is valid. ``known`` is the set of ``type`` names the value has already been
    checked against (None when unknown), which lets a block skip type guards it does not need.
    """

    def __init__(self) -> None:
        self.functions: list[str] = []
        self.namespace: dict[str, Any] = dict(_RUNTIME_HELPERS)
        self._ids = itertools.count()

    def fresh(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def constant(self, value: Any) -> str:
        """Source text for ``value``: a literal when one reads back equal, else a global."""
        if type(value) in (str, int) or (type(value) is float and math.isfinite(value)):
            return repr(value)
        name = self.fresh("_k")
        self.namespace[name] = value
        return name

    def function(self, schema: Any, known: frozenset[str] | None) -> str:
        """Emit ``def <name>(x)`` returning whether ``x`` is valid under ``schema``; its name."""
        name = self.fresh("_check")
        lines = [f"def {name}(x):", *self.block(schema, "x", known, 1), f"{_INDENT}return True"]
        self.functions.append("\n".join(lines))
        return name

    def block(self, schema: Any, v: str, known: frozenset[str] | None, depth: int) -> list[str]:
        if schema is True:
            return []
        if schema is False:
            return [_INDENT * depth + "return False"]
        if type(schema) is not dict:
            raise _Unsupported(f"schema {schema!r}")
        unknown = [k for k in schema if not _is_supported_keyword(k)]
        if unknown:
            raise _Unsupported(f"keywords {unknown}")

        lines: list[str] = []
        if "type" in schema:
            types = _type_names(schema["type"])
            if not _covers(types, known):
                tests = " or ".join(_TYPE_TESTS[t].format(v=v) for t in types) or "False"
                lines += _fail_unless(tests, depth)
            known = types

        if "enum" in schema:
            lines += _fail_unless(self.enum_test(schema["enum"], v, known), depth)
        if "const" in schema:
            lines += _fail_unless(self.const_test(schema["const"], v), depth)

        for kinds, guard, keywords in _GROUPS:
            if known is not None and not known & kinds:
                continue  # the value has a type these keywords ignore
            guarded = known is None or not known <= kinds
            inner = depth + 1 if guarded else depth
            group: list[str] = []
            for keyword in keywords:
                if keyword in schema:
                    group += _KEYWORD_EMITTERS[keyword](self, schema, v, inner)
            if group and guarded:
                group.insert(0, _INDENT * depth + f"if {guard.format(v=v)}:")
            lines += group

        for sub in _list_of(schema.get("allOf", []), "allOf"):
            lines += self.block(sub, v, known, depth)
        if "anyOf" in schema:
            branches = [self.function(s, known) for s in _list_of(schema["anyOf"], "anyOf")]
            lines += _fail_unless(" or ".join(f"{b}({v})" for b in branches) or "False", depth)
        if "oneOf" in schema:
            branches = [self.function(s, known) for s in _list_of(schema["oneOf"], "oneOf")]
            count = " + ".join(f"{b}({v})" for b in branches) or "0"
            lines += _fail_unless(f"{count} == 1", depth)
        if "not" in schema:
            lines += _fail_unless(f"not {self.function(schema['not'], known)}({v})", depth)
        return lines

    def const_test(self, const: Any, v: str) -> str:
        if type(const) is str:
            return f"{v} == {const!r}"  # JSON equality with a string is string equality
        return f"_json_equal({v}, {self.constant(const)})"

    def enum_test(self, members: Any, v: str, known: frozenset[str] | None) -> str:
        if type(members) is not list:
            raise _Unsupported("enum must be a list")
        if all(type(m) is str for m in members):
            found = f"{v} in {self.constant(frozenset(members))}"
            return found if known == {"string"} else f"(isinstance({v}, str) and {found})"
        return f"_in_enum({v}, {self.constant(tuple(members))})"

    # ---- keywords of strings and numbers -----------------------------------------------------

    def length(self, schema: dict[str, Any], v: str, depth: int, keyword: str) -> list[str]:
        limit = schema[keyword]
        if type(limit) is not int:
            raise _Unsupported(f"{keyword} {limit!r}")
        return _fail_if(f"len({v}) {_LENGTH_COMPARISONS[keyword]} {limit}", depth)

    def pattern(self, schema: dict[str, Any], v: str, depth: int) -> list[str]:
        return _fail_unless(f"{self.regex(schema['pattern'])}.search({v})", depth)

    def regex(self, pattern: Any) -> str:
        """A global holding ``pattern`` compiled; jsonschema's ``re.search`` is unanchored too."""
        if type(pattern) is not str:
            raise _Unsupported(f"pattern {pattern!r}")
        try:
            return self.constant(re.compile(pattern))
        except re.error as exc:
            raise _Unsupported(f"pattern {pattern!r}: {exc}") from None

    def bound(self, schema: dict[str, Any], v: str, depth: int, keyword: str) -> list[str]:
        limit = schema[keyword]
        if type(limit) not in (int, float):
            raise _Unsupported(f"{keyword} {limit!r}")
        return _fail_if(f"{v} {_NUMERIC_COMPARISONS[keyword]} {self.constant(limit)}", depth)

    # ---- keywords of objects -----------------------------------------------------------------

    def required(self, schema: dict[str, Any], v: str, depth: int) -> list[str]:
        names = _list_of(schema["required"], "required")
        if not all(type(n) is str for n in names):
            raise _Unsupported("required must list strings")
        missing = " or ".join(f"{n!r} not in {v}" for n in names)
        return _fail_if(missing, depth) if missing else []

    def properties(self, schema: dict[str, Any], v: str, depth: int) -> list[str]:
        properties = _dict_of(schema["properties"], "properties")
        # ``required`` is checked first in the same block, so those names need no presence test.
        present = set(schema.get("required", ()))
        lines: list[str] = []
        for name, sub in properties.items():
            child = self.fresh("v")
            inner = depth if name in present else depth + 1
            body = self.block(sub, child, None, inner)
            if not body:
                continue
            if name not in present:
                lines.append(_INDENT * depth + f"if {name!r} in {v}:")
            lines.append(_INDENT * inner + f"{child} = {v}[{name!r}]")
            lines += body
        return lines

    def pattern_properties(self, schema: dict[str, Any], v: str, depth: int) -> list[str]:
        key = self.fresh("k")
        lines: list[str] = []
        for pattern, sub in _dict_of(schema["patternProperties"], "patternProperties").items():
            child = self.fresh("v")
            body = self.block(sub, child, None, depth + 2)
            if body:
                lines.append(_INDENT * (depth + 1) + f"if {self.regex(pattern)}.search({key}):")
                lines.append(_INDENT * (depth + 2) + f"{child} = {v}[{key}]")
                lines += body
        return [_INDENT * depth + f"for {key} in {v}:", *lines] if lines else []

    def additional_properties(self, schema: dict[str, Any], v: str, depth: int) -> list[str]:
        named = frozenset(schema.get("properties", {}))
        # jsonschema matches a key against all patterns at once, joined with "|".
        patterns = "|".join(schema.get("patternProperties", {}))
        extra = self.fresh("k")
        tests = [f"{extra} not in {self.constant(named)}"] if named else []
        tests += [f"not {self.regex(patterns)}.search({extra})"] if patterns else []
        is_extra = " and ".join(tests)

        sub = schema["additionalProperties"]
        if sub is False and not patterns:
            return _fail_unless(f"{self.constant(named)}.issuperset({v})", depth)
        child = self.fresh("v")
        if not is_extra:  # every property is additional
            body = self.block(sub, child, None, depth + 1)
            return [_INDENT * depth + f"for {child} in {v}.values():", *body] if body else []
        body = self.block(sub, child, None, depth + 2)
        if not body:
            return []
        return [
            _INDENT * depth + f"for {extra} in {v}:",
            _INDENT * (depth + 1) + f"if {is_extra}:",
            _INDENT * (depth + 2) + f"{child} = {v}[{extra}]",
            *body,
        ]

    # ---- keywords of arrays ------------------------------------------------------------------

    def unique_items(self, schema: dict[str, Any], v: str, depth: int) -> list[str]:
        unique = schema["uniqueItems"]
        if type(unique) is not bool:
            raise _Unsupported(f"uniqueItems {unique!r}")
        return _fail_unless(f"_unique({v})", depth) if unique else []

    def prefix_items(self, schema: dict[str, Any], v: str, depth: int) -> list[str]:
        lines: list[str] = []
        for index, sub in enumerate(_list_of(schema["prefixItems"], "prefixItems")):
            child = self.fresh("v")
            body = self.block(sub, child, None, depth + 1)
            if body:
                lines.append(_INDENT * depth + f"if len({v}) > {index}:")
                lines.append(_INDENT * (depth + 1) + f"{child} = {v}[{index}]")
                lines += body
        return lines

    def items(self, schema: dict[str, Any], v: str, depth: int) -> list[str]:
        prefix = len(_list_of(schema.get("prefixItems", []), "prefixItems"))
        sub = schema["items"]
        if sub is False:
            return _fail_if(f"len({v}) > {prefix}", depth)
        child = self.fresh("v")
        body = self.block(sub, child, None, depth + 1)
        rest = f"{v}[{prefix}:]" if prefix else v
        return [_INDENT * depth + f"for {child} in {rest}:", *body] if body else []


_KEYWORD_EMITTERS: dict[str, Callable[[_Emitter, dict[str, Any], str, int], list[str]]] = {
    **{k: partial(_Emitter.length, keyword=k) for k in _LENGTH_COMPARISONS},
    **{k: partial(_Emitter.bound, keyword=k) for k in _NUMERIC_COMPARISONS},
    "pattern": _Emitter.pattern,
    "required": _Emitter.required,
    "properties": _Emitter.properties,
    "patternProperties": _Emitter.pattern_properties,
    "additionalProperties": _Emitter.additional_properties,
    "uniqueItems": _Emitter.unique_items,
    "prefixItems": _Emitter.prefix_items,
    "items": _Emitter.items,
}


def _is_supported_keyword(keyword: str) -> bool:
    return keyword in ASSERTIONS or keyword in ANNOTATIONS or keyword.startswith("x-")


def _type_names(value: Any) -> frozenset[str]:
    names = [value] if type(value) is str else value
    if type(names) is not list or not all(type(n) is str and n in _TYPE_TESTS for n in names):
        raise _Unsupported(f"type {value!r}")
    return frozenset(names)


def _covers(types: frozenset[str], known: frozenset[str] | None) -> bool:
    """Whether every value of a ``known`` type already passes a ``type: types`` check."""
    if known is None:
        return False
    return all(t in types or (t == "integer" and "number" in types) for t in known)


def _list_of(value: Any, keyword: str) -> list[Any]:
    if type(value) is not list:
        raise _Unsupported(f"{keyword} must be a list")
    return value


def _dict_of(value: Any, keyword: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise _Unsupported(f"{keyword} must be an object")
    return value


def _fail_if(condition: str, depth: int) -> list[str]:
    return [_INDENT * depth + f"if {condition}:", _INDENT * (depth + 1) + "return False"]


def _fail_unless(condition: str, depth: int) -> list[str]:
    return _fail_if(f"not ({condition})", depth)


# ---- run-time helpers the generated code calls -----------------------------------------------
# They restate jsonschema's own definitions (``jsonschema._types`` and ``jsonschema._utils``)
# rather than import that private module, so the verdicts stay identical.


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


_TRUE = object()
_FALSE = object()


def _unbool(value: Any) -> Any:
    """Stand-ins that keep ``True``/``False`` apart from ``1``/``0`` in comparisons."""
    if value is True:
        return _TRUE
    if value is False:
        return _FALSE
    return value


def _json_equal(one: Any, two: Any) -> bool:
    """JSON equality: ``1 == 1.0`` but ``True != 1``, recursively."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(_json_equal(a, b) for a, b in zip(one, two))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return len(one) == len(two) and all(
            key in two and _json_equal(value, two[key]) for key, value in one.items()
        )
    return bool(_unbool(one) == _unbool(two))


def _in_enum(value: Any, members: Iterable[Any]) -> bool:
    return any(_json_equal(member, value) for member in members)


def _unique(items: list[Any]) -> bool:
    """``uniqueItems`` exactly as jsonschema decides it, including its sort-then-compare-
    neighbours shortcut (which can miss duplicates that sort apart, e.g. ``[[1], [True], [1]]``).
    """
    if all(type(item) is str for item in items):
        return len(set(items)) == len(items)
    try:
        ordered = sorted(_unbool(item) for item in items)
        for a, b in zip(ordered, itertools.islice(ordered, 1, None)):
            if _json_equal(a, b):
                return False
    except (NotImplementedError, TypeError):
        seen: list[Any] = []
        for item in map(_unbool, items):
            if any(_json_equal(earlier, item) for earlier in seen):
                return False
            seen.append(item)
    return True


_RUNTIME_HELPERS: dict[str, Any] = {
    "_is_number": _is_number,
    "_is_integer": _is_integer,
    "_json_equal": _json_equal,
    "_in_enum": _in_enum,
    "_unique": _unique,
}
