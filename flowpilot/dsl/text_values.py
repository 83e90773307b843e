"""Values of the text form: per-parse state, and expressions turned into AST values.

The half of the text-form builder that knows nothing of steps or flows: the thread-local
:class:`TextState` of one parse, spans of tokens, literals becoming data (``to_value``,
``to_data``) and the one-token expressions of the fast pass (``expr_token``).
:mod:`flowpilot.dsl.text_transform` builds steps and flows from these.
"""

from __future__ import annotations

import threading
from typing import Any

from lark import Token

from flowpilot.dsl.ast import (
    Const,
    DictExpr,
    Entry,
    Expr,
    ExprValue,
    ListExpr,
    ListValue,
    MapValue,
    Name,
    Scalar,
    Step,
    UnaryOp,
    Value,
)
from flowpilot.dsl.diagnostics import DiagnosticSink
from flowpilot.dsl.expressions import parse_expression, parse_value_string
from flowpilot.dsl.span import LineIndex, Origin, Span

__all__ = [
    "TextState", "expr_token", "map_key", "raw_to_value", "set_state", "string_value", "to_data",
    "to_value",
]  # fmt: skip


class TextState:
    """What the callbacks of one parse need: the source, spans and the diagnostics sink."""

    __slots__ = ("comments", "fast", "file", "index", "sink", "text")

    def __init__(self, text: str, file: str, sink: DiagnosticSink, fast: bool = False) -> None:
        self.text = text
        self.file = file
        self.index = LineIndex(text)
        self.sink = sink
        self.comments: list[Token] = []
        self.fast = fast  # expressions come as one token each (flowpilot.dsl.text_scan)

    def span(self, start: int, end: int) -> Span:
        return self.index.span(self.file, start, end)


_LOCAL = threading.local()


def set_state(state: TextState | None) -> TextState | None:
    previous: TextState | None = getattr(_LOCAL, "state", None)
    _LOCAL.state = state
    return previous


def _state() -> TextState:
    return getattr(_LOCAL, "state", None)  # type: ignore[no-any-return]


class _Raw:
    """A value as written, before the place it is used in decides what it becomes."""

    __slots__ = ("end", "explicit", "expr", "inner_end", "start")

    def __init__(
        self, expr: Expr, start: int, end: int, explicit: bool, inner_end: int = 0
    ) -> None:
        self.expr = expr
        self.start = start
        self.end = end
        self.explicit = explicit
        self.inner_end = inner_end  # explicit `${{ … }}`: where the closing braces begin


class _Attr:
    """One step attribute: its name, converted value, keyword token and raw extent."""

    __slots__ = ("end", "name", "start", "token", "value", "value_span")

    def __init__(self, name: str, value: Any, token: Token, start: int, end: int) -> None:
        self.name = name
        self.value = value
        self.token = token
        self.start = start
        self.end = end
        self.value_span: Span | None = None


class _Piece:
    """A block or handler while its step is being built: what it holds and its raw extent."""

    __slots__ = ("end", "kind", "start", "steps")

    def __init__(self, kind: str, steps: list[Step], start: int, end: int) -> None:
        self.kind = kind
        self.steps = steps
        self.start = start
        self.end = end


def _pos(item: Any) -> tuple[int, int]:
    """Raw (start, end) offsets of a token, node or intermediate value."""
    if isinstance(item, Token):
        return item.start_pos, item.end_pos  # type: ignore[return-value]
    if isinstance(item, _Raw | _Attr | _Piece):
        return item.start, item.end
    if isinstance(item, tuple):  # args: (span, pairs)
        return item[0].start, item[0].end
    return item.span.start, item.span.end


def _text(tok: Token) -> str:
    """A name or a string literal, as the text it stands for."""
    if tok.type == "STRING":
        from flowpilot.dsl.expr_format import unescape_string

        return unescape_string(tok[1:-1])
    return str(tok)


def _tok_span(tok: Token) -> Span:
    return _state().span(tok.start_pos, tok.end_pos)  # type: ignore[arg-type]


def _cover(first: Any, last: Any) -> Span:
    return _state().span(_pos(first)[0], _pos(last)[1])


def _extent(c: list[Any]) -> tuple[int, int]:
    """Raw extent of a rule's children, skipping None (a value that failed to convert)."""
    present = [x for x in c if x is not None]
    return _pos(present[0])[0], _pos(present[-1])[1]


