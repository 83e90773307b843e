"""Constant folding and the value semantics of the binary operators.

:func:`is_constant` and :func:`constant_value` fold expressions written with literals only (for
W104 "condition is always true/false"); :func:`apply_binary` and :func:`truthy` are the operator
semantics over plain JSON values that the evaluator and folding share.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from flowpilot.compiler.functions import FUNCTIONS, FunctionError, to_text, type_name
from flowpilot.dsl.ast import (
    Attr,
    BinOp,
    Call,
    CondExpr,
    Const,
    DictExpr,
    Expr,
    Index,
    ListExpr,
    Slice,
    UnaryOp,
)

MAX_FOLDED_SIZE = 10_000
_NOT_CONSTANT: tuple[bool, Any] = (False, None)


def truthy(value: Any) -> bool:
    """Whether a value counts as true in a condition (not null, 0, '', [] or {})."""
    return bool(value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: Any) -> bool:
    return isinstance(value, str)


def apply_binary(op: str, left: Any, right: Any) -> Any:
    """The value of ``left op right`` over plain JSON values (not ``and``/``or``).

    The evaluator and constant folding share these semantics. Raises :class:`FunctionError`
    when the operator does not apply to the values.
    """
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if op == "~":
        return to_text(left) + to_text(right)
    if op in ("in", "not in"):
        if isinstance(right, str):
            if not isinstance(left, str):
                raise FunctionError(f"'{op}' a string needs a string on the left")
            found = left in right
        elif isinstance(right, list | dict):
            found = left in right if isinstance(right, list) or isinstance(left, str) else False
        else:
            raise FunctionError(f"'{op}' needs a string, array or object on the right")
        return found if op == "in" else not found
    if op in ("<", "<=", ">", ">="):
        if not ((_number(left) and _number(right)) or (_text(left) and _text(right))):
            raise FunctionError(f"cannot compare {type_name(left)} with {type_name(right)}")
        return _COMPARE[op](left, right)
    if op == "+" and (
        (_text(left) and _text(right)) or (isinstance(left, list) and isinstance(right, list))
    ):
        return left + right
    if (
        op == "*"
        and isinstance(left, str | list)
        and isinstance(right, int)
        and not isinstance(right, bool)
    ):
        if len(left) * right > MAX_FOLDED_SIZE:
            raise FunctionError("repetition too large")
        return left * right
    arith = _ARITH.get(op)
    if arith is None or not (_number(left) and _number(right)):
        raise FunctionError(
            f"operator '{op}' cannot be applied to {type_name(left)} and {type_name(right)}"
        )
    if op in ("/", "//", "%") and right == 0:
        raise FunctionError("division by zero")
    if op == "**" and (abs(right) > 64 or abs(left) > 2**64):
        raise FunctionError("power too large")
    result = arith(left, right)
    if isinstance(result, float) and not math.isfinite(result):
        raise FunctionError("number out of range")
    return result


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "//": lambda a, b: a // b,
    "%": lambda a, b: a % b,
    "**": lambda a, b: a**b,
}


def is_constant(expr: Expr) -> bool:
    """Whether ``expr`` has the same value on every run (literals, and operators or pure
    functions over literals)."""
    return _fold(expr)[0]


def constant_value(expr: Expr) -> tuple[bool, Any]:
    """``(True, value)`` when ``expr`` is constant (see :func:`is_constant`), else
    ``(False, None)``."""
    return _fold(expr)


def _fold(expr: Expr) -> tuple[bool, Any]:
    rule = _FOLD.get(expr.__class__)
    return _NOT_CONSTANT if rule is None else rule(expr)


def _fold_all(exprs: list[Expr]) -> tuple[bool, list[Any]]:
    values = []
    for e in exprs:
        ok, v = _fold(e)
        if not ok:
            return False, []
        values.append(v)
    return True, values


def _fold_binop(expr: BinOp) -> tuple[bool, Any]:
    ok, left = _fold(expr.left)
    if not ok:
        return _NOT_CONSTANT
    if expr.op == "and":
        return (True, left) if not truthy(left) else _fold(expr.right)
    if expr.op == "or":
        return (True, left) if truthy(left) else _fold(expr.right)
    ok, right = _fold(expr.right)
    return _attempt(apply_binary, expr.op, left, right) if ok else _NOT_CONSTANT


def _fold_unary(expr: UnaryOp) -> tuple[bool, Any]:
    ok, value = _fold(expr.operand)
    if not ok:
        return _NOT_CONSTANT
    if expr.op == "not":
        return True, not truthy(value)
    return (True, -value) if _number(value) else _NOT_CONSTANT


def _fold_cond(expr: CondExpr) -> tuple[bool, Any]:
    ok, test = _fold(expr.test)
    if not ok:
        return _NOT_CONSTANT
    return _fold(expr.body if truthy(test) else expr.orelse)


def _fold_call(expr: Call) -> tuple[bool, Any]:
    spec = FUNCTIONS.get(expr.func)
    if spec is None or not spec.pure:
        return _NOT_CONSTANT
    ok, args = _fold_all(expr.args)
    if (
        not ok
        or len(args) < spec.min_args
        or (spec.max_args is not None and len(args) > spec.max_args)
    ):
        return _NOT_CONSTANT
    return _attempt(spec.impl, *args)


def _fold_dict(expr: DictExpr) -> tuple[bool, Any]:
    ok_keys, keys = _fold_all(expr.keys)
    ok_values, values = _fold_all(expr.values)
    if not (ok_keys and ok_values) or not all(isinstance(k, str) for k in keys):
        return _NOT_CONSTANT
    return True, dict(zip(keys, values))


def _fold_index(expr: Index) -> tuple[bool, Any]:
    ok, pair = _fold_all([expr.obj, expr.index])
    return _attempt(_lookup, *pair) if ok else _NOT_CONSTANT


def _fold_attr(expr: Attr) -> tuple[bool, Any]:
    ok, obj = _fold(expr.obj)
    return _attempt(_lookup, obj, expr.attr) if ok and isinstance(obj, dict) else _NOT_CONSTANT


def _fold_slice(expr: Slice) -> tuple[bool, Any]:
    bounds = [b if b is not None else Const(value=None) for b in (expr.obj, expr.lower, expr.upper)]
    ok, values = _fold_all(bounds)
    if not ok:
        return _NOT_CONSTANT
    obj, lower, upper = values
    if not isinstance(obj, str | list):
        return _NOT_CONSTANT
    if not all(
        b is None or (isinstance(b, int) and not isinstance(b, bool)) for b in (lower, upper)
    ):
        return _NOT_CONSTANT
    return True, obj[lower:upper]


def _lookup(obj: Any, key: Any) -> Any:
    if isinstance(obj, dict) and isinstance(key, str) and key in obj:
        return obj[key]
    in_range = isinstance(key, int) and -len(obj) <= key < len(obj)
    if isinstance(obj, list | str) and in_range and not isinstance(key, bool):
        return obj[key]
    raise FunctionError("no such item")


def _attempt(func: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
    # Folding runs user-written literals through the real implementations: whatever goes
    # wrong simply means "not a constant" (the evaluator reports it at run time).
    try:
        return True, func(*args)
    except Exception:
        return _NOT_CONSTANT


_FOLD: dict[type, Callable[[Any], tuple[bool, Any]]] = {
    Const: lambda e: (True, e.value),
    ListExpr: lambda e: _fold_all(e.items),
    DictExpr: _fold_dict,
    BinOp: _fold_binop,
    UnaryOp: _fold_unary,
    CondExpr: _fold_cond,
    Call: _fold_call,
    Index: _fold_index,
    Attr: _fold_attr,
    Slice: _fold_slice,
}
