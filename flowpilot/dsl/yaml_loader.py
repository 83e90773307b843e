"""The YAML front end: ``*.flow.yaml`` source → AST with exact spans.

PyYAML's C composer gives a node graph with marks quickly; this module walks it once and builds
the AST. It never raises on user input: YAML errors, duplicate keys (which PyYAML would silently
collapse), unknown keys, missing keys and ill-shaped values all become diagnostics, and the
builder keeps going so that one run reports every problem.

Only shape is checked here. Rules that hold for both syntaxes (id patterns, cron strings, retry
settings, references, types) live in the compiler so that YAML and text get the same diagnostics.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from flowpilot.dsl import ast
from flowpilot.dsl.diagnostics import Diagnostic, DiagnosticSink, did_you_mean
from flowpilot.dsl.schema_keys import (
    FLOW_KEYS,
    INPUT_TYPES,
    KIND_KEYS,
    RETRY_KEYS,
    STEP_COMMON_KEYS,
    STEP_KIND_EXTRA_KEYS,
    TRIGGER_COMMON_KEYS,
)
from flowpilot.dsl.span import LineIndex, Span
from flowpilot.dsl.step_cache import StepCache
from flowpilot.dsl.yaml_reader import (
    FastSafeLoader,
    YamlReader,
    clamp,
    describe_node,
    explain_yaml_error,
)


def parse_yaml(
    source: str, file: str, cache: StepCache | None = None
) -> tuple[ast.Flow | None, list[Diagnostic]]:
    """Parse a YAML-form flow. Returns the AST (None when nothing usable was found) and the
    diagnostics of the YAML front end.

    ``cache`` lets successive versions of one file share the work on unchanged steps (see
    :mod:`flowpilot.dsl.step_cache`); the result is the same with or without it.
    """
    sink = DiagnosticSink()
    index = LineIndex(source)
    try:
        root = yaml.compose(source, Loader=FastSafeLoader)
    except yaml.MarkedYAMLError as exc:
        problem, mark, hint = explain_yaml_error(exc, source)
        offset = clamp(mark.index if mark else 0, source)
        span = index.span(file, offset, clamp(offset + 1, source))
        if problem == "the flow is nested too deeply":
            sink.error("E012", problem, span, hint)  # valid YAML, just beyond our limits
        else:
            sink.error("E001", f"YAML syntax error: {problem}", span, hint)
        return None, sink.items
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        offset = clamp(exc.position, source)
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        sink.error(
            "E001",
            f"YAML syntax error: control character U+{ord(char):04X} is not allowed",
            index.span(file, offset, clamp(offset + 1, source)),
            "remove it, or write it as an escape inside a double-quoted string",
        )
        return None, sink.items
    except yaml.YAMLError as exc:
        sink.error("E001", f"YAML syntax error: {exc}", index.span(file, 0, 0))
        return None, sink.items
    except RecursionError:
        sink.error("E012", "the flow is nested too deeply to compile", index.span(file, 0, 0))
        return None, sink.items
    builder = _Builder(source, file, index, sink)
    builder.cache = cache
    try:
        flow = builder.flow(root)
    except RecursionError:
        sink.error("E012", "the flow is nested too deeply to compile", index.span(file, 0, 0))
        return None, sink.items
    if cache is not None:
        cache.end_build()
    return flow, sink.items


class _Builder(YamlReader):
    """Builds the flow's AST from the composed YAML graph, in one walk."""

    cache: StepCache | None = None

    # ------------------------------------------------------------------ flow

    def flow(self, root: Node | None) -> ast.Flow | None:
        if root is None:
            self.sink.error(
                "E011",
                "the file is empty: a flow needs at least 'flow' and 'steps'",
                self.index.span(self.file, 0, 0),
            )
            return None
        pairs = self.mapping(root, "a flow")
        if pairs is None:
            return None
        flow = ast.Flow(id="", span=self.span(root), syntax="yaml")
        flow.comments = self.comments.leading(root.start_mark.line + 1)
        if self.comments.any:
            line = root.start_mark.line + 1
            notes = self.key_comments(pairs, owner_line=line, owner_trailing=False) or {}
            end = self.comments.after(_last_content_line(root))
            if end:
                notes["$end"] = end
            flow.yaml_comments = notes or None
        seen: set[str] = set()
        for key, value in pairs:
            name = key.value
            handler = _FLOW_HANDLERS.get(name)
            if handler is None:
                self.unknown_key(key, FLOW_KEYS, "the flow")
                continue
            seen.add(name)
            handler(self, flow, key, value)
        for required in ("flow", "steps"):
            if required not in seen:
                self.sink.error(
                    "E011",
                    f"missing required key '{required}'",
                    Span(self.file, 1, 1, 1, 1, 0, 0),
                    "every flow needs 'flow: <id>' and a non-empty 'steps:' list",
                )
        return flow

    def _flow_id(self, flow: ast.Flow, key: ScalarNode, node: Node) -> None:
        text = self.string(node, "'flow'")
        if text is not None:
            flow.id = text
            flow.id_span = self.span(node)

    def _flow_dsl(self, flow: ast.Flow, key: ScalarNode, node: Node) -> None:
        version = self.integer(node, "'dsl'")
        if version is not None:
            flow.dsl = version
            flow.set_field_span("dsl", self.span(node))

    def _flow_text(self, flow: ast.Flow, key: ScalarNode, node: Node) -> None:
        text = self.string(node, f"'{key.value}'")
        setattr(flow, key.value, text)

    def _flow_labels(self, flow: ast.Flow, key: ScalarNode, node: Node) -> None:
        pairs = self.mapping(node, "'labels'") or []
        for k, v in pairs:
            text = self.string(v, f"label '{k.value}'")
            if text is not None:
                flow.labels[k.value] = text
        self._nested_comments(flow, "labels", node, pairs)

    def _nested_comments(
        self, owner: ast.Node, prefix: str, node: Node, pairs: list[tuple[ScalarNode, Node]]
    ) -> None:
        """Keep comments on the keys of a mapping that has no node of its own (labels, a
        flow-style retry …) on its owner, under ``prefix.key``."""
        if not self.comments.any or not pairs:
            return
        notes = self.mapping_comments(node, pairs)
        if notes:
            found = owner.yaml_comments if owner.yaml_comments is not None else {}
            found.update({f"{prefix}.{k}": v for k, v in notes.items()})
            owner.yaml_comments = found

    def _flow_inputs(self, flow: ast.Flow, key: ScalarNode, node: Node) -> None:
        for k, v in self.mapping(node, "'inputs'") or ():
            decl = self.input_decl(k, v)
            if decl is not None:
                decl.yaml_comments = self.decl_comments(k)
                flow.inputs.append(decl)

    def _flow_vars(self, flow: ast.Flow, key: ScalarNode, node: Node) -> None:
        for k, v in self.mapping(node, "'vars'") or ():
            decl = ast.VarDecl(name=k.value, value=self.value(v), span=self.span(k))
            decl.yaml_comments = self.decl_comments(k)
            flow.vars.append(decl)

    def _flow_outputs(self, flow: ast.Flow, key: ScalarNode, node: Node) -> None:
        for k, v in self.mapping(node, "'outputs'") or ():
            decl = ast.OutputDecl(name=k.value, value=self.value(v), span=self.span(k))
            decl.yaml_comments = self.decl_comments(k)
            flow.outputs.append(decl)

    def _flow_triggers(self, flow: ast.Flow, key: ScalarNode, node: Node) -> None:
        if not isinstance(node, SequenceNode):
            self.sink.error(
                "E012", f"'triggers' must be a list, found {describe_node(node)}", self.span(node)
            )
            return
        for item in node.value:
            trigger = self.trigger(item)
            if trigger is not None:
                if self.comments.any:
                    above = self.node_comments(item) or {}
                    trigger.yaml_comments = {**(trigger.yaml_comments or {}), **above} or None
                flow.triggers.append(trigger)

    def _flow_defaults(self, flow: ast.Flow, key: ScalarNode, node: Node) -> None:
        defaults = ast.Defaults(span=self.span(node))
        pairs = self.mapping(node, "'defaults'") or []
        if self.comments.any:
            defaults.yaml_comments = self.mapping_comments(node, pairs)
        for k, v in pairs:
            if k.value == "timeout":
                defaults.timeout = self.duration(v, "'defaults.timeout'")
            elif k.value == "retry":
                defaults.retry = self.retry(v)
            else:
                self.unknown_key(k, ("timeout", "retry"), "'defaults'")
        flow.defaults = defaults

    def _flow_timeout(self, flow: ast.Flow, key: ScalarNode, node: Node) -> None:
        flow.timeout = self.duration(node, "the flow 'timeout'")

    def _flow_concurrency(self, flow: ast.Flow, key: ScalarNode, node: Node) -> None:
        if isinstance(node, ScalarNode):
            limit = self.integer(node, "'concurrency'")
            if limit is not None:
                flow.concurrency = ast.Concurrency(limit=limit, span=self.span(node))
            return
        limit, on_limit = None, "queue"
        concurrency = ast.Concurrency(limit=1, span=self.span(node))
        pairs = self.mapping(node, "'concurrency'") or []
        self._nested_comments(flow, "concurrency", node, pairs)
        for k, v in pairs:
            if k.value == "limit":
                limit = self.integer(v, "'concurrency.limit'")
            elif k.value == "on_limit":
                on_limit = self.string(v, "'concurrency.on_limit'") or "queue"
            else:
                self.unknown_key(k, ("limit", "on_limit"), "'concurrency'")
                continue
            concurrency.set_field_span(k.value, self.span(v))
        if limit is None:
            self.sink.error("E011", "'concurrency' needs a 'limit'", self.span(node))
            return
        concurrency.limit, concurrency.on_limit = limit, on_limit
        flow.concurrency = concurrency

    def _flow_steps(self, flow: ast.Flow, key: ScalarNode, node: Node) -> None:
        steps = self.steps(node, "'steps'", top_level=True)
        if steps is not None:
            flow.steps = steps
            if not steps and isinstance(node, SequenceNode) and not node.value:
                self.sink.error(
                    "E012", "'steps' must not be empty", self.span(node), "add at least one step"
                )

    def _flow_catch(self, flow: ast.Flow, key: ScalarNode, node: Node) -> None:
        flow.catch = self.steps(node, "'catch'")

    def _flow_finally(self, flow: ast.Flow, key: ScalarNode, node: Node) -> None:
        flow.finally_ = self.steps(node, "'finally'")

    # ------------------------------------------------------------------ declarations

    def input_decl(self, key: ScalarNode, node: Node) -> ast.InputDecl | None:
        span = self.span(key)
        if isinstance(node, ScalarNode):
            text = self.string(node, f"input '{key.value}'")
            if text is None:
                return None
            parsed = parse_type_shorthand(text)
            if parsed is None:
                self._bad_input_type(text, node)
                parsed = ("any", not text.endswith("?"), {})
            typ, required, options = parsed
            return ast.InputDecl(
                name=key.value, type=typ, required=required, options=options, span=span
            )
        decl = ast.InputDecl(name=key.value, type="any", span=span)
        type_seen = False
        for k, v in self.mapping(node, f"input '{key.value}'") or ():
            name = k.value
            if name == "type":
                text = self.string(v, "'type'")
                if text is None:
                    continue
                parsed = parse_type_shorthand(text)
                if parsed is None:
                    self._bad_input_type(text, v)
                    type_seen = True
                    continue
                decl.type, required, options = parsed
                decl.options.update(options)
                if not required:
                    decl.required = False
                type_seen = True
            elif name == "required":
                flag = self.boolean(v, "'required'")
                if flag is not None:
                    decl.required = flag
            elif name == "default":
                decl.default = self.value(v)
            elif name == "description":
                decl.description = self.string(v, "'description'")
            else:
                decl.options[name] = self.plain(v)
                decl.set_field_span(name, self.span(k))
        if not type_seen and "items" not in decl.options and "properties" not in decl.options:
            decl.type = "any"
        return decl

    def _bad_input_type(self, text: str, node: Node) -> None:
        self.sink.error(
            "E012",
            f"unknown input type '{text}'",
            self.span(node),
            did_you_mean(text.rstrip("?[]"), INPUT_TYPES)
            or f"use one of {', '.join(INPUT_TYPES)} (with '[]' for a list, '?' if optional)",
        )

    def trigger(self, node: Node) -> ast.Trigger | None:
        pairs = self.mapping(node, "a trigger")
        if pairs is None:
            return None
        trigger = ast.Trigger(id="", type="", span=self.span(node))
        config: list[ast.Entry] = []
        for k, v in pairs:
            if k.value == "id":
                trigger.id = self.string(v, "trigger 'id'") or ""
                trigger.id_span = self.span(v)
            elif k.value == "type":
                trigger.type = self.string(v, "trigger 'type'") or ""
                trigger.set_field_span("type", self.span(v))
            elif k.value == "inputs":
                trigger.inputs = self.map_value(v, "trigger 'inputs'")
            else:
                config.append(ast.Entry(key=k.value, value=self.value(v), span=self.span(k)))
        trigger.config = ast.MapValue(entries=config, span=trigger.span)
        if self.comments.any:
            trigger.yaml_comments = self.key_comments(pairs, owner_line=node.start_mark.line + 1)
        for required in TRIGGER_COMMON_KEYS:
            if not getattr(trigger, required):
                self.sink.error("E011", f"trigger is missing '{required}'", trigger.span)
        return trigger

    def retry(self, node: Node) -> ast.Retry | None:
        if isinstance(node, ScalarNode):
            attempts = self.integer(node, "'retry'")
            if attempts is None:
                return None
            retry = ast.Retry(max_attempts=attempts, span=self.span(node))
            retry.set_field_span("max_attempts", self.span(node))
            return retry
        retry = ast.Retry(span=self.span(node))
        pairs = self.mapping(node, "'retry'") or []
        if self.comments.any:
            retry.yaml_comments = self.mapping_comments(node, pairs)
        for k, v in pairs:
            name = k.value
            retry.set_field_span(name, self.span(v))
            if name == "max_attempts":
                retry.max_attempts = self.integer(v, "'retry.max_attempts'")
            elif name == "backoff":
                retry.backoff = self.string(v, "'retry.backoff'")
            elif name in ("delay", "max_delay"):
                setattr(retry, name, self.duration(v, f"'retry.{name}'"))
            elif name == "factor":
                retry.factor = self.number(v, "'retry.factor'")
            elif name == "jitter":
                retry.jitter = self.boolean(v, "'retry.jitter'")
            elif name == "retry_on":
                if isinstance(v, SequenceNode):
                    retry.retry_on = [
                        s for s in (self.string(i, "'retry_on' item") for i in v.value) if s
                    ]
                else:
                    text = self.string(v, "'retry.retry_on'")
                    retry.retry_on = [text] if text else None
            else:
                self.unknown_key(k, RETRY_KEYS, "'retry'")
        return retry

    # ------------------------------------------------------------------ steps

    def steps(self, node: Node, what: str, *, top_level: bool = False) -> list[ast.Step] | None:
        if not isinstance(node, SequenceNode):
            if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
                return []
            self.sink.error(
                "E012",
                f"{what} must be a list of steps, found {describe_node(node)}",
                self.span(node),
            )
            return None
        out = []
        build = self.cached_step if top_level and self.cache is not None else self.step
        for item in node.value:
            step = build(item)
            if step is not None:
                out.append(step)
        return out

    def cached_step(self, node: Node) -> ast.Step | None:
        """:meth:`step` through the step cache (the key is explained in ``step_cache``)."""
        cache = self.cache
        assert cache is not None
        source = self.source
        comments = self.comments
        first = node.start_mark.line  # 0-based; walk up over blank and comment-only lines
        while first > 0 and (first in comments.blank_lines or first in comments.full_lines):
            first -= 1
        start = self.index.line_start(first)
        end = node.end_mark.index
        if end > start and source[end - 1] != "\n":
            stop = source.find("\n", end)
            end = len(source) if stop == -1 else stop + 1
        text = source[start:end]
        if "*" in text and "&" in source:
            return self.step(node)  # may use an alias: its content is written elsewhere
        key = (self.file, comments.any, node.start_mark.index - start, text)
        step = cache.get(key, first, start)
        if step is not None:
            return step
        before = len(self.sink.items)
        step = self.step(node)
        if step is not None and len(self.sink.items) == before:
            cache.put(key, step, first, start)
        return step

    def step(self, node: Node) -> ast.Step | None:
        keys = self.keyed(node, "a step")
        if keys is None:
            return None
        span = self.span(node)
        kinds = [k for k in keys if k in KIND_KEYS]
        if not kinds and "steps" in keys:
            kinds = ["steps"]
        step_id = ""
        id_span = span
        if "id" in keys:
            id_node = keys["id"][1]
            step_id = self.string(id_node, "step 'id'") or ""
            id_span = self.span(id_node)
        else:
            self.sink.error(
                "E011",
                "step is missing 'id'",
                self.span(next(iter(keys.values()))[0]) if keys else span,
                "give every step a unique id, e.g. 'id: fetch_orders'",
            )
        if len(kinds) != 1:
            label = f"step '{step_id}'" if step_id else "a step"
            if not kinds:
                self.sink.error(
                    "E010",
                    f"{label} has no kind key",
                    id_span,
                    "add exactly one of: "
                    + ", ".join(["uses", "steps", *sorted(KIND_KEYS - {"uses"})]),
                )
                return None
            self.sink.error(
                "E010",
                f"{label} has several kind keys: {', '.join(kinds)}",
                self.span(keys[kinds[1]][0]),
                "a step does exactly one thing; split it into several steps",
            )
            return None
        kind = kinds[0]
        allowed = _ALLOWED_STEP_KEYS[kind]
        if not keys.keys() <= allowed:
            label = f"step '{step_id}'" if step_id else "a step"
            for name, (k, _) in keys.items():
                if name not in allowed:
                    self.unknown_key(k, allowed, label)
        step = _STEP_BUILDERS[kind](self, keys, step_id, span)
        if step is None:
            return None
        step.id_span = id_span
        comments = self.comments
        if comments.any:
            line = node.start_mark.line + 1
            step.comments = comments.for_node(line)
            notes = self.key_comments(list(keys.values()), owner_line=line) or {}
            if comments.blank_before(line):
                notes["\n"] = []
            loose = comments.loose(line)
            if loose:
                notes["~"] = loose
            step.yaml_comments = notes or None
        self.common(step, keys)
        return step

    def common(self, step: ast.Step, keys: dict[str, tuple[ScalarNode, Node]]) -> None:
        if keys.keys().isdisjoint(_STEP_SETTINGS):
            return  # only the id and the kind's own keys
        for name, (_, v) in keys.items():
            if name in ("name", "description"):
                setattr(step, name, self.string(v, f"'{name}'"))
            elif name == "if":
                step.if_ = self.value(v)
            elif name == "timeout":
                step.timeout = self.duration(v, "step 'timeout'")
            elif name == "retry":
                step.retry = self.retry(v)
            elif name == "continue_on_error":
                step.continue_on_error = self.boolean(v, "'continue_on_error'")
            elif name == "mock":
                step.mock = self.value(v)

    def body(self, keys: dict[str, tuple[ScalarNode, Node]], key: str, label: str) -> list:
        if key not in keys:
            self.sink.error(
                "E011", f"{label} needs a '{key}' list", self.span(keys[next(iter(keys))][0])
            )
            return []
        return self.steps(keys[key][1], f"'{key}'") or []

    def _uses(self, keys, step_id, span):  # type: ignore[no-untyped-def]
        node = keys["uses"][1]
        uses = self.string(node, "'uses'") or ""
        args = self.map_value(keys["with"][1], "'with'") if "with" in keys else None
        return ast.UsesStep(id=step_id, uses=uses, uses_span=self.span(node), args=args, span=span)

    def _group(self, keys, step_id, span):  # type: ignore[no-untyped-def]
        return ast.GroupStep(id=step_id, steps=self.body(keys, "steps", "a group"), span=span)

    def _parallel(self, keys, step_id, span):  # type: ignore[no-untyped-def]
        step = ast.ParallelStep(
            id=step_id, branches=self.steps(keys["parallel"][1], "'parallel'") or [], span=span
        )
        if "fail_fast" in keys:
            step.fail_fast = self.boolean(keys["fail_fast"][1], "'fail_fast'")
        if "max_concurrency" in keys:
            step.max_concurrency = self.integer(keys["max_concurrency"][1], "'max_concurrency'")
            step.set_field_span("max_concurrency", self.span(keys["max_concurrency"][1]))
        return step

    def _switch(self, keys, step_id, span):  # type: ignore[no-untyped-def]
        step = ast.SwitchStep(id=step_id, span=span)
        node = keys["switch"][1]
        if not isinstance(node, SequenceNode):
            self.sink.error(
                "E012",
                f"'switch' must be a list of cases, found {describe_node(node)}",
                self.span(node),
            )
            return step
        for item in node.value:
            pairs = self.mapping(item, "a switch case")
            if pairs is None:
                continue
            case = {k.value: (k, v) for k, v in pairs}
            if step.default is not None:
                # Reported, and the case is still read so its own problems show too.
                self.sink.error(
                    "E010",
                    "'default' must be the last case of a switch",
                    self.span(pairs[0][0]) if pairs else self.span(item),
                    "move the default case to the end; only one is allowed",
                )
                if "default" in case:
                    step.default.extend(self.steps(case["default"][1], "'default'") or [])
                    continue
            if "default" in case:
                for name, (k, _) in case.items():
                    if name != "default":
                        self.unknown_key(k, ("default",), "a default case")
                step.default = self.steps(case["default"][1], "'default'") or []
                continue
            if "when" not in case:
                self.sink.error(
                    "E011",
                    "switch case needs 'when' (or 'default')",
                    self.span(item),
                    "write '- when: ${{ <condition> }}' followed by 'steps:'",
                )
                continue
            for name, (k, _) in case.items():
                if name not in ("when", "steps"):
                    self.unknown_key(k, ("when", "steps"), "a switch case")
            body = self.steps(case["steps"][1], "'steps'") if "steps" in case else None
            if body is None and "steps" not in case:
                self.sink.error("E011", "switch case needs 'steps'", self.span(case["when"][0]))
            switch_case = ast.SwitchCase(
                when=self.value(case["when"][1]), steps=body or [], span=self.span(item)
            )
            if self.comments.any:
                switch_case.yaml_comments = self.node_comments(item)
            step.cases.append(switch_case)
        return step

    def _foreach(self, keys, step_id, span):  # type: ignore[no-untyped-def]
        step = ast.ForeachStep(
            id=step_id,
            items=self.value(keys["foreach"][1]),
            steps=self.body(keys, "steps", "'foreach'"),
            span=span,
        )
        if "as" in keys:
            step.as_ = self.string(keys["as"][1], "'as'") or "item"
            step.set_field_span("as", self.span(keys["as"][1]))
        if "concurrency" in keys:
            step.concurrency = self.integer(keys["concurrency"][1], "'concurrency'")
            step.set_field_span("concurrency", self.span(keys["concurrency"][1]))
        if "collect" in keys:
            step.collect = self.value(keys["collect"][1])
        return step

    def _repeat(self, keys, step_id, span):  # type: ignore[no-untyped-def]
        node = keys["repeat"][1]
        until: ast.Value | None = None
        max_iterations: int | None = None
        delay = None
        spans: dict[str, Span] = {}
        for k, v in self.mapping(node, "'repeat'") or ():
            spans[k.value] = self.span(v)
            if k.value == "until":
                until = self.value(v)
            elif k.value == "max_iterations":
                max_iterations = self.integer(v, "'max_iterations'")
            elif k.value == "delay":
                delay = self.duration(v, "'repeat.delay'")
            else:
                self.unknown_key(k, ("until", "max_iterations", "delay"), "'repeat'")
        for name, found in (("until", until), ("max_iterations", max_iterations)):
            if found is None and isinstance(node, MappingNode):
                self.sink.error(
                    "E011",
                    f"'repeat' needs '{name}'",
                    self.span(keys["repeat"][0]),
                    "repeat: { until: ${{ <condition> }}, max_iterations: 10 }",
                )
        return ast.RepeatStep(
            id=step_id,
            until=until or ast.Scalar(value=True, span=self.span(node)),
            max_iterations=max_iterations if max_iterations is not None else 1,
            delay=delay,
            steps=self.body(keys, "steps", "'repeat'"),
            span=span,
            field_spans=spans,
        )

    def _try(self, keys, step_id, span):  # type: ignore[no-untyped-def]
        step = ast.TryStep(id=step_id, try_=self.steps(keys["try"][1], "'try'") or [], span=span)
        if "catch" in keys:
            step.catch = self.steps(keys["catch"][1], "'catch'") or []
        if "finally" in keys:
            step.finally_ = self.steps(keys["finally"][1], "'finally'") or []
        return step

    def _wait(self, keys, step_id, span):  # type: ignore[no-untyped-def]
        node = keys["wait"][1]
        step = ast.WaitStep(id=step_id, span=span)
        if isinstance(node, MappingNode):
            for k, v in self.mapping(node, "'wait'") or ():
                if k.value == "until":
                    step.until = self.value(v)
                else:
                    self.unknown_key(k, ("until",), "'wait'")
            if step.until is None:
                self.sink.error("E011", "'wait' needs 'until' or a duration", self.span(node))
        else:
            step.duration = self.duration(node, "'wait'")
        return step

    def _call(self, keys, step_id, span):  # type: ignore[no-untyped-def]
        node = keys["call"][1]
        args = self.map_value(keys["with"][1], "'with'") if "with" in keys else None
        return ast.CallStep(
            id=step_id,
            flow=self.string(node, "'call'") or "",
            flow_span=self.span(node),
            args=args,
            span=span,
        )

    def _set(self, keys, step_id, span):  # type: ignore[no-untyped-def]
        values = self.map_value(keys["set"][1], "'set'")
        return ast.SetStep(id=step_id, values=values or ast.MapValue(), span=span)

    def _fail(self, keys, step_id, span):  # type: ignore[no-untyped-def]
        node = keys["fail"][1]
        if isinstance(node, ScalarNode):
            return ast.FailStep(id=step_id, message=self.value(node), span=span)
        message: ast.Value | None = None
        error_type: ast.Value | None = None
        for k, v in self.mapping(node, "'fail'") or ():
            if k.value == "message":
                message = self.value(v)
            elif k.value == "type":
                error_type = self.value(v)
            else:
                self.unknown_key(k, ("message", "type"), "'fail'")
        if message is None:
            self.sink.error("E011", "'fail' needs a 'message'", self.span(node))
            message = ast.Scalar(value="failed", span=self.span(node))
        return ast.FailStep(id=step_id, message=message, type=error_type, span=span)

    def _return(self, keys, step_id, span):  # type: ignore[no-untyped-def]
        node = keys["return"][1]
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return ast.ReturnStep(id=step_id, span=span)
        values = self.map_value(node, "'return'")
        return ast.ReturnStep(id=step_id, values=values or ast.MapValue(), span=span)


