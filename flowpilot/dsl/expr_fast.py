"""A hand-written recursive-descent parser for the expression language.

Why it exists: the LALR parser walks the whole precedence ladder for every operand (a dozen
reductions per name), which costs ~100 µs for ``inputs.threshold * 10``; a 1,000-step flow has
~2,000 expressions and a 100 ms compile budget. This parser accepts exactly the language of
``expr.lark`` and builds the same nodes with the same spans in a few µs.

It is deliberately *not* an error reporter: on anything it does not accept it returns None and
:func:`flowpilot.dsl.expressions.parse_expression` asks the Lark parser, which is the reference
(the grammar file) and explains the error. Tests check both parsers agree on random expressions.
"""

from __future__ import annotations

import re
from collections.abc import Callable

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
from flowpilot.dsl.expr_format import RESERVED_WORDS, unescape_string
from flowpilot.dsl.span import Origin, Span

__all__ = ["fast_parse"]

# Token kinds: f(loat) i(nt) w(ord) s(tring) o(perator). Ordered like the Lark terminals'
# priorities (FLOAT before INT, two-character operators before one-character ones).
_TOKEN = re.compile(
    r"[ \t\f\r\n]*(?:"
    r"(?P<f>\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)"
    r"|(?P<i>\d+)"
    r"|(?P<w>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<s>'(?:[^'\\\n]|\\[^\n])*'|\"(?:[^\"\\\n]|\\[^\n])*\")"
    r"|(?P<o>//|==|!=|<=|>=|[-+*/%~|.:,()\[\]{}<>])"
    r")"
)
_TRAILING_WS = re.compile(r"[ \t\f\r\n]*")
_DOTTED = re.compile(r" *([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*) *")
_CONSTANTS = {
    "null": None, "None": None, "true": True, "True": True, "false": False, "False": False
}  # fmt: skip

# Binary operator levels, loosest first, as in expr.lark's ladder (level 3 is prefix `not`).
_OR, _AND, _NOT, _COMPARE, _CONCAT, _SUM, _PRODUCT = range(1, 8)
_WORD_LEVELS = {"or": _OR, "and": _AND, "in": _COMPARE}
_SYMBOL_LEVELS = {
    **dict.fromkeys(("==", "!=", "<", "<=", ">", ">="), _COMPARE),
    "~": _CONCAT,
    **dict.fromkeys(("+", "-"), _SUM),
    **dict.fromkeys(("*", "/", "//", "%"), _PRODUCT),
}


def _single_line_maker(origin: Origin) -> Callable[[int, int], Span]:
    """Span factory for one-line text: no newline counting (the most frequent allocation of
    the front end)."""
    file, line, col, off = origin.file, origin.line, origin.column, origin.offset
    new = tuple.__new__

    def make(a: int, b: int) -> Span:
        return new(Span, (file, line, col + a, line, col + b, off + a, off + b))

    return make


class _Fail(Exception):
    """Not accepted here; the caller falls back to the Lark parser."""


# A parsed operand: (node, start, end) where start/end include enclosing parentheses.
_Item = tuple[Expr, int, int]


