"""State shared by the compiler passes of one compilation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowpilot.compiler import types as T
from flowpilot.dsl import ast
from flowpilot.dsl.diagnostics import DiagnosticSink
from flowpilot.dsl.span import LineIndex, Origin, Span
from flowpilot.stdlib.registry import NodeType, Registry

if TYPE_CHECKING:
    from flowpilot.compiler.scope import Scope

SiteHook = Callable[[ast.Node, "Scope", ast.Step | None], None]
"""Called by the type checker at each step (before it is checked) and each expression site
(a value it is about to infer) with the scope there and the step it belongs to. The scope is
live: it changes as the walk goes on, so a hook that keeps it must copy what it needs."""

STEP_STATUS = T.StringType(enum=("succeeded", "failed", "skipped", "cancelled"))

ERROR = T.ObjectType(
    properties=(
        ("message", T.STRING),
        ("type", T.STRING),
        ("step", T.optional(T.STRING)),
        ("details", T.ANY),
        ("attempts", T.INT),
    ),
    required=frozenset({"message", "type"}),
    extra=None,
    name="error",
)

EXECUTION = T.ObjectType(
    properties=(
        ("id", T.STRING),
        ("flow", T.STRING),
        ("version", T.STRING),
        ("org_id", T.STRING),
        ("started_at", T.StringType(format="date-time")),
        ("trigger", T.STRING),
        ("dry_run", T.BOOL),
        ("parent_id", T.optional(T.STRING)),
    ),
    extra=None,
    name="execution",
)

TRIGGER = T.ObjectType(
    properties=(
        ("id", T.optional(T.STRING)),
        ("type", T.StringType(enum=("manual", "webhook", "cron", "event"))),
        ("body", T.ANY),
        ("headers", T.ObjectType(extra=T.STRING)),
        ("query", T.ObjectType(extra=T.STRING)),
        ("scheduled_at", T.optional(T.StringType(format="date-time"))),
        ("event", T.ANY),
    ),
    extra=T.ANY,
    name="trigger",
)

SECRETS = T.ObjectType(extra=T.SECRET, name="secrets")
ENV = T.ObjectType(extra=T.STRING, name="env")

# Names every expression may use; `steps`, `inputs` and `vars` are typed per flow.
GLOBAL_NAMES: tuple[str, ...] = (
    "inputs",
    "vars",
    "steps",
    "secrets",
    "env",
    "trigger",
    "event",
    "execution",
    "flow",
)


def step_type(step_id: str, output: T.Type) -> T.ObjectType:
    """The type of ``steps.<id>``."""
    return T.ObjectType(
        properties=(
            ("output", output),
            ("status", STEP_STATUS),
            ("error", T.optional(ERROR)),
            ("attempts", T.INT),
        ),
        required=frozenset({"output", "status", "attempts"}),
        extra=None,
        name=f"step '{step_id}'",
    )


@dataclass
class StepInfo:
    """What the compiler knows of one step."""

    step: ast.Step
    order: int  # pre-order position in the whole flow
    section: str  # "steps" | "catch" | "finally"
    ancestors: tuple[ast.Step, ...]  # enclosing steps, outermost first
    node_type: NodeType | None = None
    output: T.Type = T.ANY


@dataclass
class CompileOptions:
    """Knobs of a compilation.

    Attributes:
        flows: other flows of the same organization/workspace by id; when given, ``call:``
            targets are checked against it.
    """

    flows: dict[str, ast.Flow] | None = None


@dataclass
class CompileContext:
    flow: ast.Flow
    source: str
    registry: Registry
    sink: DiagnosticSink
    options: CompileOptions = field(default_factory=CompileOptions)
    steps: dict[str, StepInfo] = field(default_factory=dict)
    input_types: dict[str, T.Type] = field(default_factory=dict)
    var_types: dict[str, T.Type] = field(default_factory=dict)
    used_inputs: set[str] = field(default_factory=set)
    used_vars: set[str] = field(default_factory=set)
    used_secrets: set[str] = field(default_factory=set)
    # Where a template field renders a secret, by id() of the field's value node (for E601).
    template_secrets: dict[int, list[Span]] = field(default_factory=dict)
    # Set by tools that ask what is in scope at a position (flowpilot.compiler.sites); None in
    # ordinary compiles, where it costs one attribute test per site.
    site_hook: SiteHook | None = None
    _roots: dict[str, T.Type] = field(default_factory=dict)
    _index: LineIndex | None = None

    @property
    def file(self) -> str:
        return self.flow.span.file

    def root_types(self) -> dict[str, T.Type]:
        if not self._roots:
            self._roots = {
                "inputs": T.ObjectType(
                    properties=tuple(self.input_types.items()), extra=None, name="inputs"
                ),
                "vars": T.ObjectType(
                    properties=tuple(self.var_types.items()), extra=None, name="vars"
                ),
                "secrets": SECRETS,
                "env": ENV,
                "trigger": TRIGGER,
                "event": T.ANY,
                "execution": EXECUTION,
                "flow": T.ObjectType(
                    properties=(
                        ("id", T.STRING),
                        ("name", T.optional(T.STRING)),
                        ("version", T.STRING),
                        ("labels", T.ObjectType(extra=T.STRING)),
                    ),
                    extra=None,
                    name="flow",
                ),
            }
        return self._roots

    def origin_of(self, scalar: ast.Node, text: str) -> Origin:
        """Where the characters of a string literal start in the file (for template positions)."""
        span = scalar.span
        raw = self.source[span.start : span.end]
        if raw == text:
            return Origin(span.file, span.line, span.column, span.start)
        if len(raw) >= 2 and raw[0] in "'\"" and raw[-1] == raw[0] and raw[1:-1] == text:
            return Origin(span.file, span.line, span.column + 1, span.start + 1)
        if len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"' and "\\" in raw:
            offsets = _escape_offsets(raw, span.start)
            if offsets is not None and offsets[1] == text:
                if self._index is None:
                    self._index = LineIndex(self.source)
                return Origin(
                    span.file,
                    span.line,
                    span.column + 1,
                    span.start + 1,
                    offsets=offsets[0],
                    index=self._index,
                )
        if raw[:1] in ("|", ">"):
            first_line_end = raw.find("\n")
            body = raw[first_line_end + 1 :] if first_line_end != -1 else ""
            indent = len(body) - len(body.lstrip(" "))
            if indent and text and body.lstrip(" ").startswith(text.split("\n", 1)[0]):
                start = span.start + first_line_end + 1 + indent
                return Origin(span.file, span.line + 1, indent + 1, start, indent=indent)
        return Origin(span.file, span.line, span.column, span.start, fallback=span)


_SIMPLE_ESCAPES = {
    "n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f",
    "0": "\0", "'": "'",
}  # fmt: skip


def _escape_offsets(raw: str, base: int) -> tuple[tuple[int, ...], str] | None:
    """Decode a double-quoted string's escapes, keeping each character's file offset.

    Returns (offsets, decoded); the caller checks ``decoded`` equals the value the front end
    produced, so a mismatch (an escape form not known here) just means no exact positions.
    """
    chars: list[str] = []
    offsets: list[int] = []
    i, end = 1, len(raw) - 1
    while i < end:
        ch = raw[i]
        offsets.append(base + i)
        if ch != "\\":
            chars.append(ch)
            i += 1
            continue
        nxt = raw[i + 1] if i + 1 < end else ""
        if nxt in _SIMPLE_ESCAPES:
            chars.append(_SIMPLE_ESCAPES[nxt])
            i += 2
        elif nxt == "u" and i + 6 <= end:
            try:
                chars.append(chr(int(raw[i + 2 : i + 6], 16)))
            except ValueError:
                return None
            i += 6
        else:
            return None
    offsets.append(base + end)
    return tuple(offsets), "".join(chars)


def template_text(value: ast.Value) -> str | None:
    """The template source of a template field's value, or None when it is not text.

    ``${{ e }}`` inside a longer string of a template field means the same as ``{{ e }}`` (the
    expression languages coincide), so the whole string is one template.
    """
    if isinstance(value, ast.Scalar):
        return value.value if isinstance(value.value, str) else None
    if isinstance(value, ast.Interpolated):
        if any(isinstance(p, ast.ExprValue) and p.expr is None for p in value.parts):
            return None  # E003 already said what is wrong
        return "".join(
            p.text if isinstance(p, ast.TextPart) else "{{ " + p.source + " }}" for p in value.parts
        )
    return None


def literal_data(value: ast.Value | None) -> tuple[bool, Any]:
    """(True, data) when ``value`` holds no expression at all, else (False, None)."""
    if value is None:
        return True, None
    if isinstance(value, ast.Scalar):
        return True, value.value
    if isinstance(value, ast.ListValue):
        out = []
        for item in value.items:
            ok, data = literal_data(item)
            if not ok:
                return False, None
            out.append(data)
        return True, out
    if isinstance(value, ast.MapValue):
        mapping = {}
        for entry in value.entries:
            ok, data = literal_data(entry.value)
            if not ok:
                return False, None
            mapping[entry.key] = data
        return True, mapping
    return False, None
