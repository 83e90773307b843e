"""Evaluating plan values: pre-parsed expressions compiled once into closures.

The compiler lowers every ``${{ }}`` into a nested array (``["attr", ["name", "inputs"], "x"]``,
see ``docs/ir.md``); :func:`compile_expr` turns one into a Python closure over a *names*
mapping, cached by the array's identity-free JSON text so each distinct expression of a plan is
compiled once per process. :func:`resolve_value` evaluates the four value forms (``$expr``,
``$concat``, ``$template``, ``$object``) and plain literals.

Evaluation never uses ``eval``; the operator and function semantics are the compiler's own
(:func:`flowpilot.compiler.constants.apply_binary`, ``function_impls``), so what type-checks
behaves the same at run time. A failure raises :class:`EvaluationError` naming the expression.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import TemplateError

from flowpilot.compiler.constants import apply_binary, truthy
from flowpilot.compiler.function_impls import IMPLEMENTATIONS, FunctionError, to_text, type_name
from flowpilot.compiler.templates import render_template

Names = Mapping[str, Any]
Compiled = Callable[[Names], Any]


class EvaluationError(Exception):
    """An expression or template failed at run time (a wrong type, a bad function argument…)."""

    def __init__(self, message: str, source: str | None = None) -> None:
        super().__init__(f"{message} (in '{source}')" if source else message)
        self.reason = message
        self.source = source


class _Missing:
    pass


_MISSING = _Missing()


def _attr(base: Any, name: str) -> Any:
    if base is None:
        return None
    getter = getattr(base, "get", None)
    if getter is not None:
        return getter(name)
    raise FunctionError(f"cannot read field '{name}' of {type_name(base)}")


def _index(base: Any, key: Any) -> Any:
    if base is None:
        return None
    if isinstance(key, str):
        return _attr(base, key)
    if isinstance(key, int) and not isinstance(key, bool) and isinstance(base, list | str):
        try:
            return base[key]
        except IndexError:
            return None
    raise FunctionError(f"cannot index {type_name(base)} with {type_name(key)}")


def _slice(base: Any, lo: Any, hi: Any) -> Any:
    if base is None:
        return None
    if not isinstance(base, list | str):
        raise FunctionError(f"cannot slice {type_name(base)}")
    for bound in (lo, hi):
        if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool)):
            raise FunctionError("slice bounds must be integers")
    return base[lo:hi]


def _compile(e: list[Any]) -> Compiled:
    tag = e[0]
    if tag == "lit":
        value = e[1]
        return lambda names: value
    if tag == "name":
        name = e[1]

        def read_name(names: Names) -> Any:
            value = names.get(name, _MISSING)
            if value is _MISSING:
                raise FunctionError(f"'{name}' is not defined here")
            return value

        return read_name
    if tag == "attr":
        base, attr = _compile(e[1]), e[2]
        return lambda names: _attr(base(names), attr)
    if tag == "index":
        base, key = _compile(e[1]), _compile(e[2])
        return lambda names: _index(base(names), key(names))
    if tag == "slice":
        base = _compile(e[1])
        lo = _compile(e[2]) if e[2] is not None else (lambda names: None)
        hi = _compile(e[3]) if e[3] is not None else (lambda names: None)
        return lambda names: _slice(base(names), lo(names), hi(names))
    if tag == "call":
        impl = IMPLEMENTATIONS.get(e[1])
        if impl is None:
            raise FunctionError(f"unknown function '{e[1]}'")
        args = [_compile(a) for a in e[2]]
        return lambda names: impl(*[a(names) for a in args])
    if tag == "op":
        op, left, right = e[1], _compile(e[2]), _compile(e[3])
        return lambda names: apply_binary(op, left(names), right(names))
    if tag == "and":
        left, right = _compile(e[1]), _compile(e[2])

        def and_(names: Names) -> Any:
            value = left(names)
            return right(names) if truthy(value) else value

        return and_
    if tag == "or":
        left, right = _compile(e[1]), _compile(e[2])

        def or_(names: Names) -> Any:
            value = left(names)
            return value if truthy(value) else right(names)

        return or_
    if tag == "not":
        inner = _compile(e[1])
        return lambda names: not truthy(inner(names))
    if tag == "neg":
        inner = _compile(e[1])

        def neg(names: Names) -> Any:
            value = inner(names)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise FunctionError(f"cannot negate {type_name(value)}")
            return -value

        return neg
    if tag == "if":
        test, body, orelse = _compile(e[1]), _compile(e[2]), _compile(e[3])
        return lambda names: body(names) if truthy(test(names)) else orelse(names)
    if tag == "list":
        items = [_compile(i) for i in e[1]]
        return lambda names: [i(names) for i in items]
    if tag == "dict":
        pairs = [(_compile(k), _compile(v)) for k, v in e[1]]

        def dict_(names: Names) -> Any:
            out: dict[str, Any] = {}
            for k, v in pairs:
                key = k(names)
                if not isinstance(key, str):
                    raise FunctionError(f"dict keys must be strings, not {type_name(key)}")
                out[key] = v(names)
            return out

        return dict_
    raise FunctionError(f"unknown expression tag {tag!r}")


_CACHE: dict[str, Compiled] = {}
# The same expression object (plans are cached per process) is found by identity first; the
# entry holds the object, so its id cannot be reused while the entry lives.
_BY_ID: dict[int, tuple[list[Any], Compiled]] = {}


def compile_expr(expr: list[Any]) -> Compiled:
    """The closure evaluating ``expr`` (an IR expression array), compiled once per process."""
    seen = _BY_ID.get(id(expr))
    if seen is not None and seen[0] is expr:
        return seen[1]
    key = json.dumps(expr, separators=(",", ":"))
    found = _CACHE.get(key)
    if found is None:
        if len(_CACHE) > 50_000:  # a long-lived worker running many different plans
            _CACHE.clear()
            _BY_ID.clear()
        found = _CACHE[key] = _compile(expr)
    if len(_BY_ID) > 50_000:
        _BY_ID.clear()
    _BY_ID[id(expr)] = (expr, found)
    return found


def evaluate(expr: list[Any], names: Names, source: str | None = None) -> Any:
    """Evaluate one IR expression array."""
    try:
        return compile_expr(expr)(names)
    except FunctionError as exc:
        raise EvaluationError(str(exc), source) from None
    except RecursionError:
        raise EvaluationError("expression nested too deeply", source) from None


def _template_context(names: Names) -> dict[str, Any]:
    return {k: v for k, v in names.items() if v is not _MISSING}


def resolve_value(value: Any, names: Names) -> Any:
    """The run-time value of a plan value (literal, ``$expr``, ``$concat``, ``$template``,
    ``$object``, or a list/mapping containing them)."""
    if isinstance(value, dict):
        if len(value) <= 2:
            if "$expr" in value:
                return evaluate(value["$expr"], names, value.get("src"))
            if "$concat" in value:
                return "".join(
                    to_text(resolve_value(p, names)) if isinstance(p, dict) else p
                    for p in value["$concat"]
                )
            if "$template" in value:
                text = value["$template"]
                try:
                    return render_template(text, _template_context(names))
                except TemplateError as exc:
                    raise EvaluationError(f"template failed: {exc}", _short(text)) from None
                except FunctionError as exc:
                    raise EvaluationError(str(exc), _short(text)) from None
            if "$object" in value:
                return {k: resolve_value(v, names) for k, v in value["$object"]}
        return {k: resolve_value(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_value(v, names) for v in value]
    return value


def is_dynamic(value: Any) -> bool:
    """Whether ``value`` contains anything that needs evaluating."""
    if isinstance(value, dict):
        return any(k.startswith("$") for k in value) or any(is_dynamic(v) for v in value.values())
    if isinstance(value, list):
        return any(is_dynamic(v) for v in value)
    return False


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def condition(value: Any, names: Names) -> bool:
    """Evaluate a guard / ``when`` / ``until`` value to a boolean (truthiness)."""
    return truthy(resolve_value(value, names))
