"""Prints a :class:`Flow` as canonical text form (``*.flow``), 2-space indented.

``parse_text(print_text(flow))`` gives a flow whose ``ast.dump`` equals ``ast.dump(flow)``, for
flows from either syntax; printing is idempotent. See docs/text-syntax.md.
"""

from __future__ import annotations

import re
from typing import Any

from flowpilot.dsl.ast import (
    CallStep,
    Const,
    DictExpr,
    Duration,
    Expr,
    ExprValue,
    FailStep,
    Flow,
    ForeachStep,
    GroupStep,
    InputDecl,
    Interpolated,
    ListExpr,
    ListValue,
    MapValue,
    ParallelStep,
    RepeatStep,
    Retry,
    ReturnStep,
    Scalar,
    SetStep,
    Step,
    SwitchStep,
    TextPart,
    Trigger,
    TryStep,
    UnaryOp,
    UsesStep,
    Value,
    WaitStep,
)
from flowpilot.dsl.expr_format import RESERVED_WORDS, format_expression, quote_string
from flowpilot.dsl.expressions import CondExpr
from flowpilot.dsl.text_transform import TRIGGER_POSITIONAL

__all__ = ["print_text"]

_INDENT = "  "
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FLOW_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NODE_TYPE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?:@[0-9]+)?")
_DURATION = re.compile(
    r"[0-9]+(?:ms|s|m|h|d)"
    r"|P(?=[0-9]|T[0-9])(?:[0-9]+D)?(?:T(?=[0-9])(?:[0-9]+H)?(?:[0-9]+M)?(?:[0-9]+(?:[.,][0-9]+)?S)?)?"
)
# Words that are keywords somewhere in the text form: quoted when used as map keys or names, so
# the printed text never depends on where the contextual lexer accepts a keyword.
_KEYWORDS = RESERVED_WORDS | {
    "flow", "dsl", "name", "description", "labels", "input", "var", "trigger", "defaults",
    "timeout", "concurrency", "on_limit", "output", "on", "failure", "finish", "step", "call",
    "group", "parallel", "switch", "when", "default", "foreach", "repeat", "try", "catch",
    "finally", "wait", "set", "fail", "return", "retry", "continue_on_error", "mock", "fail_fast",
    "max_concurrency", "as", "collect", "until", "max_iterations", "delay",
}  # fmt: skip


def _str(value: str) -> str:
    return quote_string(value, '"')


def _ident(value: str) -> str:
    return value if _NAME.fullmatch(value) and value not in _KEYWORDS else _str(value)


def _key(value: str) -> str:
    """A map or argument key: bare when it is a plain name."""
    return value if _NAME.fullmatch(value) and value not in RESERVED_WORDS else _str(value)


