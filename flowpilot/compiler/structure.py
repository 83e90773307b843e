"""Structural checks that hold for both syntaxes: ids, duplicates, triggers, retry, durations.

Also indexes every step (:class:`StepInfo`) for the later passes.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import croniter

from flowpilot.compiler.context import GLOBAL_NAMES, CompileContext, StepInfo
from flowpilot.dsl import ast
from flowpilot.dsl.diagnostics import did_you_mean
from flowpilot.dsl.schema_keys import (
    BACKOFF_KINDS,
    CONCURRENCY_POLICIES,
    FLOW_ID_PATTERN,
    ID_PATTERN,
    INPUT_OPTION_KEYS,
    TRIGGER_TYPES,
    WEBHOOK_AUTH,
)

_ID = re.compile(ID_PATTERN)
_FLOW_ID = re.compile(FLOW_ID_PATTERN)
_WEBHOOK_PATH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~/-]{0,199}$")


def check_structure(ctx: CompileContext) -> None:
    flow = ctx.flow
    sink = ctx.sink
    if flow.id and not _FLOW_ID.match(flow.id):
        sink.error(
            "E012",
            f"invalid flow id '{flow.id}'",
            flow.id_span,
            "flow ids are lower-case letters, digits and '-', starting with a letter "
            f"(at most 63 characters), e.g. '{_suggest_flow_id(flow.id)}'",
        )
    if flow.dsl != 1:
        sink.error(
            "E012",
            f"unsupported DSL version {flow.dsl}",
            flow.span_of("dsl"),
            "this FlowPilot understands DSL version 1",
        )
    if flow.concurrency is not None:
        _check_concurrency(ctx, flow.concurrency)
    if flow.defaults is not None and flow.defaults.retry is not None:
        _check_retry(ctx, flow.defaults.retry)
    _check_inputs(ctx)
    _check_triggers(ctx)
    _index_steps(ctx)
    for section in (flow.steps, flow.catch or [], flow.finally_ or []):
        _check_sequence(ctx, section)


def _check_inputs(ctx: CompileContext) -> None:
    seen: dict[str, ast.InputDecl] = {}
    for decl in ctx.flow.inputs:
        if decl.name in seen:
            ctx.sink.error(
                "E401",
                f"duplicate input '{decl.name}'",
                decl.span,
                f"first declared on line {seen[decl.name].span.line}",
            )
        seen.setdefault(decl.name, decl)
        problem = input_schema_problem(decl)
        if problem is not None:
            ctx.sink.error(
                "E012",
                f"input '{decl.name}' has an invalid schema: {problem}",
                decl.span,
                "options follow JSON Schema, e.g. items: { type: string }",
            )
        for key in decl.options:
            if key not in INPUT_OPTION_KEYS:
                ctx.sink.error(
                    "E010",
                    f"unknown option '{key}' on input '{decl.name}'",
                    decl.span_of(key),
                    did_you_mean(key, INPUT_OPTION_KEYS)
                    or "a comma in an unquoted { … } value splits it into keys; quote the text",
                )


def input_schema_problem(decl: ast.InputDecl) -> str | None:
    """Why an input's type and options are not a valid JSON Schema, or None."""
    import jsonschema

    schema = {"type": decl.type, **decl.options}
    if decl.type in ("file", "secret", "any"):
        schema.pop("type")
    if _plainly_valid(schema):
        return None
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.exceptions.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        return f"{where}: {exc.message}" if where else exc.message
    return None


_SIMPLE_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})
_TEXT_KEYWORDS = frozenset({"title", "description", "format", "$comment"})
_BOUND_KEYWORDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
_COUNT_KEYWORDS = frozenset(
    {"minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"}
)


