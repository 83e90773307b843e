"""Plain-words E003 diagnostics for expression syntax errors.

Lark reports terminal names (``RPAR``, ``$END``); users want "unclosed '('" or "expected an
expression after '+'". This module turns a Lark exception into one precise diagnostic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lark import Lark
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from flowpilot.dsl.diagnostics import DiagnosticSink
from flowpilot.dsl.span import Origin, Span

__all__ = ["OPERAND_TERMINALS", "OPERATOR_TERMINALS", "TERMINAL_WORDS", "describe_expected"]

#: Terminals that can start an operand; when all are acceptable we say "an expression".
OPERAND_TERMINALS = frozenset(
    {"NAME", "INT", "FLOAT", "STRING", "LPAR", "LSQB", "LBRACE", "NULL", "NONE", "TRUE",
     "TRUE_PY", "FALSE", "FALSE_PY", "MINUS", "NOT"}
)  # fmt: skip

#: Terminals that continue an operand; when they are acceptable we say "an operator".
OPERATOR_TERMINALS = frozenset(
    {"EQ", "NE", "LT", "LE", "GT", "GE", "IN", "NOT", "TILDE", "PLUS", "MINUS", "STAR",
     "SLASH", "DSLASH", "PERCENT", "BAR", "DOT", "LSQB", "OR", "AND", "IF", "LPAR"}
)  # fmt: skip

TERMINAL_WORDS = {
    "$END": "the end of the expression",
    "NAME": "a name",
    "INT": "a number",
    "FLOAT": "a number",
    "STRING": "a string",
    "RPAR": "')'",
    "LPAR": "'('",
    "RSQB": "']'",
    "LSQB": "'['",
    "RBRACE": "'}'",
    "LBRACE": "'{'",
    "COMMA": "','",
    "COLON": "':'",
    "ELSE": "'else'",
    "IF": "'if'",
    "IN": "'in'",
    "NOT": "'not'",
    "DOT": "'.'",
    "BAR": "'|'",
}

_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {")": "(", "]": "[", "}": "{"}
_WANTS_OPERAND = {
    "+", "-", "*", "/", "//", "%", "~", "==", "!=", "<", "<=", ">", ">=", "in", "not", "and",
    "or", "if", "else", ",", "(", "[", "{", ":",
}  # fmt: skip

_LEX = re.compile(
    r"""\s*(?:('(?:[^'\\\n]|\\.)*'?|"(?:[^"\\\n]|\\.)*"?)|(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"""
    r"""|([A-Za-z_]\w*)|(//|==|!=|<=|>=|\$\{\{|\}\}|[^\s]))"""
)


def _rough_tokens(text: str) -> list[tuple[str, int, int]]:
    """A forgiving tokenization used only to explain errors: (text, start, end)."""
    out = []
    pos = 0
    while pos < len(text):
        m = _LEX.match(text, pos)
        if m is None or m.end() == pos:
            break
        start = m.start(m.lastindex or 0)
        out.append((m.group(m.lastindex or 0), start, m.end()))
        pos = m.end()
    return out


def describe_expected(
    names: Iterable[str], words: dict[str, str] | None = None, *, limit: int = 8
) -> str:
    """``{"RPAR", "COMMA"}`` → ``"')' or ','"``, folding operand and operator terminals."""
    table = {**TERMINAL_WORDS, **(words or {})}
    names = set(names)
    phrases: list[str] = []
    if {"NAME", "INT", "STRING"} <= names:
        phrases.append("an expression")
        names -= OPERAND_TERMINALS
    if {"PLUS", "EQ", "AND"} <= names:
        phrases.append("an operator")
        names -= OPERATOR_TERMINALS
    for name in sorted(names, key=lambda n: (n == "$END", table.get(n, n))):
        word = table.get(name)
        if word is None:
            word = f"'{name.lower()}'" if name.isalpha() else name
        if word not in phrases:
            phrases.append(word)
    if len(phrases) > limit:
        phrases = [*phrases[:limit], "…"]
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " or " + phrases[-1]