_FLOW_HANDLERS = {
    "flow": _Builder._flow_id,
    "dsl": _Builder._flow_dsl,
    "name": _Builder._flow_text,
    "description": _Builder._flow_text,
    "labels": _Builder._flow_labels,
    "inputs": _Builder._flow_inputs,
    "vars": _Builder._flow_vars,
    "triggers": _Builder._flow_triggers,
    "defaults": _Builder._flow_defaults,
    "timeout": _Builder._flow_timeout,
    "concurrency": _Builder._flow_concurrency,
    "steps": _Builder._flow_steps,
    "catch": _Builder._flow_catch,
    "finally": _Builder._flow_finally,
    "outputs": _Builder._flow_outputs,
}

# The settings every kind of step may have, read by `common`.
_STEP_SETTINGS = STEP_COMMON_KEYS - {"id"}

# What a step of each kind may contain, computed once rather than per step.
_ALLOWED_STEP_KEYS = {
    kind: STEP_COMMON_KEYS | {kind} | STEP_KIND_EXTRA_KEYS[kind] for kind in STEP_KIND_EXTRA_KEYS
}

_STEP_BUILDERS = {
    "uses": _Builder._uses,
    "steps": _Builder._group,
    "parallel": _Builder._parallel,
    "switch": _Builder._switch,
    "foreach": _Builder._foreach,
    "repeat": _Builder._repeat,
    "try": _Builder._try,
    "wait": _Builder._wait,
    "call": _Builder._call,
    "set": _Builder._set,
    "fail": _Builder._fail,
    "return": _Builder._return,
}


def _last_content_line(node: Node) -> int:
    """The 1-based line where the document's content ends (block collections end at the
    next token, which may lie after trailing comments)."""
    while isinstance(node, MappingNode | SequenceNode) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, MappingNode) else last
    end = node.end_mark
    return end.line + 1 if end.column else end.line


def parse_type_shorthand(text: str) -> tuple[str, bool, dict[str, Any]] | None:
    """``string``, ``string?``, ``number[]``, ``file[]?`` → (type, required, options)."""
    text = text.strip()
    required = not text.endswith("?")
    base = text.rstrip("?").strip()
    if base.endswith("[]"):
        item = base[:-2].strip()
        if item not in INPUT_TYPES:
            return None
        return "array", required, {"items": {"type": item}}
    if base not in INPUT_TYPES:
        return None
    return base, required, {}