def _plainly_valid(schema: object) -> bool:
    """A cheap yes for the schemas inputs usually have (a type, properties, items, required,
    an enum, bounds, annotations), each keyword's value plainly of the shape the JSON Schema
    meta-schema asks for. Anything else, valid or not, is left to jsonschema, whose meta-schema
    check costs about a millisecond per input."""
    if type(schema) is not dict:
        return False
    for key, value in schema.items():
        if key == "type":
            ok = type(value) is str and value in _SIMPLE_TYPES
        elif key in _TEXT_KEYWORDS:
            ok = type(value) is str
        elif key == "default":
            ok = True
        elif key == "properties":
            ok = type(value) is dict and all(
                type(k) is str and _plainly_valid(v) for k, v in value.items()
            )
        elif key == "items":
            ok = _plainly_valid(value)
        elif key == "required":
            ok = (
                type(value) is list
                and all(type(v) is str for v in value)
                and len(set(value)) == len(value)
            )
        elif key == "enum":
            ok = type(value) is list
        elif key in _BOUND_KEYWORDS:
            ok = type(value) in (int, float)
        elif key in _COUNT_KEYWORDS:
            ok = type(value) is int and value >= 0
        else:
            return False
        if not ok:
            return False
    return True


def _suggest_flow_id(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if not slug or not slug[0].isalpha():
        slug = "flow-" + slug
    return slug[:63].rstrip("-")


def _check_concurrency(ctx: CompileContext, conc: ast.Concurrency) -> None:
    if conc.limit < 1:
        ctx.sink.error("E012", "'concurrency.limit' must be at least 1", conc.span_of("limit"))
    if conc.on_limit not in CONCURRENCY_POLICIES:
        ctx.sink.error(
            "E012",
            f"invalid 'on_limit' policy '{conc.on_limit}'",
            conc.span_of("on_limit"),
            did_you_mean(conc.on_limit, CONCURRENCY_POLICIES)
            or f"use one of {', '.join(CONCURRENCY_POLICIES)}",
        )


def _check_retry(ctx: CompileContext, retry: ast.Retry) -> None:
    sink = ctx.sink
    if retry.max_attempts is not None and retry.max_attempts < 1:
        sink.error(
            "E012",
            "'retry.max_attempts' must be at least 1",
            retry.span_of("max_attempts"),
            "max_attempts counts the first attempt too: 1 means no retry",
        )
    if retry.backoff is not None and retry.backoff not in BACKOFF_KINDS:
        sink.error(
            "E012",
            f"invalid backoff '{retry.backoff}'",
            retry.span_of("backoff"),
            did_you_mean(retry.backoff, BACKOFF_KINDS) or f"use one of {', '.join(BACKOFF_KINDS)}",
        )
    if retry.factor is not None and retry.factor <= 1 and retry.backoff == "exponential":
        sink.error(
            "E012",
            "'retry.factor' must be greater than 1 for exponential",
            retry.span_of("factor"),
        )
    elif retry.factor is not None and retry.factor <= 0:
        sink.error("E012", "'retry.factor' must be positive", retry.span_of("factor"))
    if (
        retry.delay is not None
        and retry.max_delay is not None
        and retry.max_delay.ms < retry.delay.ms
    ):
        sink.error(
            "E012",
            f"'retry.max_delay' ({retry.max_delay.text}) is shorter than 'delay' "
            f"({retry.delay.text})",
            retry.max_delay.span,
        )


def _check_triggers(ctx: CompileContext) -> None:
    sink = ctx.sink
    ids: dict[str, ast.Trigger] = {}
    paths: dict[str, ast.Trigger] = {}
    for trigger in ctx.flow.triggers:
        if trigger.id:
            if not _ID.match(trigger.id.replace("-", "_")):
                sink.error(
                    "E012",
                    f"invalid trigger id '{trigger.id}'",
                    trigger.id_span,
                    "trigger ids are lower-case letters, digits, '_' and '-'",
                )
            if trigger.id in ids:
                sink.error(
                    "E402",
                    f"duplicate trigger id '{trigger.id}'",
                    trigger.id_span,
                    f"first used on line {ids[trigger.id].id_span.line}",
                )
            else:
                ids[trigger.id] = trigger
        allowed = TRIGGER_TYPES.get(trigger.type)
        if allowed is None:
            if trigger.type:
                sink.error(
                    "E012",
                    f"unknown trigger type '{trigger.type}'",
                    trigger.span_of("type"),
                    did_you_mean(trigger.type, TRIGGER_TYPES)
                    or "use webhook, cron or event (manual runs are always allowed)",
                )
            continue
        config = {e.key: e for e in trigger.config.entries}
        for key, entry in config.items():
            if key not in allowed:
                sink.error(
                    "E010",
                    f"unknown key '{key}' for a {trigger.type} trigger",
                    entry.span,
                    did_you_mean(key, allowed) or f"allowed keys: {', '.join(allowed)}",
                )
        checker = _TRIGGER_CHECKS[trigger.type]
        checker(ctx, trigger, config, paths)


def _string_of(entry: ast.Entry | None) -> str | None:
    if entry is not None and isinstance(entry.value, ast.Scalar):
        value = entry.value.value
        return value if isinstance(value, str) else None
    return None


def _check_webhook(ctx, trigger, config, paths) -> None:  # type: ignore[no-untyped-def]
    sink = ctx.sink
    path_entry = config.get("path")
    path = _string_of(path_entry) or trigger.id
    if path_entry is not None and _string_of(path_entry) is None:
        sink.error("E012", "webhook 'path' must be a plain string", path_entry.value.span)
    elif path and not _WEBHOOK_PATH.match(path.strip("/")):
        sink.error(
            "E012",
            f"invalid webhook path '{path}'",
            path_entry.value.span if path_entry else trigger.id_span,
            "use letters, digits and . _ ~ / - only",
        )
    if path:
        key = path.strip("/")
        if key in paths:
            sink.error(
                "E402",
                f"two webhook triggers use the path '{key}'",
                path_entry.value.span if path_entry else trigger.id_span,
                f"trigger '{paths[key].id}' already listens there",
            )
        else:
            paths[key] = trigger
    auth_entry = config.get("auth")
    auth = _string_of(auth_entry) or "none"
    if auth not in WEBHOOK_AUTH:
        sink.error(
            "E012",
            f"invalid webhook auth '{auth}'",
            auth_entry.value.span if auth_entry else trigger.span,
            did_you_mean(auth, WEBHOOK_AUTH) or "use hmac, token or none",
        )
    if auth in ("hmac", "token") and "secret" not in config:
        sink.error(
            "E011",
            f"webhook auth '{auth}' needs a 'secret'",
            auth_entry.value.span if auth_entry else trigger.span,
            "secret: ${{ secrets.MY_HOOK_SECRET }}",
        )


def _check_cron(ctx, trigger, config, paths) -> None:  # type: ignore[no-untyped-def]
    sink = ctx.sink
    entry = config.get("cron")
    if entry is None:
        sink.error("E011", "cron trigger needs 'cron'", trigger.span, 'cron: "0 2 * * *"')
    else:
        text = _string_of(entry)
        if text is None or not croniter.is_valid(text):
            sink.error(
                "E012",
                f"invalid cron expression {text!r}" if text else "'cron' must be a string",
                entry.value.span,
                "five fields: minute hour day-of-month month day-of-week, e.g. '0 2 * * *'",
            )
    tz_entry = config.get("timezone")
    if tz_entry is not None:
        tz = _string_of(tz_entry)
        if not tz or not _valid_timezone(tz):
            sink.error(
                "E012",
                f"unknown timezone {tz!r}",
                tz_entry.value.span,
                (did_you_mean(tz, _timezones()) if tz else None)
                or "use an IANA name such as 'Europe/Berlin' or 'UTC'",
            )


def _check_event(ctx, trigger, config, paths) -> None:  # type: ignore[no-untyped-def]
    entry = config.get("on")
    if entry is None:
        ctx.sink.error("E011", "event trigger needs 'on'", trigger.span, "on: execution.succeeded")
    elif not _string_of(entry):
        ctx.sink.error("E012", "event 'on' must be an event name", entry.value.span)


_TRIGGER_CHECKS = {"webhook": _check_webhook, "cron": _check_cron, "event": _check_event}


def _valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


_TZ_CACHE: list[str] = []


def _timezones() -> list[str]:
    if not _TZ_CACHE:
        _TZ_CACHE.extend(sorted(available_timezones()))
    return _TZ_CACHE


def _index_steps(ctx: CompileContext) -> None:
    """Fill ``ctx.steps``; report bad and duplicate ids and per-step structural errors."""
    order = 0
    sink = ctx.sink
    flow = ctx.flow
    sections = (
        ("steps", flow.steps),
        ("catch", flow.catch or []),
        ("finally", flow.finally_ or []),
    )
    for section, steps in sections:
        stack: list[tuple[ast.Step, tuple[ast.Step, ...]]] = [(s, ()) for s in reversed(steps)]
        while stack:
            step, ancestors = stack.pop()
            if step.id:
                if not _ID.match(step.id):
                    suggestion = re.sub(r"[^a-z0-9_]", "_", step.id.lower())
                    if not suggestion or suggestion[0].isdigit():
                        suggestion = "_" + suggestion
                    sink.error(
                        "E012",
                        f"invalid step id '{step.id}'",
                        step.id_span,
                        "step ids are lower-case letters, digits and '_', starting with a letter "
                        f"or '_' (so that steps.<id> works in expressions), e.g. '{suggestion}'",
                    )
                if step.id in ctx.steps:
                    first = ctx.steps[step.id].step.id_span
                    sink.error(
                        "E401",
                        f"duplicate step id '{step.id}'",
                        step.id_span,
                        f"first used on line {first.line}; step ids must be unique in the "
                        "whole flow",
                    )
                else:
                    ctx.steps[step.id] = StepInfo(step, order, section, ancestors)
            order += 1
            _check_step(ctx, step)
            inner = (*ancestors, step)
            for body in reversed(step.bodies()):
                stack.extend((s, inner) for s in reversed(body))


def _check_step(ctx: CompileContext, step: ast.Step) -> None:
    sink = ctx.sink
    if step.retry is not None:
        _check_retry(ctx, step.retry)
    if isinstance(step, ast.ForeachStep):
        if step.concurrency is not None and step.concurrency < 1:
            sink.error("E012", "'concurrency' must be at least 1", step.span_of("concurrency"))
        if not _ID.match(step.as_):
            sink.error("E012", f"invalid loop variable name '{step.as_}'", step.span_of("as"))
        elif step.as_ in (*GLOBAL_NAMES, "index", "error"):
            sink.error(
                "E012",
                f"loop variable '{step.as_}' hides a built-in name",
                step.span_of("as"),
                "choose another name with 'as:', e.g. 'as: row'",
            )
    elif isinstance(step, ast.ParallelStep):
        if step.max_concurrency is not None and step.max_concurrency < 1:
            sink.error(
                "E012", "'max_concurrency' must be at least 1", step.span_of("max_concurrency")
            )
        if not step.branches:
            sink.error("E011", f"parallel step '{step.id}' has no branches", step.id_span)
    elif isinstance(step, ast.RepeatStep):
        if step.max_iterations < 1:
            sink.error(
                "E012", "'max_iterations' must be at least 1", step.span_of("max_iterations")
            )
    elif isinstance(step, ast.SwitchStep):
        if not step.cases and step.default is None:
            sink.error("E011", f"switch step '{step.id}' has no cases", step.id_span)
    elif isinstance(step, ast.TryStep):
        if step.catch is None and step.finally_ is None:
            sink.error(
                "E011",
                f"try step '{step.id}' needs 'catch' or 'finally'",
                step.id_span,
                "without either, use a group ('steps:') instead",
            )
    elif isinstance(step, ast.CallStep):
        if step.flow and not _FLOW_ID.match(step.flow):
            sink.error("E012", f"invalid flow id '{step.flow}' in 'call'", step.flow_span)
        elif ctx.options.flows is not None and step.flow not in ctx.options.flows:
            sink.error(
                "E204",
                f"unknown flow '{step.flow}'",
                step.flow_span,
                did_you_mean(step.flow, ctx.options.flows),
            )


def _check_sequence(ctx: CompileContext, steps: list[ast.Step]) -> None:
    """W103 for steps after an unconditional fail/return; recurse into bodies."""
    ended_by: ast.Step | None = None
    for step in steps:
        if ended_by is not None:
            ctx.sink.warning(
                "W103",
                f"step '{step.id}' can never run",
                step.id_span,
                f"'{ended_by.id}' always ends the execution before it",
            )
            ended_by = None  # one warning per unreachable run is enough
            continue
        if isinstance(step, ast.FailStep | ast.ReturnStep) and step.if_ is None:
            ended_by = step
        for body in step.bodies():
            _check_sequence(ctx, body)