def _unclosed(tokens: list[tuple[str, int, int]]) -> tuple[str, int, int] | None:
    stack: list[tuple[str, int, int]] = []
    for tok in tokens:
        if tok[0] in _OPENERS:
            stack.append(tok)
        elif tok[0] in _CLOSERS and stack and stack[-1][0] == _CLOSERS[tok[0]]:
            stack.pop()
    return stack[-1] if stack else None


def _show(tok: str) -> str:
    if tok[:1] in "'\"":
        return "string"
    if tok[:1].isdigit():
        return f"number {tok}"
    if tok[:1].isalpha() or tok[:1] == "_":
        return f"name '{tok}'" if tok not in _WANTS_OPERAND else f"'{tok}'"
    return f"'{tok}'"


def report_syntax_error(
    exc: UnexpectedInput, text: str, origin: Origin, sink: DiagnosticSink, parser: Lark
) -> None:
    """Add one E003 diagnostic explaining ``exc`` (raised while parsing ``text``)."""
    del parser  # reserved for match_examples-based messages
    tokens = _rough_tokens(text)

    def span(a: int, b: int) -> Span:
        return origin.span_of(text, a, max(a, b))

    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream
        ch = text[pos]
        if ch in "'\"":
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            sink.error(
                "E003",
                "unterminated string",
                span(pos, end),
                hint=f"close it with {ch} on the same line",
            )
            return
        hint = None
        if ch == "=":
            hint = "use '==' to compare"
        elif ch == "!":
            hint = "use 'not' to negate"
        elif ch == "&":
            hint = "use 'and'"
        elif text.startswith("${{", pos):
            hint = "inside '${{ }}' write the expression directly, without another '${{'"
        allowed = getattr(exc, "allowed", None) or set()
        expected = describe_expected(allowed, limit=3)
        message = f"unexpected character {ch!r}"
        if expected and not expected.endswith("…"):
            message += f"; expected {expected}"
        sink.error("E003", message, span(pos, pos + 1), hint=hint)
        return

    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        tok = exc.token
        start, end = tok.start_pos, tok.end_pos
        before = [t for t in tokens if t[2] <= start]
        value = str(tok)
        if value in _CLOSERS and (
            _unclosed(before) is None or _unclosed(before)[0] != _CLOSERS[value]
        ):  # type: ignore[index]
            opener = _unclosed(before)
            if opener is None:
                message = f"unmatched {value!r}"
            else:
                message = f"{opener[0]!r} is closed by {value!r}; expected {_OPENERS[opener[0]]!r}"
            sink.error("E003", message, span(start, end))
            return
        expected = describe_expected(exc.accepts or exc.expected)
        if before and before[-1][0] in _WANTS_OPERAND and "NAME" in (exc.accepts or exc.expected):
            message = f"expected an expression after {before[-1][0]!r}, found {_show(value)}"
        else:
            message = f"unexpected {_show(value)}"
            if expected:
                message += f"; expected {expected}"
        hint = None
        if value == "=" or (before and before[-1][0] == "=" and value == "="):
            hint = "use '==' to compare"
        sink.error("E003", message, span(start, end), hint=hint)
        return

    # end of input
    expected_names = set()
    if isinstance(exc, UnexpectedToken):
        expected_names = set(exc.accepts or exc.expected)
    elif isinstance(exc, UnexpectedEOF):
        expected_names = set(exc.expected)
    if not tokens:
        sink.error("E003", "empty expression", span(0, len(text)))
        return
    last, lstart, lend = tokens[-1]
    if last == ".":
        sink.error("E003", "expected an attribute name after '.'", span(lstart, lend))
        return
    if last == "|":
        sink.error(
            "E003",
            "expected a filter name after '|'",
            span(lstart, lend),
            hint="for example: x | default('n/a')",
        )
        return
    if last in _WANTS_OPERAND and last not in _OPENERS and last != ",":
        sink.error("E003", f"expected an expression after {last!r}", span(lstart, lend))
        return
    opener = _unclosed(tokens)
    if opener is not None:
        sink.error(
            "E003",
            f"unclosed {opener[0]!r}",
            span(opener[1], opener[2]),
            hint=f"add {_OPENERS[opener[0]]!r}",
        )
        return
    expected = describe_expected(expected_names - {"$END"})
    message = "unexpected end of the expression"
    if expected:
        message += f"; expected {expected}"
    sink.error("E003", message, span(lstart, lend))
