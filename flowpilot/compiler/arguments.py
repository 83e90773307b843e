"""``uses:`` steps against their node type: E101 node type, E102/E103/E104 arguments, E601."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from flowpilot.compiler import types as T
from flowpilot.compiler.context import CompileContext, literal_data
from flowpilot.dsl import ast
from flowpilot.dsl.diagnostics import did_you_mean
from flowpilot.stdlib.registry import NodeType


def check_uses(ctx: CompileContext, step: ast.UsesStep) -> NodeType | None:
    """The node type a step uses, or None (after an E101) when there is no such type."""
    if not step.uses:
        return None
    node_type = ctx.registry.get(step.uses)
    if node_type is not None:
        return node_type
    name, _, major = step.uses.partition("@")
    if major and ctx.registry.get(name) is not None:
        latest = ctx.registry.get(name)
        ctx.sink.error(
            "E101",
            f"node type '{name}' has no version '{major}'",
            step.uses_span,
            f"the latest is {name}@{latest.version}" if latest else None,
        )
        return None
    hint = did_you_mean(name, ctx.registry.names())
    if hint is None:
        namespace = name.split(".", 1)[0]
        same_ns = [n for n in ctx.registry.names() if n.startswith(namespace + ".")]
        if same_ns:
            hint = f"'{namespace}' has: {', '.join(same_ns[:8])}"
        else:
            hint = "run 'flowpilot nodes' to list the node types"
    ctx.sink.error("E101", f"unknown node type '{step.uses}'", step.uses_span, hint)
    return None


def check_arguments(
    ctx: CompileContext,
    step: ast.UsesStep,
    node_type: NodeType,
    arg_types: Mapping[str, T.Type],
) -> T.Type:
    """Report argument errors of ``step``; return its output type."""
    sink = ctx.sink
    schema = node_type.inputs
    props: Mapping[str, Any] = schema.get("properties", {})
    closed = schema.get("additionalProperties", True) is False
    entries = step.args.entries if step.args is not None else []
    given = {e.key for e in entries}
    for entry in entries:
        prop = props.get(entry.key)
        if prop is None:
            if closed:
                sink.error(
                    "E102",
                    f"unknown argument '{entry.key}' for {node_type.name}",
                    entry.span,
                    did_you_mean(entry.key, props)
                    or f"{node_type.name} takes: {', '.join(props) or 'no arguments'}",
                )
            continue
        _check_argument(ctx, node_type, entry, prop, arg_types.get(entry.key, T.ANY))
    missing = [r for r in node_type.required_arguments if r not in given]
    if missing:
        names = ", ".join(f"'{m}'" for m in missing)
        sink.error(
            "E103",
            f"{node_type.name} is missing required argument{'s' if len(missing) > 1 else ''} "
            f"{names}",
            step.uses_span,
            _describe_args(props, missing),
        )
    for key in ("anyOf", "oneOf"):
        alternatives = schema.get(key)
        if (
            isinstance(alternatives, list)
            and all("required" in a for a in alternatives)
            and not any(set(a["required"]) <= given for a in alternatives)
        ):
            options = " or ".join("+".join(a["required"]) for a in alternatives)
            sink.error(
                "E103",
                f"{node_type.name} needs {options}",
                step.uses_span,
                _describe_args(props, [r for a in alternatives for r in a["required"]]),
            )
    if node_type.output_from and step.args is not None:
        entry = step.args.get(node_type.output_from)
        if entry is not None:
            ok, data = literal_data(entry.value)
            if ok and isinstance(data, Mapping):
                try:
                    jsonschema.Draft202012Validator.check_schema(data)
                except jsonschema.exceptions.SchemaError as exc:
                    sink.error(
                        "E104",
                        f"argument '{node_type.output_from}' of {node_type.name} is not a valid "
                        f"JSON Schema: {exc.message}",
                        entry.value.span,
                    )
                    return T.ANY
                return T.from_schema(data, closed=True)
    return _output_type(node_type)


# Node types are immutable once registered, so derived types and validators are cached by
# (name, version); the schemas themselves are dicts and cannot be cache keys.
_OUTPUT_TYPES: dict[tuple[str, int], T.Type] = {}
_VALIDATORS: dict[tuple[str, int, str], Any] = {}


def _output_type(node_type: NodeType) -> T.Type:
    key = (node_type.name, node_type.version)
    found = _OUTPUT_TYPES.get(key)
    if found is None:
        found = _OUTPUT_TYPES[key] = T.from_schema(node_type.output)
    return found


def _describe_args(props: Mapping[str, Any], names: list[str]) -> str | None:
    parts = []
    for name in names:
        prop = props.get(name)
        if isinstance(prop, Mapping):
            desc = prop.get("description", "")
            parts.append(f"{name}: {T.from_schema(prop)}" + (f" — {desc}" if desc else ""))
    return "; ".join(parts) or None


def _check_argument(
    ctx: CompileContext,
    node_type: NodeType,
    entry: ast.Entry,
    prop: Mapping[str, Any],
    actual: T.Type,
) -> None:
    sink = ctx.sink
    if _has_secret_inside(actual) and _leaks_secret(actual, prop):
        spans = ctx.template_secrets.get(id(entry.value)) or [_secret_site(entry.value)]
        sink.error(
            "E601",
            f"a secret flows into '{entry.key}' of {node_type.name}, which may expose it",
            spans[0],
            "secrets may only go into arguments that accept them (credentials, tokens, "
            "headers); logs, messages and outputs are stored and shown",
        )
        return
    ok, data = literal_data(entry.value)
    if ok:
        if prop.get("x-type") in ("file", "secret"):
            expected = T.from_schema(prop)
            if not T.assignable(actual, expected):
                sink.error(
                    "E104",
                    f"argument '{entry.key}' of {node_type.name} expects {expected}, got {actual}",
                    entry.value.span,
                    _file_hint(prop),
                )
            return
        error = _validate_literal(node_type, entry.key, data)
        if error is not None:
            sink.error(
                "E104",
                f"argument '{entry.key}' of {node_type.name}: {error}",
                entry.value.span,
                _enum_hint(prop, data),
            )
        return
    if prop.get("x-lazy"):
        return  # evaluated per element at run time; checked in its own scope
    problems = _mixed_problems(entry.value, actual, prop)
    if problems:
        where, message, hint = problems[0]
        sink.error("E104", f"argument '{entry.key}' of {node_type.name}: {message}", where, hint)


Problem = tuple[Any, str, str | None]  # (span, message, hint)


def _mixed_problems(value: ast.Value, actual: T.Type, schema: Mapping[str, Any]) -> list[Problem]:
    """Problems of a value that mixes literals and expressions, checked part by part: literal
    parts against the schema (enums, bounds, formats), expression parts by type."""
    if not isinstance(schema, Mapping):
        return []
    alternatives = schema.get("oneOf") or schema.get("anyOf")
    if isinstance(alternatives, list) and alternatives:
        base = {k: v for k, v in schema.items() if k not in ("oneOf", "anyOf")}
        results = [_mixed_problems(value, actual, {**base, **alt}) for alt in alternatives]
        return min(results, key=len)
    ok, data = literal_data(value)
    if ok:
        error = best_match(_schema_validator(schema).iter_errors(data))
        return [] if error is None else [(value.span, error.message, None)]
    if isinstance(value, ast.MapValue) and isinstance(actual, T.ObjectType):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        problems: list[Problem] = []
        for entry in value.entries:
            sub = props.get(entry.key, extra if isinstance(extra, Mapping) else None)
            if sub is None:
                if extra is False:
                    hint = did_you_mean(entry.key, props)
                    problems.append((entry.span, f"unknown field '{entry.key}'", hint))
                continue
            field_type = actual.field_type(entry.key) or T.ANY
            problems.extend(
                (span, f"{entry.key}: {msg}", hint)
                for span, msg, hint in _mixed_problems(entry.value, field_type, sub)
            )
        missing = [r for r in schema.get("required", []) if value.get(r) is None]
        if missing:
            problems.append((value.span, f"missing field '{missing[0]}'", None))
        return problems
    if isinstance(value, ast.ListValue) and isinstance(actual, T.ArrayType):
        items = schema.get("items", {})
        problems = []
        for item in value.items:
            problems.extend(_mixed_problems(item, actual.item, items))
        return problems
    expected = T.from_schema(schema)
    if T.assignable(actual, expected):
        return []
    return [(value.span, f"expects {expected}, got {actual}", _coercion_hint(actual, expected))]


_SCHEMA_VALIDATORS: dict[int, tuple[Mapping[str, Any], Any]] = {}


def schema_error(schema: Mapping[str, Any], data: Any) -> str | None:
    """The most relevant reason ``data`` is invalid against ``schema``, or None."""
    if _surely_valid(schema, data):
        return None
    try:
        error = best_match(
            jsonschema.Draft202012Validator(
                _strip_extensions(schema),
                format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
            ).iter_errors(data)
        )
    except (jsonschema.exceptions.SchemaError, AttributeError, TypeError) as exc:
        # A schema the user wrote may be malformed in ways jsonschema does not expect.
        return f"invalid schema: {getattr(exc, 'message', exc)}"
    return None if error is None else error.message


def _schema_validator(schema: Mapping[str, Any]) -> Any:
    found = _SCHEMA_VALIDATORS.get(id(schema))
    if found is None or found[0] is not schema:
        cls = jsonschema.Draft202012Validator
        validator = cls(_strip_extensions(schema), format_checker=cls.FORMAT_CHECKER)
        found = _SCHEMA_VALIDATORS[id(schema)] = (schema, validator)
    return found[1]


def _secret_site(value: ast.Value) -> Any:
    """The span of the first place inside ``value`` that reads a secret."""
    for node in value.walk():
        if isinstance(node, ast.ExprValue) and node.expr is not None:
            for inner in node.expr.walk():
                if isinstance(inner, ast.Name) and inner.name in ("secrets", "vars"):
                    return node.span
    return value.span


def _file_hint(prop: Mapping[str, Any]) -> str | None:
    if prop.get("x-type") == "file":
        return "pass a file, e.g. ${{ inputs.document }} or a previous step's file output"
    return None


def _enum_hint(prop: Mapping[str, Any], data: Any) -> str | None:
    enum = prop.get("enum")
    if isinstance(enum, list) and isinstance(data, str):
        return did_you_mean(data, [e for e in enum if isinstance(e, str)]) or (
            "one of: " + ", ".join(str(e) for e in enum)
        )
    return None


def _coercion_hint(actual: T.Type, expected: T.Type) -> str | None:
    if T.is_nullable(actual) and T.assignable(T.non_null(actual), expected):
        return "the value may be null; add | default(...)"
    if isinstance(expected, T.StringType) and expected.enum:
        return "one of: " + ", ".join(expected.enum)
    if isinstance(expected, T.StringType) and not isinstance(actual, T.StringType):
        return "convert it with string(...) or to_json(...)"
    if isinstance(expected, T.NumberType | T.IntType) and isinstance(actual, T.StringType):
        return "convert it with int(...) or float(...)"
    return None


def _validator(node_type: NodeType, key: str) -> Any:
    cache_key = (node_type.name, node_type.version, key)
    found = _VALIDATORS.get(cache_key)
    if found is None:
        cls = jsonschema.Draft202012Validator
        schema = _strip_extensions(node_type.arguments[key])
        found = _VALIDATORS[cache_key] = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return found


def _strip_extensions(schema: Any) -> Any:
    if isinstance(schema, Mapping):
        return {k: _strip_extensions(v) for k, v in schema.items() if not k.startswith("x-")}
    if isinstance(schema, list):
        return [_strip_extensions(v) for v in schema]
    return schema


_ANNOTATIONS = frozenset({"description", "default", "title", "examples", "markdownDescription"})
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}
_CHECKED_FORMATS = frozenset(jsonschema.Draft202012Validator.FORMAT_CHECKER.checkers)
_LENGTH_BOUNDS: dict[str, Callable[[int, int], bool]] = {
    "minLength": operator.ge,
    "maxLength": operator.le,
}
_NUMBER_BOUNDS: dict[str, Callable[[Any, Any], bool]] = {
    "minimum": operator.ge,
    "maximum": operator.le,
    "exclusiveMinimum": operator.gt,
    "exclusiveMaximum": operator.lt,
}


def _surely_valid(schema: Mapping[str, Any], data: Any) -> bool:
    """A cheap yes for the common literal (a string, a number, an enum member) against a
    schema made only of a type, an enum, length or numeric bounds and annotations; anything
    else goes to jsonschema."""
    typ = None
    for key, value in schema.items():
        if key == "type":
            typ = value
        elif key == "enum":
            if type(value) is not list or data not in value:
                return False
            # A string cannot equal a boolean; for anything else `in` may mix 1 and True.
            if type(data) is not str and isinstance(data, bool) is not any(
                isinstance(v, bool) and v == data for v in value
            ):
                return False
        elif key == "format":
            if value in _CHECKED_FORMATS:
                return False
        elif key in _LENGTH_BOUNDS:
            if not (
                type(data) is str and type(value) is int and _LENGTH_BOUNDS[key](len(data), value)
            ):
                return False
        elif key in _NUMBER_BOUNDS:
            if not (
                type(data) in (int, float)
                and type(value) in (int, float)
                and _NUMBER_BOUNDS[key](data, value)
            ):
                return False
        elif key not in _ANNOTATIONS and not key.startswith("x-"):
            return False
    if not isinstance(typ, str) or typ not in _PY_TYPES:
        return False
    if isinstance(data, bool) and typ != "boolean":
        return False
    if typ in ("object", "array"):
        return False  # their contents need the full check
    return isinstance(data, _PY_TYPES[typ])


def _validate_literal(node_type: NodeType, key: str, data: Any) -> str | None:
    if _surely_valid(node_type.arguments[key], data):
        return None
    validator = _validator(node_type, key)
    error = best_match(validator.iter_errors(data))
    if error is None:
        return None
    where = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"{where.lstrip('.')}: {error.message}" if where else error.message


def _has_secret_inside(typ: T.Type) -> bool:
    if T.contains_secret(typ):
        return True
    if isinstance(typ, T.ObjectType):
        return any(_has_secret_inside(t) for _, t in typ.properties)
    if isinstance(typ, T.ArrayType):
        return _has_secret_inside(typ.item)
    return False


def _leaks_secret(actual: T.Type, schema: Mapping[str, Any] | Any) -> bool:
    """Does a secret inside ``actual`` land somewhere ``schema`` does not accept secrets?"""
    if not isinstance(schema, Mapping):
        return T.contains_secret(actual)
    if schema.get("x-secret") or schema.get("x-type") == "secret":
        return False
    alternatives = schema.get("oneOf") or schema.get("anyOf")
    if isinstance(alternatives, list) and alternatives:
        base = {k: v for k, v in schema.items() if k not in ("oneOf", "anyOf")}
        return all(_leaks_secret(actual, {**base, **alt}) for alt in alternatives)
    if T.contains_secret(actual):
        return True
    if isinstance(actual, T.ObjectType):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", {})
        for key, typ in actual.properties:
            sub = props.get(key, extra)
            if sub is False:
                continue  # an unknown field: reported as such (E104), not as a leak
            if _leaks_secret(typ, sub):
                return True
        return False
    if isinstance(actual, T.ArrayType):
        return _leaks_secret(actual.item, schema.get("items", {}))
    return False
