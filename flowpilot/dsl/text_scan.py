"""Fast lexing of the text form: every expression position becomes one opaque token.

Why: with the expression rules of ``expr.lark`` embedded in ``flow.lark``, a 1,000-step flow
is ~40,000 tokens and ~100,000 reductions, and Lark's LALR loop is most of the parse time.
In fast mode the lexer below finds the extent of an expression itself (brackets, quotes,
comments; operators decide whether the expression goes on) and hands it to the parser as one
``EXPR_TEXT`` / ``HEAD_EXPR_TEXT`` token, which :func:`parse_expression` turns into nodes.

Fast mode only has to get *valid* flows right. Whenever it meets anything doubtful (an
expression that does not parse, unbalanced brackets, any syntax error) it raises
:class:`FallBack` and :func:`flowpilot.dsl.text_parser.parse_text` parses again with the full
grammar, which is the reference and explains errors (E002 with expected tokens, hints).

The scanner is greedy exactly where the LALR parser is: after a complete operand it goes on
with every token the expression grammar could take there (``.``, ``[``, ``(``, binary
operators, ``and or not in`` and, outside step headers, ``if``/``else``), because the
contextual lexer reads those as operators whatever follows. ``if`` ends a header value
(``foreach x in items if c``), as in ``head_value: or_expr``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from typing import Any

from lark import Token
from lark.common import LexerConf
from lark.exceptions import UnexpectedCharacters, UnexpectedToken
from lark.lexer import ContextualLexer, LexerState

__all__ = ["HEAD_TERMINAL", "VALUE_TERMINAL", "ExprLexer", "FallBack", "scan_expression"]

VALUE_TERMINAL = "EXPR_TEXT"
HEAD_TERMINAL = "HEAD_EXPR_TEXT"


class FallBack(Exception):
    """The fast path cannot decide; parse again with the full grammar."""


# One token of the expression language (or whitespace / a comment), as the Lark terminals of
# expr.lark split them: w(ord) n(umber) s(tring) o(perator), ws, c(omment).
_TOKEN = re.compile(
    r"(?P<ws>[ \t\f\r\n]+)"
    r"|(?P<c>#[^\n]*)"
    r"|(?P<w>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<n>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|(?P<s>'(?:[^'\\\n]|\\[^\n])*'|\"(?:[^\"\\\n]|\\[^\n])*\")"
    r"|(?P<o>//|==|!=|<=|>=|[-+*/%~|.:,()\[\]{}<>])"
)
_OPEN = frozenset("([{")
_CLOSE = {")": "(", "]": "[", "}": "{"}
_STOP = frozenset(",)]}:")
# After a complete operand, these operators go on with the expression (`(` included: a call
# after a name, an error after anything else, which the expression parser reports).
_INFIX = frozenset(
    {".", "[", "(", "|", "+", "-", "*", "/", "//", "%", "~", "==", "!=", "<", "<=", ">", ">="}
)
_WORD_OPS = frozenset({"and", "or", "not", "in", "if", "else"})
_HEAD_WORD_OPS = frozenset({"and", "or", "not", "in", "else"})


def scan_expression(text: str, pos: int, head: bool) -> tuple[int, int, list[tuple[int, int]]]:
    """The extent of the expression that begins at or after ``pos``.

    Returns (start, end, comments): ``start`` is the first character of the expression (after
    whitespace and comments, which are listed in ``comments`` as (start, end)), ``end`` is one
    past its last token. ``start == end`` when no expression begins there. Raises
    :class:`FallBack` on unbalanced brackets or characters no expression contains.
    """
    comments: list[tuple[int, int]] = []
    pending: list[tuple[int, int]] = []  # comments seen since the last token taken
    match = _TOKEN.match
    n = len(text)
    stack: list[str] = []
    operand = True  # an operand is expected next (at depth 0)
    attr = False  # just after `.`: the next word is an attribute name
    start = -1
    end = pos
    word_ops = _HEAD_WORD_OPS if head else _WORD_OPS
    while pos < n:
        m = match(text, pos)
        if m is None:
            if stack:
                raise FallBack
            break
        kind = m.lastgroup
        tok_end = m.end()
        if kind == "ws":
            pos = tok_end
            continue
        if kind == "c":
            pending.append((pos, tok_end))
            pos = tok_end
            continue
        value = m.group()
        if stack:
            if kind == "o":
                if value in _OPEN:
                    stack.append(value)
                elif value in _CLOSE:
                    if stack.pop() != _CLOSE[value]:
                        raise FallBack
                    if not stack:
                        operand = False
        elif operand:
            if kind == "o":
                if value in _OPEN:
                    stack.append(value)
                elif value in _STOP:
                    break
                # anything else (`-`, or an error the expression parser reports) goes on
            elif kind == "w":
                # `not` and the other keywords cannot end an operand; after `.` any word can
                operand = not attr and value in _WORD_OPS
            else:
                operand = False
            attr = False
        elif kind == "o" and value in _INFIX:
            if value in "[(":
                stack.append(value)
            else:
                operand = True
                attr = value == "."
        elif kind == "w" and value in word_ops:
            operand = True
        else:
            break
        if start < 0:
            start = m.start()
        if pending:
            comments.extend(pending)
            pending.clear()
        end = tok_end
        pos = tok_end
    else:
        if stack:
            raise FallBack
    if start < 0:
        return end, end, []
    return start, end, comments


class ExprLexer(ContextualLexer):
    """The contextual lexer, plus one token for a whole expression where the parser takes one
    (only when the parse's ``TextState.fast`` is set)."""

    def __init__(
        self,
        conf: LexerConf,
        states: dict[int, Collection[str]],
        always_accept: Collection[str] = (),
    ) -> None:
        super().__init__(conf, states, always_accept)
        self.value_states = {s for s, acc in states.items() if VALUE_TERMINAL in acc}
        self.head_states = {s for s, acc in states.items() if HEAD_TERMINAL in acc}
        assert not self.value_states & self.head_states
        self.duration_states = {s for s, acc in states.items() if "DURATION" in acc}
        duration = conf.terminals_by_name["DURATION"].pattern.to_regexp()
        self.duration = re.compile(duration, conf.g_regex_flags)

    def lex(self, lexer_state: LexerState, parser_state: Any) -> Iterator[Token]:
        from flowpilot.dsl.text_values import _state

        state = _state()
        if state is None or not state.fast:
            yield from super().lex(lexer_state, parser_state)
            return
        lexers = self.lexers
        expr_states = self.value_states | self.head_states
        try:
            while True:
                position = parser_state.position
                if position in expr_states:
                    tok = self._expression(lexer_state, position, state)
                    if tok is not None:
                        yield tok
                        continue
                yield lexers[position].next_token(lexer_state, parser_state)
        except EOFError:
            pass
        except (UnexpectedCharacters, UnexpectedToken) as exc:
            raise FallBack from exc

    def _expression(self, lexer_state: LexerState, position: int, state: Any) -> Token | None:
        text = lexer_state.text.text
        line_ctr = lexer_state.line_ctr
        pos = line_ctr.char_pos
        head = position in self.head_states
        start, end, comments = scan_expression(text, pos, head)
        if start == end:
            return None
        if text.startswith("${{", start):
            return None  # explicit `${{ … }}`: the grammar reads it
        if position in self.duration_states and self.duration.match(text, start):
            return None  # `delay: 2s`: a duration, as the contextual lexer reads it
        line_ctr.feed(text[pos:start])
        line, column = line_ctr.line, line_ctr.column
        source = text[start:end]
        if comments:
            index = state.index
            chars = list(source)
            for c_start, c_end in comments:  # collected as the lexer's COMMENT callback does
                line_col = index.position(c_start)
                state.comments.append(Token("COMMENT", text[c_start:c_end], c_start, *line_col))
                if c_start >= start:  # inside the expression: blanked for its parser
                    chars[c_start - start : c_end - start] = " " * (c_end - c_start)
            source = "".join(chars)
        tok = Token(HEAD_TERMINAL if head else VALUE_TERMINAL, source, start, line, column)
        line_ctr.feed(text[start:end])
        tok.end_line = line_ctr.line
        tok.end_column = line_ctr.column
        tok.end_pos = end
        lexer_state.last_token = tok
        return tok
