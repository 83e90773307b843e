"""Reading PyYAML's composed node graph: positions, plain values and typed settings.

:class:`YamlReader` is the part of the YAML front end that knows YAML but not flows: spans from
marks, scalars with their resolved types, mappings without duplicate keys, values with
``${{ }}`` parsed, typed settings (strings, integers, durations …) with a diagnostic naming the
setting when the shape is wrong, and the comments PyYAML's composer drops. The flow builder in
:mod:`flowpilot.dsl.yaml_loader` is built on it.
"""

from __future__ import annotations

import functools
import operator
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from flowpilot.dsl import ast
from flowpilot.dsl.comments import CommentIndex
from flowpilot.dsl.diagnostics import DiagnosticSink, did_you_mean
from flowpilot.dsl.expressions import parse_value_string
from flowpilot.dsl.span import LineIndex, Origin, Span
from flowpilot.durations import parse_duration

try:  # the C composer is ~10x faster; fall back only where libyaml is missing
    _Base: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _Base = yaml.SafeLoader

_RESOLVER = yaml.resolver.Resolver()  # the safe loaders' resolver, without path resolvers


@functools.lru_cache(maxsize=65_536)
def _resolve(kind: Any, value: Any, implicit: Any) -> str:
    """The safe resolver's tag for a node, remembered: flows repeat the same keys and values,
    and each new answer tries several regular expressions."""
    return _RESOLVER.resolve(kind, value, implicit)  # type: ignore[no-any-return]


class FastSafeLoader(_Base):  # type: ignore[misc,valid-type]
    """The safe loader with the composer's per-node Python callbacks made cheap.

    Even with libyaml, the composer calls back into Python three times per node: ``resolve``
    (several regular expressions per scalar) and ``descend_resolver``/``ascend_resolver``
    around it. The safe loader has no path resolvers, so the hooks do nothing and the answer
    of ``resolve`` depends only on its arguments: the hooks become C callables that do
    nothing, and ``resolve`` a C-level memo of the resolver's own answers. Together these
    callbacks were over a third of compose.
    """

    descend_resolver = staticmethod(operator.is_)  # (node, index) -> ignored
    ascend_resolver = staticmethod(tuple)  # () -> ignored
    resolve = staticmethod(_resolve)


_STR = "tag:yaml.org,2002:str"
_new = tuple.__new__  # builds a Span without NamedTuple's keyword-handling __new__
_INF = float("inf")
_constructor = yaml.constructor.SafeConstructor()


def explain_yaml_error(exc: yaml.MarkedYAMLError, source: str) -> tuple[str, Any, str | None]:
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


def clamp(offset: int, source: str) -> int:
    return max(0, min(offset, len(source)))


