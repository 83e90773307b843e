"""The text form (``*.flow``): ``parse_text`` turns source into a :class:`Flow` and diagnostics.

The grammar is ``flowpilot/grammar/flow.lark`` (it imports the expression rules of
``expr.lark``); the AST is built during parsing by :class:`FlowBuilder`. Syntax errors become
E002 diagnostics that say in plain words what was found and what was expected; structure
errors found while building are E010/E011/E012. Nothing raises on bad input.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from flowpilot.dsl.ast import Flow, Step
from flowpilot.dsl.comments import comment_text
from flowpilot.dsl.diagnostics import Diagnostic, DiagnosticSink
from flowpilot.dsl.expr_errors import describe_expected
from flowpilot.dsl.expressions import ReservedWordError, SpanContext, span_context
from flowpilot.dsl.span import Span
from flowpilot.dsl.text_scan import HEAD_TERMINAL, VALUE_TERMINAL, ExprLexer, FallBack
from flowpilot.dsl.text_transform import FlowBuilder
from flowpilot.dsl.text_values import TextState, set_state

__all__ = ["STEP_KEYWORDS", "flow_parser", "parse_text"]

#: The words that start a step, for messages and completion.
STEP_KEYWORDS = ("step", "call", "group", "parallel", "switch", "foreach", "repeat", "try",
                 "wait", "set", "fail", "return")  # fmt: skip
_ATTRIBUTE_TERMINALS = {
    "NAME_KW", "DESCRIPTION", "IF", "TIMEOUT", "RETRY", "CONTINUE_ON_ERROR", "MOCK", "FAIL_FAST",
    "MAX_CONCURRENCY", "CONCURRENCY", "AS", "COLLECT", "UNTIL", "MAX_ITERATIONS", "DELAY",
}  # fmt: skip
_WORDS = {
    "NAME_KW": "'name'",
    "DURATION": "a duration (30s, 5m, PT5M)",
    "FLOW_ID": "a flow id",
    "NODE_TYPE": "a node type (e.g. http.request)",
    "EQUAL": "'='",
    "QMARK": "'?'",
    "DOLLAR_OPEN": "'${{'",
    "$END": "the end of the file",
    "INT": "a whole number",
}


@lru_cache(maxsize=1)
def flow_parser() -> Lark:
    """The text-form parser, built once (LALR, contextual lexer, inline :class:`FlowBuilder`)."""
    grammar = resources.files("flowpilot.grammar").joinpath("flow.lark")
    with resources.as_file(grammar) as path:
        return Lark.open(
            str(path),
            parser="lalr",
            lexer="contextual",
            propagate_positions=False,  # the callbacks read token positions themselves
            maybe_placeholders=True,
            transformer=FlowBuilder(),
            lexer_callbacks={"COMMENT": _collect_comment},
            _plugins={"ContextualLexer": ExprLexer},
        )


def _collect_comment(token: Token) -> Token:
    from flowpilot.dsl.text_values import _state

    state = _state()
    if state is not None:
        state.comments.append(token)
    return token


def parse_text(source: str, file: str) -> tuple[Flow | None, list[Diagnostic]]:
    """Parse a text-form flow.

    Returns the flow (None when the source has a syntax error) and every diagnostic found.
    A first pass reads each expression as one token (fast); anything it is unsure of, and every
    syntax error, is parsed again with the full grammar, which explains the error.
    """
    result = _parse(source, file, fast=True)
    if result is None:
        result = _parse(source, file, fast=False)
        assert result is not None
    return result


def _parse(source: str, file: str, fast: bool) -> tuple[Flow | None, list[Diagnostic]] | None:
    """One pass; None when the fast pass gives up."""
    sink = DiagnosticSink()
    state = TextState(source, file, sink, fast=fast)
    previous = set_state(state)
    flow: Flow | None = None
    try:
        with span_context(SpanContext(state.span, 0)):
            flow = flow_parser().parse(source)
    except FallBack:
        return None
    except UnexpectedInput as exc:
        if fast:
            return None
        flow = None
        sink.add(_syntax_error(exc, state))
    except ReservedWordError as exc:
        if fast:
            return None
        flow = None
        tok = exc.token
        sink.error(
            "E002",
            f"'{tok}' is a reserved word and cannot be used as a name here",
            state.span(tok.start_pos, tok.end_pos),  # type: ignore[arg-type]
            hint=f"to read a field named '{tok}', write x['{tok}']",
        )
    except RecursionError:
        if fast:
            return None
        flow = None
        sink.error("E002", "the flow is nested too deeply", state.span(0, 0))
    finally:
        set_state(previous)
    if flow is not None:
        _attach_comments(flow, state)
    return flow, sink.items


# --------------------------------------------------------------------------------------------
# Comments
# --------------------------------------------------------------------------------------------


def _attach_comments(flow: Flow, state: TextState) -> None:
    """Give each step the full-line comments written directly above it."""
    by_line: dict[int, str] = {}
    for tok in state.comments:
        line = tok.line if tok.line is not None else state.index.position(tok.start_pos)[0]  # type: ignore[arg-type]
        if state.index.line_text(line)[: (tok.column or 1) - 1].strip():
            continue  # a comment after code on the same line
        by_line[line] = comment_text(tok[1:])
    if not by_line:
        return
    line = flow.span.line - 1
    header = []
    while line in by_line:
        header.append(by_line[line])
        line -= 1
    header.reverse()
    flow.comments = header
    for step in flow.find_all(Step):
        line = step.span.line - 1
        found = []
        while line in by_line:
            found.append(by_line[line])
            line -= 1
        if found:
            found.reverse()
            step.comments = found


# --------------------------------------------------------------------------------------------
# Syntax errors
# --------------------------------------------------------------------------------------------

_EXAMPLES: dict[str, list[str]] = {
    "a flow starts with 'flow <id> {'": ["step a = core.log()", "input x: string", "x"],
    "expected '{' after the flow id": ["flow x step", "flow x input"],
    "a uses step is written: step <id> = <node.type>(<arguments>)": [
        "flow x { step a core.log() }",
        "flow x { step a: core.log() }",
    ],
    "arguments are written name: value": [
        "flow x { step a = core.log(message) }",
        "flow x { step a = core.log(message = 1) }",
        'flow x { step a = core.log("m") }',
    ],
    "settings, inputs, vars and triggers come before the steps": [
        "flow x { step a = core.log() input y: string }",
        "flow x { step a = core.log() var y = 1 }",
        "flow x { step a = core.log() trigger cron t() }",
    ],
    "outputs come after the steps; nothing but 'output' and 'on failure/finish' may follow them": [
        "flow x { step a = core.log() output o = 1 step b = core.log() }",
    ],
    "a switch holds 'when <condition> { … }' cases and an optional 'default { … }'": [
        "flow x { switch s { step a = core.log() } }",
    ],
}


@lru_cache(maxsize=1)
def _examples() -> dict[str, list[str]]:
    return _EXAMPLES


def _words(names: set[str]) -> str:
    names = {n.split("__")[-1] for n in names} - {VALUE_TERMINAL, HEAD_TERMINAL}
    phrases = []
    steps = {k.upper() for k in STEP_KEYWORDS}
    if steps <= names:
        phrases.append("a step (" + ", ".join(STEP_KEYWORDS) + ")")
        names -= steps
    attrs = _ATTRIBUTE_TERMINALS & names
    if len(attrs) > 4:
        phrases.append("a step attribute (name, if, timeout, retry, …)")
        names -= _ATTRIBUTE_TERMINALS
        names.discard("NAME")
    rest = describe_expected(names, _WORDS, limit=10)
    if rest:
        phrases.append(rest)
    return ", or ".join(phrases) if len(phrases) > 1 else "".join(phrases)


def _found(tok: Token) -> str:
    if tok.type == "$END":
        return "the end of the file"
    kind = tok.type.split("__")[-1]
    if kind == "STRING":
        return "a string"
    if kind in ("INT", "FLOAT"):
        return f"the number {tok}"
    if kind == "NAME":
        return f"name '{tok}'"
    return f"'{tok}'"


def _syntax_error(exc: UnexpectedInput, state: TextState) -> Diagnostic:
    text = state.text
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream
        ch = text[pos]
        span = state.span(pos, pos + 1)
        if ch in "'\"":
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            return _diag("unterminated string", state.span(pos, end), f"close it with {ch}")
        if ch == "\t":
            ch = "tab"
        hint = "comments start with '#'" if text.startswith("//", pos) else None
        expected = _words(set(exc.allowed or ()))
        message = f"unexpected character {ch!r}" + (f"; expected {expected}" if expected else "")
        return _diag(message, span, hint)
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            end = len(text.rstrip())
            span = state.span(max(0, end - 1), end) if end else state.span(0, 0)
        else:
            span = state.span(tok.start_pos, tok.end_pos)  # type: ignore[arg-type]
        expected = _words(set(exc.accepts or exc.expected))
        message = f"unexpected {_found(tok)}" + (f"; expected {expected}" if expected else "")
        return _diag(message, span, _hint(exc))
    if isinstance(exc, UnexpectedEOF):
        end = len(text)
        expected = _words(set(exc.expected))
        message = "unexpected end of the file" + (f"; expected {expected}" if expected else "")
        return _diag(message, state.span(end, end))
    return _diag(str(exc), state.span(0, 0))


def _hint(exc: UnexpectedInput) -> str | None:
    """A friendly explanation when the error matches one of the labelled examples."""

    def parse_example(text: str) -> object:
        state = TextState(text, "<example>", DiagnosticSink())
        previous = set_state(state)
        try:
            with span_context(SpanContext(state.span, 0)):
                return flow_parser().parse(text)
        finally:
            set_state(previous)

    try:
        label = exc.match_examples(parse_example, _examples(), use_accepts=True)
    except Exception:  # the classifier must never turn an error report into a crash
        return None
    return label


def _diag(message: str, span: Span, hint: str | None = None) -> Diagnostic:
    from flowpilot.dsl.diagnostics import Severity

    return Diagnostic("E002", Severity.ERROR, message, span, hint)
