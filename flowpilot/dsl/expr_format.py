"""Canonical source of expressions, and the string-literal rules shared by parser and printer."""

from __future__ import annotations

import re

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
    Name,
    Slice,
    UnaryOp,
)

__all__ = [
    "RESERVED_WORDS",
    "format_expression",
    "quote_string",
    "unescape_string",
]

#: Words that are operators or literals and so can never be a plain name in an expression.
RESERVED_WORDS = frozenset(
    {"if", "else", "or", "and", "not", "in", "null", "None", "true", "True", "false", "False"}
)

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Binding power of each operator, lowest first (mirrors the precedence ladder of expr.lark).
_COND, _OR, _AND, _NOT, _CMP, _CONCAT, _SUM, _PRODUCT, _NEG, _FILTER, _POSTFIX = range(1, 12)
_BINARY = {
    "or": _OR,
    "and": _AND,
    "==": _CMP,
    "!=": _CMP,
    "<": _CMP,
    "<=": _CMP,
    ">": _CMP,
    ">=": _CMP,
    "in": _CMP,
    "not in": _CMP,
    "~": _CONCAT,
    "+": _SUM,
    "-": _SUM,
    "*": _PRODUCT,
    "/": _PRODUCT,
    "//": _PRODUCT,
    "%": _PRODUCT,
}

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"'}
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|U[0-9a-fA-F]{8}|.)", re.DOTALL)


def _unescape_one(m: re.Match[str]) -> str:
    code = m.group(1)
    if len(code) > 1:
        try:
            return chr(int(code[1:], 16))
        except (ValueError, OverflowError):
            return m.group(0)
    return _ESCAPES.get(code, m.group(0))


def unescape_string(body: str) -> str:
    """Decode the escapes of a string literal's body (the text between its quotes).

    ``\\n \\t \\r \\0 \\\\ \\' \\" \\xNN \\uNNNN \\UNNNNNNNN``; any other backslash is kept, as in
    Python.
    """
    if "\\" not in body:
        return body
    return _ESCAPE_RE.sub(_unescape_one, body)


def quote_string(value: str, quote: str = "'") -> str:
    """``value`` as a string literal in ``quote`` quotes that :func:`unescape_string` reverses."""
    out = [quote]
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == quote:
            out.append("\\" + quote)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch < " " or ch == "\x7f" or "\u2028" <= ch <= "\u2029" or "\ud800" <= ch <= "\udfff":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append(quote)
    return "".join(out)


def _const(value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return quote_string(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _binding(node: Expr) -> int:
    if isinstance(node, CondExpr):
        return _COND
    if isinstance(node, BinOp):
        return _BINARY.get(node.op, _OR)
    if isinstance(node, UnaryOp):
        return _NOT if node.op == "not" else _NEG
    if isinstance(node, Call) and node.filter:
        return _FILTER
    if isinstance(node, Const) and isinstance(node.value, int | float) and node.value < 0:
        return _NEG  # printed with a leading '-'
    return _POSTFIX + 1


def _fmt(node: Expr, min_power: int) -> str:
    text = _fmt_bare(node)
    return f"({text})" if _binding(node) < min_power else text


def _fmt_bare(node: Expr) -> str:
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Const):
        return _const(node.value)
    if isinstance(node, Attr):
        if _IDENT.fullmatch(node.attr):
            return f"{_fmt(node.obj, _POSTFIX)}.{node.attr}"
        return f"{_fmt(node.obj, _POSTFIX)}[{quote_string(node.attr)}]"
    if isinstance(node, Index):
        return f"{_fmt(node.obj, _POSTFIX)}[{_fmt(node.index, _COND)}]"
    if isinstance(node, Slice):
        lower = _fmt(node.lower, _COND) if node.lower is not None else ""
        upper = _fmt(node.upper, _COND) if node.upper is not None else ""
        return f"{_fmt(node.obj, _POSTFIX)}[{lower}:{upper}]"
    if isinstance(node, Call):
        if node.filter and node.args:
            value = _fmt(node.args[0], _FILTER)
            rest = node.args[1:]
            if not rest:
                return f"{value} | {node.func}"
            return f"{value} | {node.func}({', '.join(_fmt(a, _COND) for a in rest)})"
        return f"{node.func}({', '.join(_fmt(a, _COND) for a in node.args)})"
    if isinstance(node, BinOp):
        power = _BINARY.get(node.op, _OR)
        return f"{_fmt(node.left, power)} {node.op} {_fmt(node.right, power + 1)}"
    if isinstance(node, UnaryOp):
        if node.op == "not":
            return f"not {_fmt(node.operand, _NOT)}"
        operand = _fmt(node.operand, _NEG)
        # '- -x' keeps the space so it never reads as a different token
        return f"-{operand}" if not operand.startswith("-") else f"- {operand}"
    if isinstance(node, CondExpr):
        return f"{_fmt(node.body, _OR)} if {_fmt(node.test, _OR)} else {_fmt(node.orelse, _COND)}"
    if isinstance(node, ListExpr):
        return f"[{', '.join(_fmt(i, _COND) for i in node.items)}]"
    if isinstance(node, DictExpr):
        pairs = (f"{_fmt(k, _COND)}: {_fmt(v, _COND)}" for k, v in zip(node.keys, node.values))
        return "{" + ", ".join(pairs) + "}"
    raise TypeError(f"not an expression node: {type(node).__name__}")


def format_expression(expr: Expr) -> str:
    """The canonical source of ``expr``: single spaces around binary operators, minimal
    parentheses by precedence, single-quoted strings, ``null``/``true``/``false``.

    Parsing the result gives an expression equal to ``expr`` (compare with ``ast.dump``).
    """
    return _fmt(expr, _COND)