class YamlReader:
    """Reads one composed YAML document; subclasses build the AST from it."""

    def __init__(self, source: str, file: str, index: LineIndex, sink: DiagnosticSink) -> None:
        self.source = source
        self.file = file
        self.index = index
        self.sink = sink
        self.comments = CommentIndex(source)

    # ------------------------------------------------------------------ positions

    def span(self, node: Node) -> Span:
        start, end = node.start_mark, node.end_mark
        first, stop = start.index, end.index
        if node.__class__ is not ScalarNode and stop > first:
            text = self.source
            if text[stop - 1] in " \t\r\n":
                # Block collections end where the next token starts: trim the blank run.
                while stop > first and text[stop - 1] in " \t\r\n":
                    stop -= 1
                end_line, end_col = self.index.position(stop)
                return _new(
                    Span,
                    (self.file, start.line + 1, start.column + 1, end_line, end_col, first, stop),
                )
        return _new(
            Span,
            (
                self.file,
                start.line + 1,
                start.column + 1,
                end.line + 1,
                end.column + 1,
                first,
                stop,
            ),
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
        found = self.keyed(node, what)
        return None if found is None else list(found.values())

    def keyed(self, node: Node, what: str) -> dict[str, tuple[ScalarNode, Node]] | None:
        """The (key, value) pairs of a mapping by key name, in order; duplicates reported and
        dropped (the first one is kept)."""
        if node.__class__ is not MappingNode:
            self.sink.error(
                "E012", f"{what} must be a mapping, found {describe_node(node)}", self.span(node)
            )
            return None
        found: dict[str, tuple[ScalarNode, Node]] = {}
        for pair in node.value:
            key = pair[0]
            if key.__class__ is not ScalarNode:
                self.sink.error("E012", f"keys in {what} must be plain strings", self.span(key))
                continue
            name = key.value
            if name in found:
                first = found[name][0].start_mark.line + 1
                self.sink.error(
                    "E001",
                    f"duplicate key '{name}' in {what} (first defined on line {first})",
                    self.span(key),
                    "YAML keys must be unique; remove or rename one of them",
                )
                continue
            found[name] = pair
        return found

    def key_comments(
        self,
        pairs: list[tuple[ScalarNode, Node]],
        owner_line: int | None = None,
        owner_trailing: bool = True,
    ) -> dict[str, list[str]] | None:
        """Comments above (or beside) each key of a mapping, for ``fmt`` to put back.

        Comments of ``owner_line`` belong to the node that owns the mapping (a step's
        ``- id:`` line): its leading ones are never repeated on keys, its trailing one only
        when ``owner_trailing`` is False. A comment is given to the first key of its line only.
        """
        found: dict[str, list[str]] | None = None
        comments = self.comments
        seen: set[int] = set()
        for key, value in pairs:
            line = key.start_mark.line + 1
            if line in seen:
                continue
            seen.add(line)
            notes = [] if line == owner_line else comments.loose(line) + comments.leading(line)
            if (line != owner_line or not owner_trailing) and (
                not isinstance(value, MappingNode | SequenceNode)
                or value.flow_style
                or value.start_mark.line == value.end_mark.line
            ):
                notes = notes + comments.trailing(line)
            if notes:
                if found is None:
                    found = {}
                found[key.value] = notes
        return found

    def mapping_comments(
        self, node: Node, pairs: list[tuple[ScalarNode, Node]]
    ) -> dict[str, list[str]] | None:
        """:meth:`key_comments` of a mapping value: in a one-line ``{ … }`` the comments
        around that line belong to the key that holds the mapping, not to its inner keys."""
        owner = node.start_mark.line + 1 if getattr(node, "flow_style", False) else None
        return self.key_comments(pairs, owner_line=owner)

    def decl_comments(self, key: ScalarNode) -> dict[str, list[str]] | None:
        if not self.comments.any:
            return None
        line = key.start_mark.line + 1
        comments = self.comments
        notes = comments.loose(line) + comments.leading(line) + comments.trailing(line)
        return {"": notes} if notes else None

    def node_comments(self, node: Node, *, blank: bool = False) -> dict[str, list[str]] | None:
        """Comments above a node that is an item of a list or mapping ("" key)."""
        line = node.start_mark.line + 1
        notes = self.comments.loose(line) + self.comments.leading(line)
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
        if node.__class__ is ScalarNode:
            # Inlined: a flow is mostly scalars, and this is the front end's hottest path.
            start, end = node.start_mark, node.end_mark
            span = _new(
                Span,
                (
                    self.file,
                    start.line + 1,
                    start.column + 1,
                    end.line + 1,
                    end.column + 1,
                    start.index,
                    end.index,
                ),
            )
            data = node.value if node.tag == _STR else self.scalar(node)
            if data.__class__ is str:
                if "${{" not in data:
                    return ast.Scalar(value=data, span=span)
                return parse_value_string(data, self.origin(node, span), self.sink, span)
            if isinstance(data, float) and (data != data or data in (_INF, -_INF)):
                self.sink.error("E012", f"'{node.value}' is not a valid value (not JSON)", span)
                return ast.Scalar(value=None, span=span)
            return ast.Scalar(value=data, span=span)
        span = self.span(node)
        if isinstance(node, SequenceNode):
            return ast.ListValue(items=[self.value(n) for n in node.value], span=span)
        pairs = (self.keyed(node, "a mapping") or {}).values()
        value = self.value
        key_span = self._key_span
        entries = [
            ast.Entry(key=key.value, value=value(val), span=key_span(key)) for key, val in pairs
        ]
        mapping = ast.MapValue(entries=entries, span=span)
        if self.comments.any and not node.flow_style:
            mapping.yaml_comments = self.mapping_comments(node, list(pairs))
        return mapping

    def _key_span(self, key: ScalarNode) -> Span:
        start, end = key.start_mark, key.end_mark
        return _new(
            Span,
            (
                self.file,
                start.line + 1,
                start.column + 1,
                end.line + 1,
                end.column + 1,
                start.index,
                end.index,
            ),
        )

    def map_value(self, node: Node, what: str) -> ast.MapValue | None:
        if not isinstance(node, MappingNode):
            self.sink.error(
                "E012", f"{what} must be a mapping, found {describe_node(node)}", self.span(node)
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
            "E012", f"{what} must be a string, found {describe_node(node)}", self.span(node)
        )
        return None

    def integer(self, node: Node, what: str) -> int | None:
        data = self.scalar(node) if isinstance(node, ScalarNode) else None
        if isinstance(data, int) and not isinstance(data, bool):
            return data
        self.sink.error(
            "E012", f"{what} must be an integer, found {describe_node(node)}", self.span(node)
        )
        return None

    def number(self, node: Node, what: str) -> int | float | None:
        data = self.scalar(node) if isinstance(node, ScalarNode) else None
        if isinstance(data, int | float) and not isinstance(data, bool):
            return data
        self.sink.error(
            "E012", f"{what} must be a number, found {describe_node(node)}", self.span(node)
        )
        return None

    def boolean(self, node: Node, what: str) -> bool | None:
        data = self.scalar(node) if isinstance(node, ScalarNode) else None
        if isinstance(data, bool):
            return data
        self.sink.error(
            "E012", f"{what} must be true or false, found {describe_node(node)}", self.span(node)
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
            "E012", f"{what} must be a duration, found {describe_node(node)}", self.span(node)
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


def describe_node(node: Node) -> str:
    """How a YAML node is named in messages ('a mapping', 'a list', '\'x\'')."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if isinstance(node, ScalarNode):
        if node.tag == "tag:yaml.org,2002:null":
            return "nothing (null)"
        return f"'{node.value}'" if len(node.value) < 40 else "a long string"
    return "something else"
