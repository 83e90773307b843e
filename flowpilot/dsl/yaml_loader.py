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
from flowpilot.dsl.comments import CommentIndex
from flowpilot.dsl.diagnostics import Diagnostic, DiagnosticSink, did_you_mean
from flowpilot.dsl.durations import parse_duration
from flowpilot.dsl.expressions import parse_value_string
from flowpilot.dsl.schema_keys import (
    FLOW_KEYS,
    INPUT_TYPES,
    KIND_KEYS,
    RETRY_KEYS,
    STEP_COMMON_KEYS,
    STEP_KIND_EXTRA_KEYS,
    TRIGGER_COMMON_KEYS,
)
from flowpilot.dsl.span import LineIndex, Origin, Span

try:  # the C composer is ~10x faster; fall back only where libyaml is missing
    _Base: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _Base = yaml.SafeLoader

_TAGS: dict[tuple[str, bool, bool], str] = {}


class _Loader(_Base):  # type: ignore[misc,valid-type]
    """The safe loader with scalar tag resolution memoised.

    Even with libyaml, tag resolution runs in Python once per scalar and tries several
    regular expressions each time; flows repeat the same keys and values, so a dict of past
    answers removes most of that work. The answers are the safe resolver's own.
    """

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is not ScalarNode:
            return super().resolve(kind, value, implicit)
        key = (value, implicit[0], implicit[1])
        tag = _TAGS.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(_TAGS) < 100_000:
                _TAGS[key] = tag
        return tag


_STR = "tag:yaml.org,2002:str"
_INF = float("inf")
_constructor = yaml.constructor.SafeConstructor()