class _Parser:
    __slots__ = ("ends", "kinds", "make", "pos", "starts", "values")

    def __init__(self, text: str, make: Callable[[int, int], Span]) -> None:
        kinds: list[str] = []
        values: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        pos = 0
        n = len(text)
        match = _TOKEN.match
        while True:
            m = match(text, pos)
            if m is None:
                if _TRAILING_WS.match(text, pos).end() == n:  # type: ignore[union-attr]
                    break
                raise _Fail
            kind = m.lastgroup
            if kind is None:  # only whitespace matched
                if m.end() == n:
                    break
                raise _Fail
            kinds.append(kind)
            values.append(m.group(kind))
            starts.append(m.start(kind))
            ends.append(m.end())
            pos = m.end()
            if pos >= n:
                break
        kinds.append("$")
        values.append("")
        starts.append(n)
        ends.append(n)
        self.kinds = kinds
        self.values = values
        self.starts = starts
        self.ends = ends
        self.pos = 0
        self.make = make

    # -- helpers ----------------------------------------------------------------------------

    def _is(self, value: str) -> bool:
        """The next token is operator or word ``value``."""
        i = self.pos
        return self.values[i] == value and self.kinds[i] in "ow"

    def _expect(self, value: str) -> int:
        i = self.pos
        if self.values[i] != value or self.kinds[i] != "o":
            raise _Fail
        self.pos = i + 1
        return self.ends[i]

    # -- operators --------------------------------------------------------------------------

    def expr(self) -> _Item:
        body = self.binary(_OR)
        if self._is("if") and self.kinds[self.pos] == "w":
            self.pos += 1
            test = self.binary(_OR)
            if not (self._is("else") and self.kinds[self.pos] == "w"):
                raise _Fail
            self.pos += 1
            orelse = self.expr()
            node = CondExpr(
                test=test[0], body=body[0], orelse=orelse[0], span=self.make(body[1], orelse[2])
            )
            return node, body[1], orelse[2]
        return body

    def binary(self, min_level: int) -> _Item:
        """Operands joined by binary operators of level ``min_level`` or higher.

        Precedence climbing over the grammar's ladder: one loop instead of a method per level,
        every operator left-associative (the right operand only takes tighter operators).
        ``not`` is the prefix operator of its own level, between ``and`` and the comparisons.
        """
        kinds, values = self.kinds, self.values
        i = self.pos
        if values[i] == "not" and kinds[i] == "w":
            if min_level > _NOT:
                raise _Fail  # `a == not b`: the grammar has no `not` there
            self.pos = i + 1
            operand = self.binary(_NOT)
            start = self.starts[i]
            node: Expr = UnaryOp(op="not", operand=operand[0], span=self.make(start, operand[2]))
            left: _Item = (node, start, operand[2])
        else:
            left = self.unary()
        while True:
            i = self.pos
            op, kind = values[i], kinds[i]
            width = 1
            if kind == "o":
                level = _SYMBOL_LEVELS.get(op, 0)
            elif kind != "w":
                return left
            elif op == "not" and values[i + 1] == "in" and kinds[i + 1] == "w":
                op, level, width = "not in", _COMPARE, 2
            else:
                level = _WORD_LEVELS.get(op, 0)
            if level < min_level:  # 0: not an operator
                return left
            self.pos = i + width
            right = self.binary(level + 1)
            node = BinOp(op=op, left=left[0], right=right[0], span=self.make(left[1], right[2]))
            left = (node, left[1], right[2])

    def unary(self) -> _Item:
        i = self.pos
        if self.values[i] == "-" and self.kinds[i] == "o":
            self.pos = i + 1
            operand = self.unary()
            start = self.starts[i]
            node = UnaryOp(op="-", operand=operand[0], span=self.make(start, operand[2]))
            return node, start, operand[2]
        return self.filtered()

    def filtered(self) -> _Item:
        value = self.postfix()
        while self.values[self.pos] == "|" and self.kinds[self.pos] == "o":
            i = self.pos + 1
            if self.kinds[i] != "w" or self.values[i] in RESERVED_WORDS:
                raise _Fail
            name = self.values[i]
            name_span = self.make(self.starts[i], self.ends[i])
            self.pos = i + 1
            args = [value[0]]
            end = self.ends[i]
            if self.values[self.pos] == "(" and self.kinds[self.pos] == "o":
                self.pos += 1
                end = self._sequence(")", args)
            span = self.make(value[1], end)
            node = Call(func=name, args=args, filter=True, name_span=name_span, span=span)
            value = (node, value[1], end)
        return value

    def postfix(self) -> _Item:
        item = self.atom()
        kinds, values = self.kinds, self.values
        while kinds[self.pos] == "o":
            value = values[self.pos]
            if value == ".":
                i = self.pos + 1
                if kinds[i] != "w":
                    raise _Fail
                end = self.ends[i]
                node: Expr = Attr(
                    obj=item[0],
                    attr=values[i],
                    attr_span=self.make(self.starts[i], end),
                    span=self.make(item[1], end),
                )
                self.pos = i + 1
            elif value == "[":
                self.pos += 1
                lower: Expr | None = None
                if not self._is(":"):
                    lower = self.expr()[0]
                    if self._is("]"):
                        end = self._expect("]")
                        node = Index(obj=item[0], index=lower, span=self.make(item[1], end))
                        item = (node, item[1], end)
                        continue
                self._expect(":")
                upper = None if self._is("]") else self.expr()[0]
                end = self._expect("]")
                node = Slice(obj=item[0], lower=lower, upper=upper, span=self.make(item[1], end))
            else:
                return item
            item = (node, item[1], end)
        return item

    def _sequence(self, close: str, out: list[Expr]) -> int:
        """Comma-separated expressions up to ``close`` (trailing comma allowed); returns the
        end offset of ``close``."""
        while True:
            if self._is(close):
                return self._expect(close)
            out.append(self.expr()[0])
            if self._is(","):
                self.pos += 1
            elif not self._is(close):
                raise _Fail

    def atom(self) -> _Item:
        i = self.pos
        kind, value, start, end = self.kinds[i], self.values[i], self.starts[i], self.ends[i]
        self.pos = i + 1
        if kind == "w":
            if value in _CONSTANTS:
                return Const(value=_CONSTANTS[value], span=self.make(start, end)), start, end
            if value in RESERVED_WORDS:
                raise _Fail
            if self.values[i + 1] == "(" and self.kinds[i + 1] == "o":
                self.pos = i + 2
                args: list[Expr] = []
                close = self._sequence(")", args)
                span = self.make(start, close)
                node = Call(func=value, args=args, name_span=self.make(start, end), span=span)
                return node, start, close
            return Name(name=value, span=self.make(start, end)), start, end
        if kind == "i":
            return Const(value=int(value), span=self.make(start, end)), start, end
        if kind == "f":
            return Const(value=float(value), span=self.make(start, end)), start, end
        if kind == "s":
            text = unescape_string(value[1:-1])
            return Const(value=text, span=self.make(start, end)), start, end
        if kind == "o":
            if value == "(":
                inner = self.expr()
                close = self._expect(")")
                return inner[0], start, close
            if value == "[":
                items: list[Expr] = []
                close = self._sequence("]", items)
                return ListExpr(items=items, span=self.make(start, close)), start, close
            if value == "{":
                keys: list[Expr] = []
                vals: list[Expr] = []
                while True:
                    if self._is("}"):
                        close = self._expect("}")
                        break
                    keys.append(self.expr()[0])
                    self._expect(":")
                    vals.append(self.expr()[0])
                    if self._is(","):
                        self.pos += 1
                    elif not self._is("}"):
                        raise _Fail
                node = DictExpr(keys=keys, values=vals, span=self.make(start, close))
                return node, start, close
        raise _Fail


