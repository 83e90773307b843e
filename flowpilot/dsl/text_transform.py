"""Builds the AST from the text form: the inline Lark callbacks of ``flow.lark``.

The expression rules are inherited from :class:`ExprBuilder` (``flow.lark`` imports them under
the ``expr__`` prefix), so expressions are the same nodes as ``parse_expression`` builds.
Per-parse state (file, line index, diagnostics) lives in a thread-local :class:`TextState`;
it and the conversion of expressions to values are in :mod:`flowpilot.dsl.text_values`.
"""

from __future__ import annotations

from typing import Any

from lark import Token

from flowpilot.dsl.ast import (
    CallStep,
    Concurrency,
    Const,
    Defaults,
    Duration,
    Entry,
    Expr,
    FailStep,
    Flow,
    ForeachStep,
    GroupStep,
    InputDecl,
    ListExpr,
    MapValue,
    Name,
    OutputDecl,
    ParallelStep,
    RepeatStep,
    Retry,
    ReturnStep,
    Scalar,
    SetStep,
    Step,
    SwitchCase,
    SwitchStep,
    Trigger,
    TryStep,
    UsesStep,
    VarDecl,
    WaitStep,
)
from flowpilot.dsl.diagnostics import did_you_mean
from flowpilot.dsl.expressions import ExprBuilder
from flowpilot.dsl.schema_keys import INPUT_TYPES
from flowpilot.dsl.span import Span
from flowpilot.dsl.text_values import (
    TextState,
    _Attr,
    _cover,
    _error,
    _extent,
    _Piece,
    _Raw,
    _state,
    _text,
    _tok_span,
    expr_token,
    raw_to_value,
    string_value,
    to_data,
)
from flowpilot.durations import parse_duration

__all__ = ["COMMON_ATTRIBUTES", "KIND_ATTRIBUTES", "TRIGGER_POSITIONAL", "FlowBuilder", "TextState"]

#: Attributes every step takes, in the order the printer writes them.
COMMON_ATTRIBUTES = ("name", "description", "if", "timeout", "retry", "continue_on_error", "mock")
#: Attributes only some step kinds take.
KIND_ATTRIBUTES = {
    "parallel": ("fail_fast", "max_concurrency"),
    "foreach": ("as", "concurrency", "collect"),
    "repeat": ("until", "max_iterations", "delay"),
    "wait": ("until",),
}
_ALL_ATTRIBUTES = {*COMMON_ATTRIBUTES, *(a for v in KIND_ATTRIBUTES.values() for a in v)}
_FIELD = {"if": "if_", "as": "as_"}
#: The config key a trigger's positional first argument stands for.
TRIGGER_POSITIONAL = {"cron": "cron", "webhook": "path", "event": "on"}
_RETRY_KEYS = ("max_attempts", "backoff", "delay", "factor", "max_delay", "jitter", "retry_on")


