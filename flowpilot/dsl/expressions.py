"""The ``${{ }}`` expression language (DSL.md §2): parsing, interpolated strings, formatting.

Parsing has two paths that build the same AST:

* a hand-written recognizer for the very common path shape (``steps.fetch.output.json.items``,
  ``a.b[0].c``, ``a['x']``), which needs no parser at all;
* the Lark LALR grammar ``flowpilot/grammar/expr.lark`` with an inline transformer
  (:class:`ExprBuilder`) for everything else. Its results are cached per text in a span-free
  form, and the spans are re-attached for each use.

Errors never raise: they become E003 diagnostics and the functions return None.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

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
    Name,
    Scalar,
    Slice,
    TextPart,
    UnaryOp,
    Value,
)
from flowpilot.dsl.diagnostics import DiagnosticSink
from flowpilot.dsl.expr_errors import report_syntax_error as _report_syntax_error
from flowpilot.dsl.expr_fast import fast_parse
from flowpilot.dsl.expr_format import RESERVED_WORDS, format_expression, unescape_string
from flowpilot.dsl.span import Origin, Span

__all__ = [
    "EXPR_GRAMMAR",
    "RESERVED_WORDS",
    "ExprBuilder",
    "SpanContext",
    "expected_tokens",
    "expr_grammar",
    "expr_parser",
    "find_expression_end",
    "format_expression",
    "parse_expression",
    "parse_expression_lark",
    "parse_value_string",
    "span_context",
]


@lru_cache(maxsize=1)
def expr_grammar() -> str:
    """The text of ``expr.lark``."""
    return resources.files("flowpilot.grammar").joinpath("expr.lark").read_text("utf-8")


class _LazyGrammar:
    """``EXPR_GRAMMAR`` reads the grammar file on first use, not at import."""

    def __str__(self) -> str:
        return expr_grammar()

    def __repr__(self) -> str:
        return "EXPR_GRAMMAR"


EXPR_GRAMMAR: Any = _LazyGrammar()


# --------------------------------------------------------------------------------------------
# Span context: how raw offsets of the parsed text become file spans
# --------------------------------------------------------------------------------------------


class SpanContext:
    """Turns offsets in the text being parsed into file spans.

    ``base`` is subtracted from a built node's ``span.start`` to get back its raw offset (the
    transformer computes a parent's span from its first and last children).
    """

    __slots__ = ("base", "make")

    def __init__(self, make: Callable[[int, int], Span], base: int) -> None:
        self.make = make
        self.base = base


_LOCAL = threading.local()


@contextmanager
def span_context(ctx: SpanContext) -> Iterator[None]:
    """Install ``ctx`` for the transformer callbacks run by the current thread (re-entrant)."""
    previous = getattr(_LOCAL, "ctx", None)
    _LOCAL.ctx = ctx
    try:
        yield
    finally:
        _LOCAL.ctx = previous


def _ctx() -> SpanContext:
    return _LOCAL.ctx  # type: ignore[no-any-return]


class _Paren:
    """A parenthesised expression while it is being built: the parens count for the parent's
    span (as in Python's ast) but are not a node of their own."""

    __slots__ = ("end", "expr", "start")

    def __init__(self, expr: Expr, start: int, end: int) -> None:
        self.expr = expr
        self.start = start
        self.end = end


class ReservedWordError(Exception):
    """A keyword used where a name is expected (``true.x``, ``in + 1``)."""

    def __init__(self, token: Token) -> None:
        super().__init__(str(token))
        self.token = token


def _start(item: Any, base: int) -> int:
    if isinstance(item, Token):
        return item.start_pos  # type: ignore[return-value]
    if isinstance(item, _Paren):
        return item.start
    return item.span.start - base  # type: ignore[no-any-return]


def _end(item: Any, base: int) -> int:
    if isinstance(item, Token):
        return item.end_pos  # type: ignore[return-value]
    if isinstance(item, _Paren):
        return item.end
    return item.span.end - base  # type: ignore[no-any-return]


def _un(item: Any) -> Any:
    return item.expr if isinstance(item, _Paren) else item


class ExprBuilder(Transformer):  # type: ignore[type-arg]
    """Inline LALR callbacks that build :mod:`flowpilot.dsl.ast` expression nodes.

    Shared with the text-form parser (``flow.lark`` imports the expression rules), so both
    syntaxes produce identical expression trees. Spans come from the thread's
    :class:`SpanContext` (see :func:`span_context`).
    """

    def _span(self, first: Any, last: Any) -> Span:
        ctx = _ctx()
        return ctx.make(_start(first, ctx.base), _end(last, ctx.base))

    def _tok_span(self, tok: Token) -> Span:
        return _ctx().make(tok.start_pos, tok.end_pos)  # type: ignore[arg-type]

    # -- atoms ------------------------------------------------------------------------------

    def name(self, c: list[Any]) -> Expr:
        tok = c[0]
        if tok in RESERVED_WORDS:
            raise ReservedWordError(tok)
        return Name(name=str(tok), span=self._tok_span(tok))

    def int(self, c: list[Any]) -> Expr:
        return Const(value=int(c[0]), span=self._tok_span(c[0]))

    def float(self, c: list[Any]) -> Expr:
        return Const(value=float(c[0]), span=self._tok_span(c[0]))

    def string(self, c: list[Any]) -> Expr:
        tok = c[0]
        return Const(value=unescape_string(tok[1:-1]), span=self._tok_span(tok))

    def null(self, c: list[Any]) -> Expr:
        return Const(value=None, span=self._tok_span(c[0]))

    def true(self, c: list[Any]) -> Expr:
        return Const(value=True, span=self._tok_span(c[0]))

    def false(self, c: list[Any]) -> Expr:
        return Const(value=False, span=self._tok_span(c[0]))

    def paren(self, c: list[Any]) -> _Paren:
        return _Paren(_un(c[1]), c[0].start_pos, c[2].end_pos)

    def list(self, c: list[Any]) -> Expr:
        return ListExpr(items=[_un(x) for x in c[1:-1]], span=self._span(c[0], c[-1]))

    def pair(self, c: list[Any]) -> tuple[Expr, Expr]:
        return _un(c[0]), _un(c[-1])

    def dict(self, c: list[Any]) -> Expr:
        pairs = c[1:-1]
        return DictExpr(
            keys=[k for k, _ in pairs], values=[v for _, v in pairs], span=self._span(c[0], c[-1])
        )

    def call(self, c: list[Any]) -> Expr:
        tok = c[0]
        if tok in RESERVED_WORDS:
            raise ReservedWordError(tok)
        return Call(
            func=str(tok),
            args=[_un(x) for x in c[2:-1]],
            name_span=self._tok_span(tok),
            span=self._span(tok, c[-1]),
        )

    # -- postfix ----------------------------------------------------------------------------

    def attr(self, c: list[Any]) -> Expr:
        obj, _, tok = c
        return Attr(
            obj=_un(obj), attr=str(tok), attr_span=self._tok_span(tok), span=self._span(obj, tok)
        )

    def index(self, c: list[Any]) -> Expr:
        return Index(obj=_un(c[0]), index=_un(c[2]), span=self._span(c[0], c[3]))

    def slice(self, c: list[Any]) -> Expr:
        obj, _, lower, _, upper, close = c
        return Slice(
            obj=_un(obj),
            lower=_un(lower) if lower is not None else None,
            upper=_un(upper) if upper is not None else None,
            span=self._span(obj, close),
        )

    def filter(self, c: list[Any]) -> Expr:
        value, _, tok = c
        if tok in RESERVED_WORDS:
            raise ReservedWordError(tok)
        return Call(
            func=str(tok),
            args=[_un(value)],
            filter=True,
            name_span=self._tok_span(tok),
            span=self._span(value, tok),
        )

    def filter_call(self, c: list[Any]) -> Expr:
        value, _, tok = c[0], c[1], c[2]
        if tok in RESERVED_WORDS:
            raise ReservedWordError(tok)
        return Call(
            func=str(tok),
            args=[_un(value), *(_un(x) for x in c[4:-1])],
            filter=True,
            name_span=self._tok_span(tok),
            span=self._span(value, c[-1]),
        )

    # -- operators --------------------------------------------------------------------------

    def binop(self, c: list[Any]) -> Expr:
        left, op, right = c
        return BinOp(op=str(op), left=_un(left), right=_un(right), span=self._span(left, right))

    def not_in(self, c: list[Any]) -> Expr:
        left, _, _, right = c
        return BinOp(op="not in", left=_un(left), right=_un(right), span=self._span(left, right))

    def not_op(self, c: list[Any]) -> Expr:
        return UnaryOp(op="not", operand=_un(c[1]), span=self._span(c[0], c[1]))

    def neg(self, c: list[Any]) -> Expr:
        return UnaryOp(op="-", operand=_un(c[1]), span=self._span(c[0], c[1]))

    def cond(self, c: list[Any]) -> Expr:
        body, _, test, _, orelse = c
        return CondExpr(
            test=_un(test), body=_un(body), orelse=_un(orelse), span=self._span(body, orelse)
        )


@lru_cache(maxsize=1)
def expr_parser() -> Lark:
    """The expression parser (LALR, contextual lexer, inline :class:`ExprBuilder`), built once."""
    return Lark(
        expr_grammar(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
        transformer=ExprBuilder(),
    )


@lru_cache(maxsize=1)
def _tree_parser() -> Lark:
    """The same grammar without a transformer: used for error analysis and expected tokens."""
    return Lark(
        expr_grammar(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
    )


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def parse_expression(text: str, origin: Origin, sink: DiagnosticSink) -> Expr | None:
    """Parse the inside of a ``${{ }}``.

    ``origin`` is the file position where ``text`` begins. On a syntax error an E003 diagnostic is
    added to ``sink`` and None is returned; no input makes this raise.
    """
    expr = fast_parse(text, origin)
    if expr is not None:
        return expr
    return parse_expression_lark(text, origin, sink)


def parse_expression_lark(text: str, origin: Origin, sink: DiagnosticSink) -> Expr | None:
    """:func:`parse_expression` through the Lark parser only (the reference implementation;
    slower, and the one that explains syntax errors)."""
    if not text.strip():
        span = origin.span_of(text, 0, len(text))
        sink.error("E003", "empty expression: expected an expression inside '${{ }}'", span)
        return None
    ctx = SpanContext(lambda a, b: origin.span_of(text, a, b), origin.offset)
    try:
        with span_context(ctx):
            result = expr_parser().parse(text)
    except (UnexpectedInput, ReservedWordError) as exc:
        _report(exc, text, origin, sink)
        return None
    except Exception as exc:  # a grammar bug must not crash a user's compile
        span = origin.span_of(text, 0, len(text))
        sink.error("E003", f"could not parse expression: {exc}", span)
        return None
    return _un(result)  # type: ignore[no-any-return]


_PLAIN_EXPRESSION = re.compile(r"[^'\"{}]*\}\}")
_new = tuple.__new__


def find_expression_end(text: str, start: int) -> int:
    """The index of the ``}}`` that closes an expression whose text begins at ``start``, or -1.

    Quotes and brace depth are respected, so ``{'a': {'b': 1}}`` and ``'}}'`` inside the
    expression do not end it.
    """
    plain = _PLAIN_EXPRESSION.match(text, start)
    if plain is not None:  # no quote or brace before the first '}}': it closes the expression
        return plain.end() - 2
    depth = 0
    quote = ""
    i = start
    n = len(text)
    while i < n:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            if depth:
                depth -= 1
            elif i + 1 < n and text[i + 1] == "}":
                return i
        i += 1
    return -1


def parse_value_string(text: str, origin: Origin, sink: DiagnosticSink, span: Span) -> Value:
    """The value of a string written in a flow.

    No ``${{`` → :class:`Scalar`; exactly one ``${{ expr }}`` (surrounding whitespace allowed) →
    :class:`ExprValue`; otherwise :class:`Interpolated` with :class:`TextPart` and
    :class:`ExprValue` parts. ``origin`` is where ``text`` begins in the file; ``span`` is the span
    of the whole value.
    """
    first = text.find("${{")
    if first < 0:
        return Scalar(value=text, span=span)
    if first == 0 and find_expression_end(text, 3) == len(text) - 2:
        # The whole string is one expression (the usual case): nothing to split.
        inner = text[3:-2]
        expr = parse_expression(inner, origin.shifted(text, 3), sink)
        return ExprValue(source=inner.strip(), expr=expr, span=span)
    if origin.fallback is None and origin.offsets is None and "\n" not in text:
        # One line (the usual case): positions are the origin's plus the index, so spans are
        # made directly instead of through Origin's general line and offset arithmetic.
        file, line, col, off = origin.file, origin.line, origin.column, origin.offset
        indent = origin.indent

        def span_at(a: int, b: int) -> Span:
            return _new(Span, (file, line, col + a, line, col + b, off + a, off + b))

        def origin_at(a: int) -> Origin:
            return _new(Origin, (file, line, col + a, off + a, None, indent, None, None))

    else:

        def span_at(a: int, b: int) -> Span:
            return origin.span_of(text, a, b)

        def origin_at(a: int) -> Origin:
            return origin.shifted(text, a)

    parts: list[TextPart | ExprValue] = []
    pos = 0
    while True:
        open_at = text.find("${{", pos)
        if open_at < 0:
            if pos < len(text):
                parts.append(TextPart(text=text[pos:], span=span_at(pos, len(text))))
            break
        if open_at > pos:
            parts.append(TextPart(text=text[pos:open_at], span=span_at(pos, open_at)))
        inner_start = open_at + 3
        close = find_expression_end(text, inner_start)
        if close < 0:
            sink.error(
                "E003",
                "unterminated '${{'; close it with '}}'",
                span_at(open_at, inner_start),
                hint="an expression is written '${{ expr }}'",
            )
            inner = text[inner_start:]
            parts.append(
                ExprValue(source=inner.strip(), expr=None, span=span_at(open_at, len(text)))
            )
            break
        inner = text[inner_start:close]
        expr = parse_expression(inner, origin_at(inner_start), sink)
        parts.append(ExprValue(source=inner.strip(), expr=expr, span=span_at(open_at, close + 2)))
        pos = close + 2
    if len(parts) == 1 and isinstance(parts[0], ExprValue):
        only = parts[0]
        return ExprValue(source=only.source, expr=only.expr, span=span)
    stripped = [p for p in parts if not (isinstance(p, TextPart) and not p.text.strip())]
    if len(stripped) == 1 and isinstance(stripped[0], ExprValue):
        only = stripped[0]
        return ExprValue(source=only.source, expr=only.expr, span=span)
    return Interpolated(parts=parts, span=span)


def expected_tokens(text: str) -> set[str] | None:
    """The terminal names the parser accepts after ``text`` (a prefix of an expression).

    None when ``text`` itself does not parse as a prefix. Used by the language server for
    completion.
    """
    parser = _tree_parser()
    try:
        interactive = parser.parse_interactive(text)
        interactive.exhaust_lexer()
        return set(interactive.accepts())
    except UnexpectedInput:
        return None


# --------------------------------------------------------------------------------------------
# Error reporting
# --------------------------------------------------------------------------------------------


def _report(exc: Exception, text: str, origin: Origin, sink: DiagnosticSink) -> None:
    if isinstance(exc, ReservedWordError):
        tok = exc.token
        sink.error(
            "E003",
            f"'{tok}' is a reserved word and cannot be used as a name here",
            origin.span_of(text, tok.start_pos, tok.end_pos),  # type: ignore[arg-type]
            hint=f"to read a field named '{tok}', write x['{tok}']",
        )
        return
    assert isinstance(exc, UnexpectedCharacters | UnexpectedToken | UnexpectedInput)
    _report_syntax_error(exc, text, origin, sink, _tree_parser())