def _dotted_path(match: re.Match[str], make: Callable[[int, int], Span]) -> Expr | None:
    """``a.b.c``, the most common expression of all, straight from one regex match."""
    names = match.group(1).split(".")
    head = names[0]
    if head in _CONSTANTS and len(names) == 1:
        start = match.start(1)
        return Const(value=_CONSTANTS[head], span=make(start, start + len(head)))
    if head in RESERVED_WORDS:
        return None
    start = pos = match.start(1)
    pos += len(head)
    node: Expr = Name(name=head, span=make(start, pos))
    for attr in names[1:]:
        end = pos + 1 + len(attr)
        node = Attr(obj=node, attr=attr, attr_span=make(pos + 1, end), span=make(start, end))
        pos = end
    return node


def fast_parse(text: str, origin: Origin) -> Expr | None:
    """The expression ``text`` parsed without Lark, or None when it is not accepted here
    (a syntax error, which the Lark parser will explain)."""
    if origin.fallback is not None:
        fallback = origin.fallback

        def make(a: int, b: int) -> Span:
            return fallback

    elif "\n" in text:

        def make(a: int, b: int) -> Span:
            return origin.span_of(text, a, b)

    else:
        make = _single_line_maker(origin)
        dotted = _DOTTED.fullmatch(text)
        if dotted is not None:
            return _dotted_path(dotted, make)
    try:
        parser = _Parser(text, make)
        if parser.kinds[0] == "$":
            return None
        node, _, _ = parser.expr()
        if parser.kinds[parser.pos] != "$":
            return None
    except (_Fail, RecursionError, IndexError):
        return None
    return node