def _number(value: int | float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _duration(d: Duration) -> str:
    return d.text if _DURATION.fullmatch(d.text) else _str(d.text)


def _literal(value: Any) -> str:
    """Plain data (input options, labels) as a literal."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _str(value)
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(str(k))}: {_literal(v)}" for k, v in value.items()) + "}"
    return _str(str(value))


def _is_data(expr: Expr | None) -> bool:
    """Would ``expr`` written bare read back as data (a Scalar, list or map) instead?"""
    if isinstance(expr, Const | ListExpr | DictExpr):
        return True
    return isinstance(expr, UnaryOp) and expr.op == "-" and isinstance(expr.operand, Const)


def _expr_value(value: ExprValue, head: bool, nested: bool) -> str:
    expr = value.expr
    bare = (
        expr is not None
        and not _is_data(expr)
        and value.source == format_expression(expr)
        and not (head and isinstance(expr, CondExpr))
    )
    if bare:
        return value.source
    if expr is None or nested:
        # inside a list or map only expressions may appear, and `${{` is not one; a string that
        # is exactly one `${{ }}` means the same in both syntaxes
        return _str("${{ " + value.source + " }}")
    return "${{ " + value.source + " }}"


def _value(value: Value | None, head: bool = False, nested: bool = False) -> str:
    """A value in text form; ``head`` values are followed by more header words, ``nested`` ones
    are inside a list or map literal."""
    if isinstance(value, Scalar):
        v = value.value
        if isinstance(v, str):
            return _str(v)
        return _literal(v)
    if isinstance(value, ExprValue):
        return _expr_value(value, head, nested)
    if isinstance(value, Interpolated):
        text = "".join(
            p.text if isinstance(p, TextPart) else "${{ " + p.source + " }}" for p in value.parts
        )
        return _str(text)
    if isinstance(value, ListValue):
        return "[" + ", ".join(_value(i, nested=True) for i in value.items) + "]"
    if isinstance(value, MapValue):
        entries = (f"{_key(e.key)}: {_value(e.value, nested=True)}" for e in value.entries)
        return "{" + ", ".join(entries) + "}"
    return "null"


def _args(mapping: MapValue | None) -> str:
    if mapping is None:
        return ""
    return "(" + ", ".join(f"{_key(e.key)}: {_value(e.value)}" for e in mapping.entries) + ")"


def _retry(retry: Retry) -> str:
    parts = []
    for name in ("max_attempts", "backoff", "delay", "factor", "max_delay", "jitter", "retry_on"):
        value = getattr(retry, name)
        if value is None:
            continue
        if isinstance(value, Duration):
            text = _duration(value)
        elif name == "backoff":
            text = value if _NAME.fullmatch(value) and value not in RESERVED_WORDS else _str(value)
        else:
            text = _literal(value)
        parts.append(f"{name}: {text}")
    return "retry(" + ", ".join(parts) + ")"


class _Printer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def line(self, depth: int, text: str) -> None:
        self.lines.append(_INDENT * depth + text)

    # -- flow ------------------------------------------------------------------------------

    def flow(self, flow: Flow) -> None:
        ref = flow.id if _FLOW_ID.fullmatch(flow.id) and flow.id not in _KEYWORDS else _str(flow.id)
        for comment in flow.comments:
            self.line(0, f"# {comment}".rstrip())
        self.line(0, f"flow {ref} {{")
        d = 1
        if flow.dsl != 1:
            self.line(d, f"dsl {flow.dsl}")
        if flow.name is not None:
            self.line(d, f"name {_str(flow.name)}")
        if flow.description is not None:
            self.line(d, f"description {_str(flow.description)}")
        if flow.labels:
            labels = ", ".join(f"{_key(k)}: {_str(v)}" for k, v in flow.labels.items())
            self.line(d, f"labels({labels})")
        if flow.timeout is not None:
            self.line(d, f"timeout {_duration(flow.timeout)}")
        if flow.concurrency is not None:
            c = flow.concurrency
            on_limit = "" if c.on_limit == "queue" else f" on_limit {_ident(c.on_limit)}"
            self.line(d, f"concurrency {c.limit}{on_limit}")
        if flow.defaults is not None:
            parts = []
            if flow.defaults.timeout is not None:
                parts.append(f"timeout {_duration(flow.defaults.timeout)}")
            if flow.defaults.retry is not None:
                parts.append(_retry(flow.defaults.retry))
            self.line(d, "defaults " + (" ".join(parts) if parts else "{}"))
        for decl in flow.inputs:
            self.line(d, self.input(decl))
        for var in flow.vars:
            self.line(d, f"var {_ident(var.name)} = {_value(var.value)}")
        for trigger in flow.triggers:
            self.line(d, self.trigger(trigger))
        if flow.steps and len(self.lines) > 1:
            self.lines.append("")
        for step in flow.steps:
            self.step(step, d)
        if flow.catch is not None:
            self.block(d, "on failure", flow.catch)
        if flow.finally_ is not None:
            self.block(d, "on finish", flow.finally_)
        for out in flow.outputs:
            self.line(d, f"output {_ident(out.name)} = {_value(out.value)}")
        self.line(0, "}")

    def input(self, decl: InputDecl) -> str:
        options: dict[str, Any] = {}
        if decl.description is not None:
            options["description"] = decl.description
        options.update(decl.options)
        text = f"input {_ident(decl.name)}: {_ident(decl.type)}"
        if not decl.required:
            text += "?"
        if options:
            text += "(" + ", ".join(f"{_key(k)}: {_literal(v)}" for k, v in options.items()) + ")"
        if decl.default is not None:
            text += f" = {_value(decl.default)}"
        return text

    def trigger(self, trigger: Trigger) -> str:
        text = f"trigger {_ident(trigger.type)} "
        text += trigger.id if _FLOW_ID.fullmatch(trigger.id) else _str(trigger.id)
        items = []
        entries = list(trigger.config.entries)
        primary = TRIGGER_POSITIONAL.get(trigger.type)
        if (
            entries
            and entries[0].key == primary
            and isinstance(entries[0].value, Scalar)
            and isinstance(entries[0].value.value, str)
        ):
            items.append(_str(entries[0].value.value))
            entries = entries[1:]
        items += [f"{_key(e.key)}: {_value(e.value)}" for e in entries]
        if trigger.inputs is not None:
            items.append(f"inputs: {_value(trigger.inputs)}")
        if items:
            text += "(" + ", ".join(items) + ")"
        return text

    # -- steps -----------------------------------------------------------------------------

    def block(self, depth: int, head: str, steps: list[Step]) -> None:
        if not steps:
            self.line(depth, head + " {}")
            return
        self.line(depth, head + " {")
        for step in steps:
            self.step(step, depth + 1)
        self.line(depth, "}")

    def step(self, step: Step, depth: int) -> None:
        for comment in step.comments:
            self.line(depth, f"# {comment}".rstrip())
        head = self.header(step)
        attrs = self.attributes(step)
        if attrs:
            head += " " + " ".join(attrs)
        if isinstance(step, GroupStep):
            self.block(depth, head, step.steps)
        elif isinstance(step, ParallelStep):
            self.block(depth, head, step.branches)
        elif isinstance(step, ForeachStep | RepeatStep):
            self.block(depth, head, step.steps)
        elif isinstance(step, SwitchStep):
            self.line(depth, head + " {")
            for case in step.cases:
                self.block(depth + 1, f"when {_value(case.when, head=True)}", case.steps)
            if step.default is not None:
                self.block(depth + 1, "default", step.default)
            self.line(depth, "}")
        elif isinstance(step, TryStep):
            self.block(depth, head, step.try_)
            for word, steps in (("catch", step.catch), ("finally", step.finally_)):
                if steps is not None:
                    self._handler(depth, word, steps)
        else:
            self.line(depth, head)

    def _handler(self, depth: int, word: str, steps: list[Step]) -> None:
        # `} catch {` goes on the line that closes the previous block
        last = self.lines.pop()
        if not steps:
            self.lines.append(f"{last} {word} {{}}")
            return
        self.lines.append(f"{last} {word} {{")
        for step in steps:
            self.step(step, depth + 1)
        self.line(depth, "}")

    def header(self, step: Step) -> str:
        sid = _ident(step.id)
        if isinstance(step, UsesStep):
            node = step.uses if _NODE_TYPE.fullmatch(step.uses) else _str(step.uses)
            return f"step {sid} = {node}{_args(step.args)}"
        if isinstance(step, CallStep):
            ref = step.flow if _FLOW_ID.fullmatch(step.flow) else _str(step.flow)
            return f"call {sid} = {ref}{_args(step.args)}"
        if isinstance(step, GroupStep):
            return f"group {sid}"
        if isinstance(step, ParallelStep):
            return f"parallel {sid}"
        if isinstance(step, SwitchStep):
            return f"switch {sid}"
        if isinstance(step, ForeachStep):
            return f"foreach {sid} in {_value(step.items, head=True)}"
        if isinstance(step, RepeatStep):
            return f"repeat {sid}"
        if isinstance(step, TryStep):
            return f"try {sid}"
        if isinstance(step, WaitStep):
            duration = f" {_duration(step.duration)}" if step.duration is not None else ""
            return f"wait {sid}{duration}"
        if isinstance(step, SetStep):
            return f"set {sid}{_args(step.values)}"
        if isinstance(step, FailStep):
            entries = [f"message: {_value(step.message)}"]
            if step.type is not None:
                entries.append(f"type: {_value(step.type)}")
            return f"fail {sid}(" + ", ".join(entries) + ")"
        if isinstance(step, ReturnStep):
            return f"return {sid}{_args(step.values)}"
        raise TypeError(f"unknown step kind: {type(step).__name__}")

    def attributes(self, step: Step) -> list[str]:
        out = []
        if step.name is not None:
            out.append(f"name {_str(step.name)}")
        if step.description is not None:
            out.append(f"description {_str(step.description)}")
        if step.if_ is not None:
            out.append(f"if {_value(step.if_, head=True)}")
        if step.timeout is not None:
            out.append(f"timeout {_duration(step.timeout)}")
        if step.retry is not None:
            out.append(_retry(step.retry))
        if step.continue_on_error is not None:
            out.append(f"continue_on_error {_literal(step.continue_on_error)}")
        if step.mock is not None:
            out.append(f"mock {_value(step.mock, head=True)}")
        if isinstance(step, ParallelStep):
            if step.fail_fast is not None:
                out.append(f"fail_fast {_literal(step.fail_fast)}")
            if step.max_concurrency is not None:
                out.append(f"max_concurrency {step.max_concurrency}")
        elif isinstance(step, ForeachStep):
            if step.as_ != "item":
                out.append(f"as {_ident(step.as_)}")
            if step.concurrency is not None:
                out.append(f"concurrency {step.concurrency}")
            if step.collect is not None:
                out.append(f"collect {_value(step.collect, head=True)}")
        elif isinstance(step, RepeatStep):
            out.append(f"until {_value(step.until, head=True)}")
            out.append(f"max_iterations {step.max_iterations}")
            if step.delay is not None:
                out.append(f"delay {_duration(step.delay)}")
        elif isinstance(step, WaitStep) and step.until is not None:
            out.append(f"until {_value(step.until, head=True)}")
        return out


def print_text(flow: Flow) -> str:
    """The canonical text form of ``flow`` (ends with a newline)."""
    printer = _Printer()
    printer.flow(flow)
    return "\n".join(printer.lines) + "\n"
