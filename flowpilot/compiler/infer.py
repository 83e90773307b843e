"""Static type inference and checking of expressions (the inside of ``${{ }}``).

:func:`infer` gives the type of one expression and reports E203, E204, E301 and E302 to a sink
(an unknown field of the declared ``inputs``/``vars`` objects is E204, as DSL.md §4 says);
name resolution is delegated to an :class:`ExprEnv` supplied by the caller (the compiler's scope
at that point of the flow, or a template's scope). The rules are gradual: ``any`` checks against
everything, and a union is only an error when none of its members fits — except ``null``: a
nullable operand of arithmetic or of a function that does not accept null is reported, with a
``default(…)`` hint.

Secrets taint: any text derived from a secret (``~``, ``+``, interpolation, ``upper``,
``base64_encode`` …) has type ``secret`` so that a later pass can report E601; comparisons,
``len`` and friends give plain values.

The checker runs for every expression of every flow on every keystroke in the editor, so it is
written to be cheap: dispatch by node class through a dict, no exceptions, and did-you-mean
hints are computed only when a diagnostic is reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from flowpilot.compiler.constants import (
    MAX_FOLDED_SIZE,
    apply_binary,
    constant_value,
    is_constant,
    truthy,
)
from flowpilot.compiler.functions import (
    FUNCTIONS,
    FunctionSpec,
    Param,
    signature_text,
    to_text,
    value_type,
)
from flowpilot.compiler.types import (
    ANY,
    BOOL,
    INT,
    NULL,
    NUMBER,
    SECRET,
    STRING,
    AnyType,
    ArrayType,
    BoolType,
    IntType,
    NullType,
    NumberType,
    ObjectType,
    SecretType,
    StringType,
    Type,
    UnionType,
    assignable,
    type_of_value,
    union,
)
from flowpilot.dsl.ast import (
    Attr,
    BinOp,
    Call,
    CondExpr,
    Const,
    DictExpr,
    Expr,
    ExprValue,
    Index,
    Interpolated,
    ListExpr,
    ListValue,
    MapValue,
    Name,
    Scalar,
    Slice,
    UnaryOp,
    Value,
)
from flowpilot.dsl.diagnostics import DiagnosticSink, did_you_mean
from flowpilot.dsl.span import NO_SPAN, Span

# Constant folding lives in `constants`; its names stay importable from here.
__all__ = [
    "MAX_FOLDED_SIZE",
    "STEPS",
    "ExprEnv",
    "Functions",
    "apply_binary",
    "constant_value",
    "describe_expr",
    "has_secret",
    "infer",
    "infer_value",
    "is_constant",
    "taint",
    "truthy",
]


class ExprEnv(Protocol):
    """The names an expression may use at one point of a flow."""

    def root(self, name: str, node: Name) -> Type | None:
        """The type of top-level ``name`` (``inputs``, ``vars``, a foreach item …), or None
        when the name is unknown here (infer then reports E204). Never called for ``steps``."""
        ...

    def root_names(self) -> list[str]:
        """Every name :meth:`root` knows here, for did-you-mean hints."""
        ...

    def step(self, step_id: str, node: Expr) -> Type:
        """The type of ``steps.<step_id>`` at ``node`` (an :class:`Attr` or :class:`Index`).

        The env reports E201/E202 itself on ``node`` and returns ANY when the reference is
        invalid.
        """
        ...


STEPS = ObjectType(name="steps")
"""The type of a bare ``steps``: an open object (``steps.<id>`` goes through the env)."""

Functions = Mapping[str, FunctionSpec]


def infer(expr: Expr, env: ExprEnv, sink: DiagnosticSink, functions: Functions = FUNCTIONS) -> Type:
    """The static type of ``expr``; problems are reported to ``sink``.

    ``functions`` is the table of callable names (templates extend it with Jinja filters).
    """
    return _Checker(env, sink, functions).visit(expr)


def infer_value(
    value: Value, env: ExprEnv, sink: DiagnosticSink, functions: Functions = FUNCTIONS
) -> Type:
    """The static type of a value written in the flow (checking the expressions inside it).

    Lists are arrays of the union of their items; maps are closed objects with their keys.
    """
    return _Checker(env, sink, functions).value(value)


def has_secret(t: Type) -> bool:
    """Whether a value of type ``t`` may be or contain a secret."""
    if isinstance(t, SecretType):
        return True
    if isinstance(t, UnionType):
        return any(has_secret(m) for m in t.members)
    if isinstance(t, ArrayType):
        return has_secret(t.item)
    if isinstance(t, ObjectType):
        return any(has_secret(p) for _, p in t.properties) or (
            t.extra is not None and has_secret(t.extra)
        )
    return False


def taint(t: Type) -> Type:
    """``t`` with every string in it made secret (the result of text derived from a secret)."""
    if isinstance(t, StringType):
        return SECRET
    if isinstance(t, ArrayType):
        return ArrayType(taint(t.item))
    if isinstance(t, UnionType):
        return union(taint(m) for m in t.members)
    return t


def _is_nullable(t: Type) -> bool:
    """A union of null and something else (a bare ``null`` or ``any`` is not "nullable")."""
    return isinstance(t, UnionType) and any(isinstance(m, NullType) for m in t.members)


def _members(t: Type) -> tuple[Type, ...]:
    return t.members if isinstance(t, UnionType) else (t,)


def _non_null_members(t: Type) -> tuple[Type, ...]:
    if isinstance(t, UnionType):
        return tuple(m for m in t.members if not isinstance(m, NullType))
    return (t,)


def _unsecret(t: Type) -> Type:
    """``t`` with secrets read as strings, for checking operands (a secret is a string)."""
    if isinstance(t, SecretType):
        return STRING
    if isinstance(t, UnionType):
        return union(_unsecret(m) for m in t.members)
    if isinstance(t, ArrayType) and has_secret(t.item):
        return ArrayType(_unsecret(t.item))
    return t


def describe_expr(expr: Expr) -> str:
    """Short source-like text of a path expression for hints (``inputs.limit``), else ``x``."""
    if isinstance(expr, Name):
        return expr.name
    if isinstance(expr, Attr):
        inner = describe_expr(expr.obj)
        return "x" if inner == "x" else f"{inner}.{expr.attr}"
    if isinstance(expr, Index) and isinstance(expr.index, Const):
        inner = describe_expr(expr.obj)
        return "x" if inner == "x" else f"{inner}[{expr.index.value!r}]"
    return "x"


def _zero_of(t: Type) -> str:
    """A literal to suggest in ``default(…)`` for a value expected to be of type ``t``."""
    if isinstance(t, StringType | SecretType):
        return "''"
    if isinstance(t, ArrayType):
        return "[]"
    if isinstance(t, ObjectType):
        return "{}"
    if isinstance(t, BoolType):
        return "false"
    return "0"


# --------------------------------------------------------------------------------------------
# Operator typing over non-union, non-null operand types; None means "not applicable".
# --------------------------------------------------------------------------------------------


def _is_num(t: Type) -> bool:
    return isinstance(t, IntType | NumberType)


def _is_text(t: Type) -> bool:
    return isinstance(t, StringType | SecretType)


def _text_result(left: Type, right: Type) -> Type:
    return SECRET if isinstance(left, SecretType) or isinstance(right, SecretType) else STRING


def _plus(left: Type, right: Type) -> Type | None:
    if _is_num(left) and _is_num(right):
        return INT if isinstance(left, IntType) and isinstance(right, IntType) else NUMBER
    if _is_text(left) and _is_text(right):
        return _text_result(left, right)
    if isinstance(left, ArrayType) and isinstance(right, ArrayType):
        return ArrayType(union((left.item, right.item)))
    if isinstance(left, AnyType) or isinstance(right, AnyType):
        other = right if isinstance(left, AnyType) else left
        if isinstance(other, SecretType):
            return SECRET
        return (
            ANY
            if _is_num(other) or _is_text(other) or isinstance(other, AnyType | ArrayType)
            else None
        )
    return None


def _arith(op: str) -> Callable[[Type, Type], Type | None]:
    def rule(left: Type, right: Type) -> Type | None:
        left_any, right_any = isinstance(left, AnyType), isinstance(right, AnyType)
        if (left_any or _is_num(left)) and (right_any or _is_num(right)):
            if op == "/":
                return NUMBER
            if left_any or right_any:
                return ANY
            return INT if isinstance(left, IntType) and isinstance(right, IntType) else NUMBER
        repeats = isinstance(right, IntType) or right_any
        if op == "*" and repeats and (_is_text(left) or isinstance(left, ArrayType)):
            return left  # 'ab' * 3 and [x] * 3 repeat, as in Jinja and Python
        return None

    return rule


def _order(left: Type, right: Type) -> Type | None:
    if isinstance(left, AnyType) or isinstance(right, AnyType):
        return BOOL
    if (_is_num(left) and _is_num(right)) or (_is_text(left) and _is_text(right)):
        return BOOL
    return None


def _membership(left: Type, right: Type) -> Type | None:
    if isinstance(right, AnyType | ArrayType):
        return BOOL
    if _is_text(right) or isinstance(right, ObjectType):
        return BOOL if isinstance(left, AnyType) or _is_text(left) else None
    return None


_OPERATORS: dict[str, Callable[[Type, Type], Type | None]] = {
    "+": _plus,
    "-": _arith("-"),
    "*": _arith("*"),
    "/": _arith("/"),
    "//": _arith("//"),
    "%": _arith("%"),
    "**": _arith("**"),
    "<": _order,
    "<=": _order,
    ">": _order,
    ">=": _order,
    "in": _membership,
    "not in": _membership,
}

_TYPE_VARIABLE = re.compile(r"\b[TUV]\b")
_DECLARED = {"inputs": "input", "vars": "var"}
"""Object types (by name) whose fields the flow declares: an unknown one is E204, not E203."""
_WITHOUT_SECRETS = frozenset({StringType, IntType, NumberType, BoolType, NullType, ObjectType})
_ARITHMETIC = frozenset({"+", "-", "*", "/", "//", "%", "**"})
_MAX_PAIRS = 64


# --------------------------------------------------------------------------------------------
# The checker
# --------------------------------------------------------------------------------------------


def _span(node: Expr, preferred: Span) -> Span:
    return node.span if preferred is NO_SPAN else preferred


class _Checker:
    __slots__ = ("env", "functions", "sink")

    def __init__(self, env: ExprEnv, sink: DiagnosticSink, functions: Functions) -> None:
        self.env = env
        self.sink = sink
        self.functions = functions

    def visit(self, expr: Expr) -> Type:
        rule = _VISIT.get(expr.__class__)
        return ANY if rule is None else rule(self, expr)

    # -- leaves and access -------------------------------------------------------------------

    def const(self, expr: Const) -> Type:
        return type_of_value(expr.value)

    def name(self, expr: Name) -> Type:
        if expr.name == "steps":
            return STEPS
        t = self.env.root(expr.name, expr)
        if t is None:
            hint = did_you_mean(expr.name, self.env.root_names())
            self.sink.error("E204", f"unknown name '{expr.name}'", expr.span, hint)
            return ANY
        return t

    def attr(self, expr: Attr) -> Type:
        obj = expr.obj
        if obj.__class__ is Name and obj.name == "steps":  # type: ignore[attr-defined]
            return self.env.step(expr.attr, expr)
        return self.field(self.visit(obj), expr.attr, expr, _span(expr, expr.attr_span))

    def field(self, t: Type, key: str, expr: Expr, span: Span) -> Type:
        """The type of field ``key`` of a value of type ``t`` (reporting what is wrong)."""
        if isinstance(t, AnyType):
            return ANY
        if isinstance(t, ObjectType):
            found = t.field_type(key)
            if found is None:
                self._unknown_field(key, (t,), span)
                return ANY
            return found
        if isinstance(t, UnionType):
            return self._union_field(t, key, expr, span)
        hint = None
        if isinstance(t, ArrayType):
            hint = "arrays have no fields: take an item first (`x[0]`, `x | first`)"
        self.sink.error("E301", f"cannot read field '{key}' of {t.describe()}", span, hint)
        return ANY

    def _union_field(self, t: UnionType, key: str, expr: Expr, span: Span) -> Type:
        # Reading a field of null gives null (like GitHub Actions), so `T?` is fine here; W101
        # covers steps that may have been skipped.
        found: list[Type] = []
        objects: list[ObjectType] = []
        for m in t.members:
            if isinstance(m, NullType):
                continue
            if isinstance(m, AnyType):
                return ANY
            if isinstance(m, ObjectType):
                objects.append(m)
                ft = m.field_type(key)
                if ft is not None:
                    found.append(ft)
        if found:
            return union((*found, NULL)) if _is_nullable(t) else union(found)
        if objects:
            self._unknown_field(key, objects, span)
        else:
            self.sink.error("E301", f"cannot read field '{key}' of {t.describe()}", span)
        return ANY

    def _unknown_field(
        self, key: str, objects: tuple[ObjectType, ...] | list[ObjectType], span: Span
    ) -> None:
        names = [name for o in objects for name, _ in o.properties]
        declared = _DECLARED.get(objects[0].name or "")
        if declared is not None and len(objects) == 1:
            # `inputs.x` / `vars.x`: the flow declares these names, so a miss is E204 (DSL §4).
            message = f"unknown {declared} '{key}'"
            self.sink.error("E204", message, span, did_you_mean(key, names))
            return
        where = (
            objects[0].describe()
            if len(objects) == 1
            else "any of " + ", ".join(o.describe() for o in objects)
        )
        self.sink.error("E203", f"unknown field '{key}' on {where}", span, did_you_mean(key, names))

    def index(self, expr: Index) -> Type:
        obj, key = expr.obj, expr.index
        if key.__class__ is Const:
            value = key.value  # type: ignore[attr-defined]
            if isinstance(value, str):
                if obj.__class__ is Name and obj.name == "steps":  # type: ignore[attr-defined]
                    return self.env.step(value, expr)
                t = self.visit(obj)
                if not isinstance(t, ArrayType | StringType | SecretType):
                    return self.field(t, value, expr, key.span)
                return self._subscript(t, STRING, expr)
            t = self.visit(obj)
            if isinstance(t, ObjectType) and isinstance(value, int) and not isinstance(value, bool):
                return self.field(t, str(value), expr, key.span)  # `a[0]` on an object: key "0"
            return self._subscript(t, type_of_value(value), expr)
        return self._subscript(self.visit(obj), self.visit(key), expr)

    def _subscript(self, t: Type, key: Type, expr: Index) -> Type:
        if t.__class__ is not UnionType:
            result = _index_ok(t, key)
            if result is not None:
                return result
        results = [r for m in _non_null_members(t) if (r := _index_ok(m, key)) is not None]
        if results:
            return union((*results, NULL)) if _is_nullable(t) else union(results)
        if _is_indexable(t):
            message = f"cannot index {t.describe()} with {key.describe()}"
            self.sink.error("E301", message, expr.index.span)
        else:
            self.sink.error("E301", f"{t.describe()} cannot be indexed", expr.obj.span)
        return ANY

    def slice(self, expr: Slice) -> Type:
        t = self.visit(expr.obj)
        for bound in (expr.lower, expr.upper):
            if bound is not None:
                b = self.visit(bound)
                if not any(
                    isinstance(m, IntType | NumberType | AnyType) for m in _non_null_members(b)
                ):
                    self.sink.error(
                        "E301", f"slice bound must be an integer, got {b.describe()}", bound.span
                    )
        kept = [
            m
            for m in _non_null_members(t)
            if isinstance(m, ArrayType | StringType | SecretType | AnyType)
        ]
        if not kept:
            self.sink.error("E301", f"cannot slice {t.describe()}", expr.obj.span)
            return ANY
        return union(STRING if isinstance(m, StringType) else m for m in kept)

    # -- calls ------------------------------------------------------------------------------

    def call(self, expr: Call) -> Type:
        visit = self.visit
        args = [visit(a) for a in expr.args]
        spec = self.functions.get(expr.func)
        if spec is None:
            kind = "filter" if expr.filter else "function"
            hint = did_you_mean(expr.func, self.functions)
            span = _span(expr, expr.name_span)
            self.sink.error("E302", f"unknown {kind} '{expr.func}'", span, hint)
            return ANY
        given = len(args)
        if given < spec.min_args or (spec.max_args is not None and given > spec.max_args):
            message = _arity_message(spec, given, expr.filter)
            span = _span(expr, expr.name_span)
            self.sink.error("E302", message, span, _signature_hint(spec))
            return ANY
        ok = True
        for i, (arg, t) in enumerate(zip(expr.args, args)):
            param = spec.param_for(i)
            if param is None or t is param.type or param.type.__class__ is AnyType:
                pass
            elif not self._check_arg(spec, param, arg, t):
                ok = False
            if spec.check_constant is not None and arg.__class__ is Const:
                problem = spec.check_constant(i, arg.value)  # type: ignore[attr-defined]
                if problem:
                    self.sink.error("E301", f"{expr.func}(): {problem}", arg.span)
        if ok and spec.check is not None:
            problem = spec.check(args)
            if problem:
                self.sink.error("E301", f"{expr.func}(): {problem}", expr.span)
                ok = False
        if not ok:
            return ANY
        result = spec.returns(args)
        if spec.taints and any(has_secret(t) for t in args):
            result = taint(result)
        return result

    def _check_arg(self, spec: FunctionSpec, param: Param, arg: Expr, t: Type) -> bool:
        if isinstance(t, AnyType):
            return True
        pname, ptype = param.name, param.type
        if not _accepts(ptype, t):
            # The signature's wording ("string | array | object") unless it names a type variable.
            wanted = ptype.describe() if _TYPE_VARIABLE.search(param.text) else param.text
            self.sink.error(
                "E301",
                f"argument '{pname}' of {spec.name}() must be {wanted}, got {t.describe()}",
                arg.span,
            )
            return False
        if _is_nullable(t):  # reported, but the call's type is still known
            self.sink.error(
                "E301",
                f"argument '{pname}' of {spec.name}() may be null ({t.describe()})",
                arg.span,
                f"use `{describe_expr(arg)} | default({_zero_of(ptype)})`",
            )
        return True

    # -- operators --------------------------------------------------------------------------

    def binop(self, expr: BinOp) -> Type:
        op = expr.op
        left = self.visit(expr.left)
        right = self.visit(expr.right)
        if op == "and" or op == "or":
            if isinstance(left, BoolType) and isinstance(right, BoolType):
                return BOOL
            if op == "or":  # a falsy left is replaced by the right operand
                kept = [m for m in _members(left) if not isinstance(m, NullType)]
                return union((*kept, right))
            return union((left, right))
        if op == "==" or op == "!=":
            return BOOL
        if op == "~":
            return SECRET if has_secret(left) or has_secret(right) else STRING
        rule = _OPERATORS.get(op)
        if rule is None:
            self.sink.error("E301", f"unknown operator '{op}'", expr.span)
            return ANY
        if op in _ARITHMETIC or op in ("<", "<=", ">", ">="):
            for side, t in ((expr.left, left), (expr.right, right)):
                if _is_nullable(t):
                    self._nullable_operand(op, side, t)
        elif _is_nullable(right):  # `x in maybe_list`
            self._nullable_operand(op, expr.right, right)
        # Reported nulls aside, the operator applies to the non-null members.
        return self._apply(rule, op, left, right, expr)

    def _apply(
        self,
        rule: Callable[[Type, Type], Type | None],
        op: str,
        left: Type,
        right: Type,
        expr: BinOp,
    ) -> Type:
        if left.__class__ is not UnionType and right.__class__ is not UnionType:
            result = rule(left, right)  # the common case: two plain operands
            if result is not None:
                return result
        lefts, rights = _non_null_members(left), _non_null_members(right)
        if len(lefts) * len(rights) > _MAX_PAIRS:
            return ANY
        results = []
        for lm in lefts:
            for rm in rights:
                r = rule(lm, rm)
                if r is not None:
                    results.append(r)
        if results:
            return union(results)
        self.sink.error(
            "E301",
            f"operator '{op}' cannot be applied to {left.describe()} and {right.describe()}",
            expr.span,
        )
        return BOOL if op in ("<", "<=", ">", ">=", "in", "not in") else ANY

    def _nullable_operand(self, op: str, side: Expr, t: Type) -> None:
        zero = _zero_of(_non_null_members(t)[0]) if op in _ARITHMETIC else "[]"
        self.sink.error(
            "E301",
            f"operand of '{op}' may be null ({t.describe()})",
            side.span,
            f"use `{describe_expr(side)} | default({zero})`",
        )

    def unaryop(self, expr: UnaryOp) -> Type:
        t = self.visit(expr.operand)
        if expr.op == "not":
            return BOOL
        if _is_nullable(t):
            self._nullable_operand(expr.op, expr.operand, t)
        kept = [m for m in _members(t) if isinstance(m, IntType | NumberType | AnyType)]
        if not kept:
            self.sink.error(
                "E301", f"operator '{expr.op}' cannot be applied to {t.describe()}", expr.span
            )
            return ANY
        return union(kept)

    def condexpr(self, expr: CondExpr) -> Type:
        body = self.visit(expr.body)
        self.visit(expr.test)
        return union((body, self.visit(expr.orelse)))

    def listexpr(self, expr: ListExpr) -> Type:
        if not expr.items:
            return ArrayType(ANY)
        return ArrayType(union([self.visit(item) for item in expr.items]))

    def dictexpr(self, expr: DictExpr) -> Type:
        props: dict[str, Type] = {}
        extra: list[Type] = []
        closed = True
        for key, value in zip(expr.keys, expr.values):
            kt = self.visit(key)
            vt = self.visit(value)
            if key.__class__ is Const and isinstance(key.value, str | int | float | bool):  # type: ignore[attr-defined]
                props[to_text(key.value)] = vt  # type: ignore[attr-defined]
            else:
                closed = False
                extra.append(vt)
                if not any(_is_text(m) or isinstance(m, AnyType) for m in _members(kt)):
                    self.sink.error(
                        "E301", f"object keys must be strings, got {kt.describe()}", key.span
                    )
        return ObjectType(
            properties=tuple(props.items()),
            required=frozenset(props),
            extra=None if closed else union(extra),
        )

    # -- values -------------------------------------------------------------------------------

    def value(self, value: Value) -> Type:
        if isinstance(value, ExprValue):
            return ANY if value.expr is None else self.visit(value.expr)
        if isinstance(value, Scalar):
            return type_of_value(value.value)
        if isinstance(value, Interpolated):
            secret = False
            for part in value.parts:
                if isinstance(part, ExprValue) and part.expr is not None:
                    secret = has_secret(self.visit(part.expr)) or secret
            return SECRET if secret else STRING
        if isinstance(value, ListValue):
            if not value.items:
                return ArrayType(ANY)
            return ArrayType(union([self.value(item) for item in value.items]))
        if isinstance(value, MapValue):
            props = tuple((e.key, self.value(e.value)) for e in value.entries)
            return ObjectType(properties=props, required=frozenset(k for k, _ in props), extra=None)
        return ANY


_ACCEPTS: dict[tuple[int, int], tuple[Type, Type, bool]] = {}


def _accepts(ptype: Type, t: Type) -> bool:
    """Whether some non-null member of ``t`` (secrets read as strings) fits ``ptype``.

    Memoised by identity: the same declared types meet the same parameters again and again. The
    entry keeps both types alive, so their ids cannot be reused while it exists.
    """
    key = (id(ptype), id(t))
    hit = _ACCEPTS.get(key)
    if hit is not None:
        return hit[2]
    plain = t if t.__class__ in _WITHOUT_SECRETS else _unsecret(t)
    result = any(assignable(m, ptype) for m in _non_null_members(plain))
    if len(_ACCEPTS) > 4096:
        _ACCEPTS.clear()
    _ACCEPTS[key] = (ptype, t, result)
    return result


def _index_ok(t: Type, key: Type) -> Type | None:
    """The type of ``t[key]`` for a non-union ``t``, or None when that is not allowed."""
    if isinstance(t, AnyType):
        return ANY
    key_any = isinstance(key, AnyType)
    key_num = key_any or any(isinstance(m, IntType | NumberType | AnyType) for m in _members(key))
    key_text = key_any or any(_is_text(m) or isinstance(m, AnyType) for m in _members(key))
    if isinstance(t, ArrayType):
        return t.item if key_num else None
    if isinstance(t, StringType):
        return STRING if key_num else None
    if isinstance(t, SecretType):
        return SECRET if key_num else None
    if isinstance(t, ObjectType):
        return value_type(t) if key_text else None
    return None


def _is_indexable(t: Type) -> bool:
    return any(
        isinstance(m, ArrayType | StringType | SecretType | ObjectType | AnyType)
        for m in _members(t)
    )


def _arity_message(spec: FunctionSpec, given: int, is_filter: bool) -> str:
    if is_filter:
        # The filtered value is the first argument: count what the user wrote in parentheses.
        low = spec.min_args - 1
        high = None if spec.max_args is None else spec.max_args - 1
        expected = (
            f"at least {max(low, 0)}"
            if high is None
            else str(high)
            if high == low
            else f"{max(low, 0)} to {high}"
        )
        return (
            f"filter '{spec.name}' takes {expected} argument(s) after the filtered value, "
            f"{given - 1} given"
        )
    return f"function '{spec.name}' takes {spec.arity_text()} argument(s), {given} given"


def _signature_hint(spec: FunctionSpec) -> str:
    return signature_text(spec.name) if spec.name in FUNCTIONS else spec.name


_VISIT: dict[type, Callable[[_Checker, Any], Type]] = {
    Const: _Checker.const,
    Name: _Checker.name,
    Attr: _Checker.attr,
    Index: _Checker.index,
    Slice: _Checker.slice,
    Call: _Checker.call,
    BinOp: _Checker.binop,
    UnaryOp: _Checker.unaryop,
    CondExpr: _Checker.condexpr,
    ListExpr: _Checker.listexpr,
    DictExpr: _Checker.dictexpr,
}