def _error(code: str, message: str, span: Span, hint: str | None = None) -> None:
    _state().sink.error(code, message, span, hint)


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------


def string_value(tok_start: int, tok_end: int, text: str, span: Span) -> Value:
    """A string literal of the source as a value: ``${{ }}`` inside keeps its meaning."""
    state = _state()
    body = state.text[tok_start + 1 : tok_end - 1]
    if body == text:
        line, col = state.index.position(tok_start + 1)
        origin = Origin(state.file, line, col, tok_start + 1)
    else:  # escapes: positions inside no longer line up with the file
        origin = Origin(state.file, span.line, span.column, span.start, fallback=span)
    return parse_value_string(text, origin, state.sink, span)


def to_value(expr: Expr) -> Value:
    """An expression written where a value is expected: literals become data."""
    if isinstance(expr, Const):
        if isinstance(expr.value, str):
            return string_value(expr.span.start, expr.span.end, expr.value, expr.span)
        return Scalar(value=expr.value, span=expr.span)
    if (
        isinstance(expr, UnaryOp)
        and expr.op == "-"
        and isinstance(expr.operand, Const)
        and isinstance(expr.operand.value, int | float)
        and not isinstance(expr.operand.value, bool)
    ):
        return Scalar(value=-expr.operand.value, span=expr.span)
    if isinstance(expr, ListExpr):
        return ListValue(items=[to_value(i) for i in expr.items], span=expr.span)
    if isinstance(expr, DictExpr):
        entries = []
        for key, val in zip(expr.keys, expr.values):
            name = map_key(key)
            if name is not None:
                entries.append(Entry(key=name, value=to_value(val), span=key.span))
        return MapValue(entries=entries, span=expr.span)
    source = _state().text[expr.span.start : expr.span.end]
    return ExprValue(source=source, expr=expr, span=expr.span)


def map_key(key: Expr) -> str | None:
    if isinstance(key, Const) and isinstance(key.value, str):
        return key.value
    if isinstance(key, Name):
        return key.name
    _error("E012", "a map key must be a name or a string", key.span)
    return None


def raw_to_value(raw: _Raw) -> Value:
    if raw.explicit:
        state = _state()
        source = state.text[raw.start + 3 : raw.inner_end].strip()
        return ExprValue(source=source, expr=raw.expr, span=state.span(raw.start, raw.end))
    return to_value(raw.expr)


def to_data(expr: Expr) -> tuple[bool, Any]:
    """Plain JSON data from a literal expression: (ok, data)."""
    if isinstance(expr, Const):
        return True, expr.value
    if isinstance(expr, UnaryOp) and expr.op == "-" and isinstance(expr.operand, Const):
        value = expr.operand.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return True, -value
    if isinstance(expr, ListExpr):
        items = []
        for item in expr.items:
            ok, data = to_data(item)
            if not ok:
                return False, None
            items.append(data)
        return True, items
    if isinstance(expr, DictExpr):
        out = {}
        for key, val in zip(expr.keys, expr.values):
            name = (
                key.value if isinstance(key, Const) else key.name if isinstance(key, Name) else None
            )
            ok, data = to_data(val)
            if not isinstance(name, str) or not ok:
                return False, None
            out[name] = data
        return True, out
    return False, None


# --------------------------------------------------------------------------------------------
# The transformer
# --------------------------------------------------------------------------------------------


_CONSTANTS = {
    "null": None, "None": None, "true": True, "True": True, "false": False, "False": False
}  # fmt: skip


def expr_token(tok: Token) -> _Raw:
    """An ``EXPR_TEXT`` token of the fast lexer as a value (comments blanked out in its text).

    Anything the expression parser does not accept sends the parse back to the full grammar,
    which reports it exactly as before.
    """
    state = _state()
    start: int = tok.start_pos  # type: ignore[assignment]
    end: int = tok.end_pos  # type: ignore[assignment]
    if tok in _CONSTANTS:  # `true`, `null`, …: common, and not expr_fast's shortcut
        return _Raw(Const(value=_CONSTANTS[tok], span=state.span(start, end)), start, end, False)
    sink = DiagnosticSink()
    origin = Origin(state.file, tok.line, tok.column, start)  # type: ignore[arg-type]
    expr = parse_expression(str(tok), origin, sink)
    if expr is None or sink.items:
        from flowpilot.dsl.text_scan import FallBack

        raise FallBack
    return _Raw(expr, start, end, explicit=False)