def parse_yaml(source: str, file: str) -> tuple[ast.Flow | None, list[Diagnostic]]:
    """Parse a YAML-form flow. Returns the AST (None when nothing usable was found) and the
    diagnostics of the YAML front end."""
    sink = DiagnosticSink()
    index = LineIndex(source)
    try:
        root = yaml.compose(source, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        problem, mark, hint = _explain_yaml_error(exc, source)
        offset = _clamp(mark.index if mark else 0, source)
        span = index.span(file, offset, _clamp(offset + 1, source))
        if problem == "the flow is nested too deeply":
            sink.error("E012", problem, span, hint)  # valid YAML, just beyond our limits
        else:
            sink.error("E001", f"YAML syntax error: {problem}", span, hint)
        return None, sink.items
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        offset = _clamp(exc.position, source)
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        sink.error(
            "E001",
            f"YAML syntax error: control character U+{ord(char):04X} is not allowed",
            index.span(file, offset, _clamp(offset + 1, source)),
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
    try:
        flow = builder.flow(root)
    except RecursionError:
        sink.error("E012", "the flow is nested too deeply to compile", index.span(file, 0, 0))
        return None, sink.items
    return flow, sink.items


def _explain_yaml_error(exc: yaml.MarkedYAMLError, source: str) -> tuple[str, Any, str | None]:
    """PyYAML's message turned into (problem, where, hint) a person can act on."""
    problem = exc.problem or exc.context or "invalid YAML"
    mark = exc.problem_mark or exc.context_mark
    hint = None
    if exc.context and exc.context_mark and mark is not exc.context_mark:
        hint = f"{exc.context} (line {exc.context_mark.line + 1})"
    context = exc.context or ""
    if "end of stream" in problem and "quoted scalar" in context and exc.context_mark:
        quote = source[exc.context_mark.index : exc.context_mark.index + 1] or '"'
        return (
            f"unclosed quoted string (found end of file before the closing '{quote}')",
            exc.context_mark,
            f"add the closing {quote}",
        )
    line_text = ""
    if mark is not None:
        start = source.rfind("\n", 0, mark.index) + 1
        end = source.find("\n", mark.index)
        line_text = source[start : end if end != -1 else len(source)]
    if "cannot start any token" in problem and "\t" in line_text:
        return "tabs are not allowed for indentation", mark, "indent with spaces"
    if ("flow mapping" in context or "flow sequence" in context) and "${{" in line_text:
        hint = 'inside { … } or [ … ] an expression must be quoted: key: "${{ expr }}"'
    if "nesting depth" in problem:
        return "the flow is nested too deeply", mark, None
    if "expected '<document start>'" in problem or "another document" in problem:
        return "a flow file holds one YAML document; remove the extra '---'", mark, None
    return problem, mark, hint


def _clamp(offset: int, source: str) -> int:
    return max(0, min(offset, len(source)))


class _Builder:
    """Walks the composed YAML graph once and builds the AST."""

    def __init__(self, source: str, file: str, index: LineIndex, sink: DiagnosticSink) -> None:
        self.source = source
        self.file = file
        self.index = index
        self.sink = sink
        self.comments = CommentIndex(source)

    # ------------------------------------------------------------------ positions

    def span(self, node: Node) -> Span:
        start, end = node.start_mark, node.end_mark
        if node.__class__ is not ScalarNode and end.index > start.index:
            text = self.source
            stop = end.index
            if text[stop - 1] in " \t\r\n":
                # Block collections end where the next token starts: trim the blank run.
                while stop > start.index and text[stop - 1] in " \t\r\n":
                    stop -= 1
                end_line, end_col = self.index.position(stop)
                return Span(
                    self.file,
                    start.line + 1,
                    start.column + 1,
                    end_line,
                    end_col,
                    start.index,
                    stop,
                )
        return Span(
            self.file,
            start.line + 1,
            start.column + 1,
            end.line + 1,
            end.column + 1,
            start.index,
            end.index,
        )

    def origin(self, node: ScalarNode, span: Span) -> Origin:
        """Where the scalar's *value* starts in the file, or a fallback span when the value was
        unescaped or folded and its characters no longer line up with the source."""
        start, end = node.start_mark.index, node.end_mark.index
        value = node.value
        if node.style in ("'", '"'):
            start += 1
            end -= 1
        elif node.style not in ("", None):
            return Origin(self.file, span.line, span.column, span.start, fallback=span)
        if self.source[start:end] == value:
            line, col = (
                (span.line, span.column + 1)
                if node.style in ("'", '"')
                else (
                    span.line,
                    span.column,
                )
            )
            return Origin(self.file, line, col, start)
        return Origin(self.file, span.line, span.column, span.start, fallback=span)

    # ------------------------------------------------------------------ generic values

    def mapping(self, node: Node, what: str) -> list[tuple[ScalarNode, Node]] | None:
        """The (key, value) pairs of a mapping, duplicates reported and dropped."""
        if not isinstance(node, MappingNode):
            self.sink.error(
                "E012", f"{what} must be a mapping, found {_describe(node)}", self.span(node)
            )
            return None
        seen: dict[str, ScalarNode] = {}
        pairs: list[tuple[ScalarNode, Node]] = []
        for key, value in node.value:
            if not isinstance(key, ScalarNode):
                self.sink.error("E012", f"keys in {what} must be plain strings", self.span(key))
                continue
            if key.value in seen:
                first = seen[key.value].start_mark.line + 1
                self.sink.error(
                    "E001",
                    f"duplicate key '{key.value}' in {what} (first defined on line {first})",
                    self.span(key),
                    "YAML keys must be unique; remove or rename one of them",
                )
                continue
            seen[key.value] = key
            pairs.append((key, value))
        return pairs

    def key_comments(
        self, pairs: list[tuple[ScalarNode, Node]], skip_first: bool = False
    ) -> dict[str, list[str]] | None:
        """Comments above (or beside) each key of a mapping, for ``fmt`` to put back."""
        found: dict[str, list[str]] | None = None
        comments = self.comments
        for i, (key, value) in enumerate(pairs):
            line = key.start_mark.line + 1
            notes = [] if (skip_first and i == 0) else comments.leading(line)
            if not isinstance(value, MappingNode | SequenceNode) or value.flow_style:
                notes = notes + comments.trailing(line) if not (skip_first and i == 0) else notes
            if notes:
                if found is None:
                    found = {}
                found[key.value] = notes
        return found

    def decl_comments(self, key: ScalarNode) -> dict[str, list[str]] | None:
        if not self.comments.any:
            return None
        line = key.start_mark.line + 1
        notes = self.comments.leading(line) + self.comments.trailing(line)
        return {"": notes} if notes else None

    def node_comments(self, node: Node, *, blank: bool = False) -> dict[str, list[str]] | None:
        """Comments above a node that is an item of a list or mapping ("" key)."""
        line = node.start_mark.line + 1
        notes = self.comments.leading(line)
        found: dict[str, list[str]] = {"": notes} if notes else {}
        if blank and self.comments.blank_before(line):
            found["\n"] = []
        return found or None

    def plain(self, node: Node) -> Any:
        """A YAML node as plain Python data (for options such as input ``enum`` lists)."""
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if isinstance(node, SequenceNode):
            return [self.plain(n) for n in node.value]
        if isinstance(node, MappingNode):
            return {str(k.value): self.plain(v) for k, v in node.value}
        return None

    def scalar(self, node: ScalarNode) -> Any:
        if node.tag == _STR:
            return node.value
        if node.tag == "tag:yaml.org,2002:timestamp":
            return node.value  # dates stay text; the expression functions parse them
        constructor = _constructor.yaml_constructors.get(node.tag)
        if constructor is None:
            return node.value
        try:
            return constructor(_constructor, node)
        except (ValueError, yaml.YAMLError):
            return node.value

    def value(self, node: Node) -> ast.Value:
        span = self.span(node)
        if isinstance(node, ScalarNode):
            data = self.scalar(node)
            if isinstance(data, str):
                if "${{" not in data:
                    return ast.Scalar(value=data, span=span)
                return parse_value_string(data, self.origin(node, span), self.sink, span)
            if isinstance(data, float) and (data != data or data in (_INF, -_INF)):
                self.sink.error("E012", f"'{node.value}' is not a valid value (not JSON)", span)
                return ast.Scalar(value=None, span=span)
            return ast.Scalar(value=data, span=span)
        if isinstance(node, SequenceNode):
            return ast.ListValue(items=[self.value(n) for n in node.value], span=span)
        entries = []
        pairs = self.mapping(node, "a mapping") or []
        for key, val in pairs:
            entries.append(ast.Entry(key=key.value, value=self.value(val), span=self.span(key)))
        mapping = ast.MapValue(entries=entries, span=span)
        if self.comments.any and not node.flow_style:
            mapping.yaml_comments = self.key_comments(pairs)
        return mapping

    def map_value(self, node: Node, what: str) -> ast.MapValue | None:
        if not isinstance(node, MappingNode):
            self.sink.error(
                "E012", f"{what} must be a mapping, found {_describe(node)}", self.span(node)
            )
            return None
        value = self.value(node)
        return value if isinstance(value, ast.MapValue) else None

    def string(self, node: Node, what: str) -> str | None:
        if isinstance(node, ScalarNode) and node.tag in (_STR, "tag:yaml.org,2002:int"):
            return node.value
        if isinstance(node, ScalarNode) and node.tag != "tag:yaml.org,2002:null":
            return node.value
        self.sink.error(
            "E012", f"{what} must be a string, found {_describe(node)}", self.span(node)
        )
        return None

    def integer(self, node: Node, what: str) -> int | None:
        data = self.scalar(node) if isinstance(node, ScalarNode) else None
        if isinstance(data, int) and not isinstance(data, bool):
            return data
        self.sink.error(
            "E012", f"{what} must be an integer, found {_describe(node)}", self.span(node)
        )
        return None

    def number(self, node: Node, what: str) -> int | float | None:
        data = self.scalar(node) if isinstance(node, ScalarNode) else None
        if isinstance(data, int | float) and not isinstance(data, bool):
            return data
        self.sink.error(
            "E012", f"{what} must be a number, found {_describe(node)}", self.span(node)
        )
        return None

    def boolean(self, node: Node, what: str) -> bool | None:
        data = self.scalar(node) if isinstance(node, ScalarNode) else None
        if isinstance(data, bool):
            return data
        self.sink.error(
            "E012", f"{what} must be true or false, found {_describe(node)}", self.span(node)
        )
        return None

    def duration(self, node: Node, what: str) -> ast.Duration | None:
        span = self.span(node)
        if isinstance(node, ScalarNode):
            text = node.value.strip()
            data = self.scalar(node)
            if isinstance(data, int) and not isinstance(data, bool):
                self.sink.error(
                    "E012",
                    f"{what} needs a unit: '{text}' is ambiguous",
                    span,
                    f"write '{text}s' for seconds or '{text}ms' for milliseconds",
                )
                return None
            ms = parse_duration(text)
            if ms is not None:
                return ast.Duration(text=text, ms=ms, span=span)
            self.sink.error(
                "E012",
                f"invalid duration '{text}' for {what}",
                span,
                "use a number and a unit (250ms, 30s, 5m, 2h, 3d) or ISO-8601 (PT5M)",
            )
            return None
        self.sink.error(
            "E012", f"{what} must be a duration, found {_describe(node)}", self.span(node)
        )
        return None

    def unknown_key(self, key: ScalarNode, allowed: object, where: str) -> None:
        pool = list(allowed)  # type: ignore[call-overload]
        self.sink.error(
            "E010",
            f"unknown key '{key.value}' in {where}",
            self.span(key),
            did_you_mean(key.value, pool) or f"allowed keys: {', '.join(sorted(pool))}",
        )

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
            flow.yaml_comments = self.key_comments(pairs, skip_first=True)
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
        for k, v in self.mapping(node, "'labels'") or ():
            text = self.string(v, f"label '{k.value}'")
            if text is not None:
                flow.labels[k.value] = text

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
                "E012", f"'triggers' must be a list, found {_describe(node)}", self.span(node)
            )
            return
        for item in node.value:
            trigger = self.trigger(item)
            if trigger is not None:
                if self.comments.any:
                    trigger.yaml_comments = self.node_comments(item)
                flow.triggers.append(trigger)

    def _flow_defaults(self, flow: ast.Flow, key: ScalarNode, node: Node) -> None:
        defaults = ast.Defaults(span=self.span(node))
        for k, v in self.mapping(node, "'defaults'") or ():
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
        for k, v in self.mapping(node, "'concurrency'") or ():
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
        steps = self.steps(node, "'steps'")
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
        for k, v in self.mapping(node, "'retry'") or ():
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

    def steps(self, node: Node, what: str) -> list[ast.Step] | None:
        if not isinstance(node, SequenceNode):
            if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
                return []
            self.sink.error(
                "E012", f"{what} must be a list of steps, found {_describe(node)}", self.span(node)
            )
            return None
        out = []
        for item in node.value:
            step = self.step(item)
            if step is not None:
                out.append(step)
        return out

    def step(self, node: Node) -> ast.Step | None:
        pairs = self.mapping(node, "a step")
        if pairs is None:
            return None
        keys = {k.value: (k, v) for k, v in pairs}
        span = self.span(node)
        kinds = [k for k in keys if k in KIND_KEYS]
        if not kinds and "steps" in keys:
            kinds = ["steps"]
        step_id = ""
        id_span = span
        if "id" in keys:
            step_id = self.string(keys["id"][1], "step 'id'") or ""
            id_span = self.span(keys["id"][1])
        else:
            self.sink.error(
                "E011",
                "step is missing 'id'",
                self.span(pairs[0][0]) if pairs else span,
                "give every step a unique id, e.g. 'id: fetch_orders'",
            )
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
        if len(kinds) > 1:
            self.sink.error(
                "E010",
                f"{label} has several kind keys: {', '.join(kinds)}",
                self.span(keys[kinds[1]][0]),
                "a step does exactly one thing; split it into several steps",
            )
            return None
        kind = kinds[0]
        allowed = STEP_COMMON_KEYS | {kind} | STEP_KIND_EXTRA_KEYS[kind]
        for name, (k, _) in keys.items():
            if name not in allowed:
                self.unknown_key(k, allowed, label)
        build = _STEP_BUILDERS[kind]
        step = build(self, keys, step_id, span)
        if step is None:
            return None
        step.id_span = id_span
        step.comments = self.comments.for_node(node.start_mark.line + 1)
        if self.comments.any:
            notes = self.key_comments(pairs, skip_first=True) or {}
            if self.comments.blank_before(node.start_mark.line + 1):
                notes["\n"] = []
            step.yaml_comments = notes or None
        self.common(step, keys)
        return step

    def common(self, step: ast.Step, keys: dict[str, tuple[ScalarNode, Node]]) -> None:
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
                f"'switch' must be a list of cases, found {_describe(node)}",
                self.span(node),
            )
            return step
        for item in node.value:
            pairs = self.mapping(item, "a switch case")
            if pairs is None:
                continue
            case = {k.value: (k, v) for k, v in pairs}
            if step.default is not None:
                self.sink.error(
                    "E010",
                    "'default' must be the last case of a switch",
                    self.span(pairs[0][0]) if pairs else self.span(item),
                    "move the default case to the end; only one is allowed",
                )
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


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if isinstance(node, ScalarNode):
        if node.tag == "tag:yaml.org,2002:null":
            return "nothing (null)"
        return f"'{node.value}'" if len(node.value) < 40 else "a long string"
    return "something else"