class FlowBuilder(ExprBuilder):
    """Inline callbacks for ``flow.lark``."""

    def __getattr__(self, name: str) -> Any:
        # flow.lark imports the expression rules as `expr__<rule>`
        if name.startswith("expr__"):
            return getattr(self, name[6:])
        raise AttributeError(name)

    # -- small pieces ----------------------------------------------------------------------

    def ident(self, c: list[Any]) -> Token:
        return c[0]  # type: ignore[no-any-return]

    flow_ref = ident
    node_type = ident

    def bool(self, c: list[Any]) -> Token:
        return c[0]  # type: ignore[no-any-return]

    def value(self, c: list[Any]) -> _Raw:
        item = c[0]
        if isinstance(item, _Raw):
            return item
        if isinstance(item, Token):  # fast mode: the whole expression as one token
            return expr_token(item)
        start, end = self._raw_extent(item)
        return _Raw(self._unwrap(item), start, end, explicit=False)

    head_value = value

    def explicit_expr(self, c: list[Any]) -> _Raw:
        return _Raw(self._unwrap(c[1]), c[0].start_pos, c[-1].end_pos, True, c[-2].start_pos)

    def _raw_extent(self, item: Any) -> tuple[int, int]:
        from flowpilot.dsl.expressions import _Paren

        if isinstance(item, _Paren):
            return item.start, item.end
        return item.span.start, item.span.end

    def _unwrap(self, item: Any) -> Expr:
        from flowpilot.dsl.expressions import _Paren

        return item.expr if isinstance(item, _Paren) else item  # type: ignore[no-any-return]

    def duration(self, c: list[Any]) -> Duration | None:
        tok = c[0]
        text = _text(tok)
        ms = parse_duration(text)
        if ms is None:
            _error(
                "E012",
                f"invalid duration {text!r}",
                _tok_span(tok),
                "write a whole number and a unit (250ms, 30s, 5m, 2h, 3d) or ISO-8601 (PT5M)",
            )
            return None
        return Duration(text=text, ms=ms, span=_tok_span(tok))

    def kwarg(self, c: list[Any]) -> tuple[Token, _Raw]:
        return c[0], c[2]

    def args(self, c: list[Any]) -> tuple[Span, list[tuple[Token, _Raw]]]:
        return _cover(c[0], c[-1]), c[1:-1]

    def trigger_args(self, c: list[Any]) -> tuple[Span, list[Any]]:
        return _cover(c[0], c[-1]), c[1:-1]

    def block(self, c: list[Any]) -> _Piece:
        return _Piece("block", [s for s in c[1:-1] if s is not None], c[0].start_pos, c[-1].end_pos)

    # -- maps ------------------------------------------------------------------------------

    def _map(self, args: tuple[Span, list[tuple[Token, _Raw]]] | None) -> MapValue | None:
        if args is None:
            return None
        span, pairs = args
        entries = [
            Entry(key=_text(key), value=raw_to_value(raw), span=_tok_span(key))
            for key, raw in pairs
        ]
        return MapValue(entries=entries, span=span)

    # -- retry -----------------------------------------------------------------------------

    def retry_arg(self, c: list[Any]) -> tuple[Token, Any]:
        return c[0], c[2]

    def retry(self, c: list[Any]) -> Retry:
        retry = Retry(span=_cover(c[0], c[-1]))
        for key, raw in c[2:-1]:
            self._retry_field(retry, key, raw)
        return retry

    def _retry_field(self, retry: Retry, key: Token, raw: Any) -> None:
        name = str(key)
        retry.set_field_span(name, _tok_span(raw) if isinstance(raw, Token) else raw.expr.span)
        if name not in _RETRY_KEYS:
            _error(
                "E010",
                f"unknown retry setting '{name}'",
                _tok_span(key),
                did_you_mean(name, _RETRY_KEYS) or f"retry takes {', '.join(_RETRY_KEYS)}",
            )
            return
        if name in ("delay", "max_delay"):
            if isinstance(raw, Token):
                setattr(retry, name, self.duration([raw]))
                return
            expr = raw.expr
            if isinstance(expr, Const) and isinstance(expr.value, str) and not raw.explicit:
                start, end = expr.span.start, expr.span.end
                literal = Token("STRING", _state().text[start:end], start, end_pos=end)
                setattr(retry, name, self.duration([literal]))
                return
            _error("E012", f"retry {name} must be a duration (30s, 5m, PT5M)", expr.span)
            return
        if isinstance(raw, Token):
            _error("E012", f"retry {name} cannot be a duration", _tok_span(raw))
            return
        expr = raw.expr
        ok, data = to_data(expr)
        if name == "backoff" and isinstance(expr, Name):
            ok, data = True, expr.name
        if name == "retry_on" and isinstance(expr, ListExpr):
            items = [
                i.name if isinstance(i, Name) else i.value if isinstance(i, Const) else None
                for i in expr.items
            ]
            ok, data = all(isinstance(i, str) for i in items), items
        expected = {
            "max_attempts": (int,),
            "backoff": (str,),
            "factor": (int, float),
            "jitter": (bool,),
            "retry_on": (list,),
        }[name]
        is_bool = isinstance(data, bool)
        if (
            not ok
            or raw.explicit
            or not isinstance(data, expected)
            or (is_bool and bool not in expected)
        ):
            what = {
                "max_attempts": "a whole number",
                "backoff": "fixed, linear or exponential",
                "factor": "a number",
                "jitter": "true or false",
                "retry_on": "a list of error types",
            }[name]
            _error("E012", f"retry {name} must be {what}", expr.span)
            return
        setattr(retry, name, data)

    # -- attributes ------------------------------------------------------------------------

    def _attr(name: str, convert: str = "raw") -> Any:  # type: ignore[misc]
        def build(self: FlowBuilder, c: list[Any]) -> _Attr:
            tok, val = c[0], c[-1]
            if convert == "str":
                val = _text(val)
            elif convert == "int":
                val = int(val)
            elif convert == "bool":
                val = str(val) == "true"
            elif convert == "value":
                val = raw_to_value(val)
            attr = _Attr(name, val, tok, *_extent(c))
            if isinstance(c[-1], Token):
                attr.value_span = _tok_span(c[-1])
            return attr

        return build

    attr_name = _attr("name", "str")
    attr_description = _attr("description", "str")
    attr_if = _attr("if", "value")
    attr_timeout = _attr("timeout")
    attr_continue_on_error = _attr("continue_on_error", "bool")
    attr_mock = _attr("mock", "value")
    attr_fail_fast = _attr("fail_fast", "bool")
    attr_max_concurrency = _attr("max_concurrency", "int")
    attr_concurrency = _attr("concurrency", "int")
    attr_as = _attr("as", "str")
    attr_collect = _attr("collect", "value")
    attr_until = _attr("until", "value")
    attr_max_iterations = _attr("max_iterations", "int")
    attr_delay = _attr("delay")
    del _attr

    def attr_retry(self, c: list[Any]) -> _Attr:
        retry = c[0]
        keyword = Token("RETRY", "retry", retry.span.start, end_pos=retry.span.start + 5)
        return _Attr("retry", retry, keyword, retry.span.start, retry.span.end)

    def attr_unknown(self, c: list[Any]) -> _Attr:
        return _Attr("?" + str(c[0]), None, c[0], *_extent(c))

    def _apply(self, step: Step, attrs: list[_Attr]) -> None:
        allowed = (*COMMON_ATTRIBUTES, *KIND_ATTRIBUTES.get(step.kind, ()))
        seen: set[str] = set()
        for attr in attrs:
            name = attr.name
            if name.startswith("?"):
                name = name[1:]
                _error(
                    "E010",
                    f"unknown step attribute '{name}'",
                    _tok_span(attr.token),
                    did_you_mean(name, allowed) or f"a {step.kind} step takes {', '.join(allowed)}",
                )
                continue
            if name not in allowed:
                _error(
                    "E010",
                    f"'{name}' is not an attribute of a {step.kind} step",
                    _tok_span(attr.token),
                    f"a {step.kind} step takes {', '.join(allowed)}",
                )
                continue
            if name in seen:
                _error("E010", f"'{name}' is given twice", _tok_span(attr.token))
                continue
            seen.add(name)
            setattr(step, _FIELD.get(name, name), attr.value)
            if attr.value_span is not None:
                step.set_field_span(name, attr.value_span)

    def _build_step(self, cls: type[Step], c: list[Any], attrs: list[_Attr], **fields: Any) -> Step:
        id_tok = c[1]
        start, end = _extent(c)
        span = _state().span(start, end)
        step = cls(id=_text(id_tok), id_span=_tok_span(id_tok), span=span, **fields)
        self._apply(step, attrs)
        return step

    # -- steps -----------------------------------------------------------------------------

    @staticmethod
    def _split(c: list[Any]) -> tuple[list[Any], list[_Attr]]:
        head = [x for x in c if not isinstance(x, _Attr)]
        return head, [x for x in c if isinstance(x, _Attr)]

    def uses_step(self, c: list[Any]) -> Step:
        head, attrs = self._split(c)
        node = head[3]
        args = head[4] if len(head) > 4 else None
        return self._build_step(
            UsesStep, c, attrs, uses=_text(node), uses_span=_tok_span(node), args=self._map(args)
        )

    def call_step(self, c: list[Any]) -> Step:
        head, attrs = self._split(c)
        ref = head[3]
        args = head[4] if len(head) > 4 else None
        return self._build_step(
            CallStep, c, attrs, flow=_text(ref), flow_span=_tok_span(ref), args=self._map(args)
        )

    def group_step(self, c: list[Any]) -> Step:
        _, attrs = self._split(c[:-1])
        return self._build_step(GroupStep, c, attrs, steps=c[-1].steps)

    def parallel_step(self, c: list[Any]) -> Step:
        _, attrs = self._split(c[:-1])
        return self._build_step(ParallelStep, c, attrs, branches=c[-1].steps)

    def case(self, c: list[Any]) -> SwitchCase:
        return SwitchCase(when=raw_to_value(c[1]), steps=c[2].steps, span=_cover(c[0], c[2]))

    def default_case(self, c: list[Any]) -> _Piece:
        return _Piece("default", c[1].steps, c[0].start_pos, c[1].end)

    def switch_step(self, c: list[Any]) -> Step:
        attrs = [x for x in c if isinstance(x, _Attr)]
        cases = [x for x in c if isinstance(x, SwitchCase)]
        default = next((x.steps for x in c if isinstance(x, _Piece)), None)
        return self._build_step(SwitchStep, c, attrs, cases=cases, default=default)

    def foreach_step(self, c: list[Any]) -> Step:
        attrs = [x for x in c[4:-1] if isinstance(x, _Attr)]
        return self._build_step(ForeachStep, c, attrs, items=raw_to_value(c[3]), steps=c[-1].steps)

    def repeat_step(self, c: list[Any]) -> Step:
        _, attrs = self._split(c[:-1])
        until = Scalar(value=None, span=_tok_span(c[1]))
        step = self._build_step(
            RepeatStep, c, attrs, until=until, max_iterations=1, steps=c[-1].steps
        )
        missing = [a for a in ("until", "max_iterations") if a not in {x.name for x in attrs}]
        if missing:
            _error(
                "E011",
                f"repeat step '{step.id}' needs {' and '.join(missing)}",
                step.id_span,
                "for example: repeat poll until vars.done max_iterations 20 { … }",
            )
        return step

    def catch_block(self, c: list[Any]) -> _Piece:
        return _Piece("catch", c[1].steps, c[0].start_pos, c[1].end)

    def finally_block(self, c: list[Any]) -> _Piece:
        return _Piece("finally", c[1].steps, c[0].start_pos, c[1].end)

    def try_step(self, c: list[Any]) -> Step:
        attrs = [x for x in c if isinstance(x, _Attr)]
        pieces = {x.kind: x.steps for x in c if isinstance(x, _Piece)}
        return self._build_step(
            TryStep,
            c,
            attrs,
            try_=pieces["block"],
            catch=pieces.get("catch"),
            finally_=pieces.get("finally"),
        )

    def wait_step(self, c: list[Any]) -> Step:
        attrs = [x for x in c if isinstance(x, _Attr)]
        duration = c[2] if len(c) > 2 and isinstance(c[2], Duration) else None
        step = self._build_step(WaitStep, c, attrs, duration=duration)
        if duration is None and step.until is None and not (len(c) > 2 and c[2] is None):
            _error(
                "E011",
                f"wait step '{step.id}' needs a duration or 'until'",
                step.id_span,
                "for example: wait pause 10m, or wait pause until inputs.deadline",
            )
        elif duration is not None and step.until is not None:
            _error("E010", f"wait step '{step.id}' has both a duration and 'until'", step.id_span)
        return step

    def set_step(self, c: list[Any]) -> Step:
        head, attrs = self._split(c)
        return self._build_step(SetStep, c, attrs, values=self._map(head[2]))

    def return_step(self, c: list[Any]) -> Step:
        head, attrs = self._split(c)
        values = self._map(head[2]) if len(head) > 2 else MapValue(span=_tok_span(head[1]))
        return self._build_step(ReturnStep, c, attrs, values=values)

    def fail_step(self, c: list[Any]) -> Step:
        head, attrs = self._split(c)
        mapping = self._map(head[2])
        assert mapping is not None
        message = mapping.get("message")
        kind = mapping.get("type")
        step = self._build_step(
            FailStep,
            c,
            attrs,
            message=message.value if message else Scalar(value="", span=mapping.span),
            type=kind.value if kind else None,
        )
        for entry in mapping.entries:
            if entry.key not in ("message", "type"):
                _error(
                    "E010",
                    f"unknown fail setting '{entry.key}'",
                    entry.span,
                    "fail takes message and type",
                )
        if message is None:
            _error(
                "E011",
                f"fail step '{step.id}' needs a message",
                step.id_span,
                'for example: fail stop(message: "no items")',
            )
        return step

    # -- flow ------------------------------------------------------------------------------

    def dsl(self, c: list[Any]) -> tuple[str, Any]:
        return "dsl", (int(c[1]), _tok_span(c[1]))

    def flow_name(self, c: list[Any]) -> tuple[str, Any]:
        return "name", _text(c[1])

    def flow_description(self, c: list[Any]) -> tuple[str, Any]:
        return "description", _text(c[1])

    def flow_timeout(self, c: list[Any]) -> tuple[str, Any]:
        return "timeout", c[1]

    def labels(self, c: list[Any]) -> tuple[str, Any]:
        labels = {}
        for key, raw in c[1][1]:
            expr = raw.expr
            if raw.explicit or not isinstance(expr, Const) or not isinstance(expr.value, str):
                _error("E012", f"label '{_text(key)}' must be a string", expr.span)
                continue
            labels[_text(key)] = expr.value
        return "labels", labels

    def concurrency(self, c: list[Any]) -> tuple[str, Any]:
        on_limit = _text(c[3]) if len(c) > 3 and c[3] is not None else "queue"
        span = _state().span(*_extent(c))
        concurrency = Concurrency(limit=int(c[1]), on_limit=on_limit, span=span)
        concurrency.set_field_span("limit", _tok_span(c[1]))
        if len(c) > 3 and c[3] is not None:
            concurrency.set_field_span("on_limit", _tok_span(c[3]))
        return "concurrency", concurrency

    def defaults(self, c: list[Any]) -> tuple[str, Any]:
        timeout = next((x for x in c if isinstance(x, Duration)), None)
        retry = next((x for x in c if isinstance(x, Retry)), None)
        span = _state().span(*_extent(c))
        return "defaults", Defaults(timeout=timeout, retry=retry, span=span)

    def input_type(self, c: list[Any]) -> tuple[str, bool, bool, Token]:
        is_array = any(isinstance(x, Token) and x.type == "LSQB" for x in c)
        optional = any(isinstance(x, Token) and x.type == "QMARK" for x in c)
        return _text(c[0]), is_array, optional, c[0]

    def input(self, c: list[Any]) -> tuple[str, Any]:
        name_tok = c[1]
        type_name, is_array, optional, _ = c[3]
        options_arg = c[4] if len(c) > 4 and isinstance(c[4], tuple) else None
        default = raw_to_value(c[-1]) if isinstance(c[-1], _Raw) else None
        if type_name not in INPUT_TYPES:
            _error(
                "E012",
                f"unknown input type '{type_name}'",
                _tok_span(c[3][3]) if len(c[3]) > 3 else _tok_span(name_tok),
                did_you_mean(type_name, INPUT_TYPES)
                or f"use one of {', '.join(INPUT_TYPES)} (with '[]' for a list, '?' if optional)",
            )
            type_name = "any"
        decl = InputDecl(
            name=_text(name_tok),
            type=type_name,
            required=not optional,
            default=default,
            span=_tok_span(name_tok),
        )
        if is_array:
            decl.type = "array"
            decl.options["items"] = {"type": type_name}
        for key, raw in options_arg[1] if options_arg else []:
            self._input_option(decl, key, raw)
        return "input", decl

    def _input_option(self, decl: InputDecl, key: Token, raw: _Raw) -> None:
        name = _text(key)
        ok, data = to_data(raw.expr)
        if not ok or raw.explicit:
            _error("E012", f"input option '{name}' must be literal data", raw.expr.span)
            return
        if name == "description":
            if not isinstance(data, str):
                _error("E012", "an input description must be a string", raw.expr.span)
                return
            decl.description = data
        elif name == "required":
            if not isinstance(data, bool):
                _error("E012", "required must be true or false", raw.expr.span)
                return
            decl.required = data
        elif name in ("type", "default"):
            where = "after ':'" if name == "type" else "after '='"
            _error("E010", f"write the input's {name} {where}, not as an option", _tok_span(key))
        else:
            decl.options[name] = data

    def var(self, c: list[Any]) -> tuple[str, Any]:
        return "var", VarDecl(name=_text(c[1]), value=raw_to_value(c[3]), span=_tok_span(c[1]))

    def output(self, c: list[Any]) -> tuple[str, Any]:
        return "output", OutputDecl(
            name=_text(c[1]), value=raw_to_value(c[3]), span=_tok_span(c[1])
        )

    def trigger(self, c: list[Any]) -> tuple[str, Any]:
        type_tok, id_tok = c[1], c[2]
        kind = _text(type_tok)
        span = _state().span(*_extent(c))
        trigger = Trigger(id=_text(id_tok), type=kind, id_span=_tok_span(id_tok), span=span)
        trigger.set_field_span("type", _tok_span(type_tok))  # unknown types: the compiler says
        if len(c) < 4 or c[3] is None:
            return "trigger", trigger
        span, items = c[3]
        trigger.config.span = span
        for item in items:
            if isinstance(item, Token):  # positional first argument
                key = TRIGGER_POSITIONAL.get(kind)
                if key is None:
                    if kind in TRIGGER_POSITIONAL:
                        _error(
                            "E010",
                            f"a {kind} trigger takes no positional argument",
                            _tok_span(item),
                        )
                    continue
                value = string_value(item.start_pos, item.end_pos, _text(item), _tok_span(item))  # type: ignore[arg-type]
                trigger.config.entries.append(Entry(key=key, value=value, span=_tok_span(item)))
                continue
            key_tok, raw = item
            key = _text(key_tok)
            value = raw_to_value(raw)
            if key == "inputs":
                if not isinstance(value, MapValue):
                    _error(
                        "E012", "trigger inputs must be a map: inputs: {name: value}", value.span
                    )
                    continue
                trigger.inputs = value
                continue
            trigger.config.entries.append(Entry(key=key, value=value, span=_tok_span(key_tok)))
        return "trigger", trigger

    def on_failure(self, c: list[Any]) -> tuple[str, Any]:
        return "catch", c[2].steps

    def on_finish(self, c: list[Any]) -> tuple[str, Any]:
        return "finally", c[2].steps

    def flow(self, c: list[Any]) -> Flow:
        ref = c[1]
        flow = Flow(id=_text(ref), id_span=_tok_span(ref), span=_cover(c[0], c[-1]), syntax="text")
        seen: set[str] = set()
        for item in c[3:-1]:
            if isinstance(item, Step):
                flow.steps.append(item)
                continue
            if item is None:
                continue
            key, value = item
            if key == "input":
                flow.inputs.append(value)
            elif key == "var":
                flow.vars.append(value)
            elif key == "trigger":
                flow.triggers.append(value)
            elif key == "output":
                flow.outputs.append(value)
            else:
                if key in seen:
                    _error("E010", f"'{key}' is given twice in flow '{flow.id}'", flow.id_span)
                seen.add(key)
                if key == "dsl":
                    value, dsl_span = value
                    flow.set_field_span("dsl", dsl_span)
                setattr(flow, {"finally": "finally_"}.get(key, key), value)
        if not flow.steps:
            _error(
                "E011",
                f"flow '{flow.id}' has no steps",
                flow.id_span,
                'add one, e.g. step hello = core.log(message: "hi")',
            )
        return flow

    def start(self, c: list[Any]) -> Flow:
        return c[0]  # type: ignore[no-any-return]
