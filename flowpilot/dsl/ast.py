"""The FlowPilot AST: one model for both surface syntaxes.

The AST is data. Every node is a slotted dataclass that declares its child fields in
``_children``; the generic traversal (:meth:`Node.walk`, :meth:`Node.find_all`,
:func:`link_parents`) serves all of them. Every node carries its :class:`Span` and the comment
lines written directly above it. ``dump`` gives a span-free plain-data view used to compare ASTs
across syntaxes (YAML → text → YAML must give an equal dump).

Three families of nodes:

* **values** — what appears where data is written (``with:``, ``vars:``, ``outputs:`` …):
  :class:`Scalar`, :class:`ListValue`, :class:`MapValue`, :class:`ExprValue` (a value that is
  exactly one ``${{ }}``), :class:`Interpolated` (text with embedded ``${{ }}``);
* **expressions** — the parsed inside of ``${{ }}``: :class:`Const`, :class:`Name`, :class:`Attr`,
  :class:`Index`, :class:`Slice`, :class:`Call`, :class:`BinOp`, :class:`UnaryOp`,
  :class:`CondExpr`, :class:`ListExpr`, :class:`DictExpr`;
* **structure** — :class:`Flow`, declarations, triggers and the step kinds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar

from flowpilot.dsl.span import NO_SPAN, Span

N = TypeVar("N", bound="Node")


@dataclass(kw_only=True, slots=True, eq=False)
class Node:
    span: Span = NO_SPAN
    # Comment lines written above the node. A shared empty tuple by default: most nodes have
    # none, and a fresh list per node was a third of all objects a compile kept alive.
    comments: Sequence[str] = ()
    parent: Node | None = field(default=None, repr=False, compare=False)
    # Spans of individual scalar settings (``max_attempts``, ``as``, ``type`` …) where the
    # front end knows them, so a diagnostic can point at the value itself.
    field_spans: dict[str, Span] | None = field(default=None, repr=False, compare=False)
    # Comments only the YAML form can place (above a key, an entry, a declaration; "" = above
    # the node itself; "\n" = a blank line before it). ``flowpilot fmt`` puts them back; they
    # are not part of the flow's meaning, so ``dump`` leaves them out.
    yaml_comments: dict[str, list[str]] | None = field(default=None, repr=False, compare=False)

    _children: ClassVar[tuple[str, ...]] = ()

    def span_of(self, name: str) -> Span:
        """The span of setting ``name`` if known, else the node's span."""
        if self.field_spans and name in self.field_spans:
            return self.field_spans[name]
        return self.span

    def set_field_span(self, name: str, span: Span) -> None:
        if self.field_spans is None:
            self.field_spans = {}
        self.field_spans[name] = span

    def children(self) -> list[Node]:
        """Direct child nodes, in source order of the declared child fields."""
        out: list[Node] = []
        for name in self._children:
            value = getattr(self, name)
            if value is None:
                continue
            if type(value) is list:
                out.extend(value)
            else:
                out.append(value)
        return out

    def walk(self) -> Iterator[Node]:
        """Pre-order traversal of this node and all its descendants."""
        stack: list[Node] = [self]
        pop = stack.pop
        extend = stack.extend
        while stack:
            node = pop()
            yield node
            if node._children:
                kids = node.children()
                kids.reverse()
                extend(kids)

    def find_all(self, kind: type[N]) -> Iterator[N]:
        for node in self.walk():
            if isinstance(node, kind):
                yield node

    def find(self, kind: type[N]) -> N | None:
        return next(self.find_all(kind), None)

    def ancestors(self) -> Iterator[Node]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent


def link_parents(root: Node) -> None:
    """Set ``parent`` on every descendant of ``root``."""
    stack = [root]
    pop = stack.pop
    push = stack.append
    while stack:
        node = pop()
        for name in node._children:
            value = getattr(node, name)
            if value is None:
                continue
            if type(value) is list:
                for child in value:
                    child.parent = node
                    push(child)
            else:
                value.parent = node
                push(value)


# --------------------------------------------------------------------------------------------
# Expressions (the inside of ${{ }})
# --------------------------------------------------------------------------------------------


@dataclass(kw_only=True, slots=True, eq=False)
class Expr(Node):
    """Base of expression nodes."""


@dataclass(kw_only=True, slots=True, eq=False)
class Const(Expr):
    value: str | int | float | bool | None


@dataclass(kw_only=True, slots=True, eq=False)
class Name(Expr):
    name: str


@dataclass(kw_only=True, slots=True, eq=False)
class Attr(Expr):
    """``obj.attr``; ``attr_span`` covers only the attribute name."""

    obj: Expr
    attr: str
    attr_span: Span = NO_SPAN
    _children: ClassVar[tuple[str, ...]] = ("obj",)


@dataclass(kw_only=True, slots=True, eq=False)
class Index(Expr):
    """``obj[index]``."""

    obj: Expr
    index: Expr
    _children: ClassVar[tuple[str, ...]] = ("obj", "index")


@dataclass(kw_only=True, slots=True, eq=False)
class Slice(Expr):
    """``obj[lower:upper]``; either bound may be absent."""

    obj: Expr
    lower: Expr | None = None
    upper: Expr | None = None
    _children: ClassVar[tuple[str, ...]] = ("obj", "lower", "upper")


@dataclass(kw_only=True, slots=True, eq=False)
class Call(Expr):
    """A function call ``f(a, b)`` or a filter ``a | f(b)`` (``filter=True``; ``args[0]`` is ``a``).

    ``name_span`` covers the function name.
    """

    func: str
    args: list[Expr] = field(default_factory=list)
    filter: bool = False
    name_span: Span = NO_SPAN
    _children: ClassVar[tuple[str, ...]] = ("args",)


@dataclass(kw_only=True, slots=True, eq=False)
class BinOp(Expr):
    """Binary operators: ``or and == != < <= > >= in not-in ~ + - * / // %``.

    ``op`` is the operator as written, with ``not in`` spelt ``"not in"``.
    """

    op: str
    left: Expr
    right: Expr
    _children: ClassVar[tuple[str, ...]] = ("left", "right")


@dataclass(kw_only=True, slots=True, eq=False)
class UnaryOp(Expr):
    """``not x`` or ``-x`` (``op`` is ``"not"`` or ``"-"``)."""

    op: str
    operand: Expr
    _children: ClassVar[tuple[str, ...]] = ("operand",)


@dataclass(kw_only=True, slots=True, eq=False)
class CondExpr(Expr):
    """``body if test else orelse``."""

    test: Expr
    body: Expr
    orelse: Expr
    _children: ClassVar[tuple[str, ...]] = ("body", "test", "orelse")


@dataclass(kw_only=True, slots=True, eq=False)
class ListExpr(Expr):
    items: list[Expr] = field(default_factory=list)
    _children: ClassVar[tuple[str, ...]] = ("items",)


@dataclass(kw_only=True, slots=True, eq=False)
class DictExpr(Expr):
    """``{'k': v, ...}``: parallel lists of key and value expressions."""

    keys: list[Expr] = field(default_factory=list)
    values: list[Expr] = field(default_factory=list)
    _children: ClassVar[tuple[str, ...]] = ("keys", "values")


# --------------------------------------------------------------------------------------------
# Values (data written in the flow, possibly containing ${{ }})
# --------------------------------------------------------------------------------------------


@dataclass(kw_only=True, slots=True, eq=False)
class Value(Node):
    """Base of value nodes."""


@dataclass(kw_only=True, slots=True, eq=False)
class Scalar(Value):
    """A literal: string (without ``${{``), number, boolean or null."""

    value: str | int | float | bool | None


@dataclass(kw_only=True, slots=True, eq=False)
class ListValue(Value):
    items: list[Value] = field(default_factory=list)
    _children: ClassVar[tuple[str, ...]] = ("items",)


@dataclass(kw_only=True, slots=True, eq=False)
class Entry(Node):
    """One ``key: value`` of a :class:`MapValue`; ``span`` covers the key."""

    key: str
    value: Value
    _children: ClassVar[tuple[str, ...]] = ("value",)


@dataclass(kw_only=True, slots=True, eq=False)
class MapValue(Value):
    entries: list[Entry] = field(default_factory=list)
    _children: ClassVar[tuple[str, ...]] = ("entries",)

    def get(self, key: str) -> Entry | None:
        for entry in self.entries:
            if entry.key == key:
                return entry
        return None

    def keys(self) -> list[str]:
        return [e.key for e in self.entries]


@dataclass(kw_only=True, slots=True, eq=False)
class ExprValue(Value):
    """A value that is exactly one ``${{ expr }}``: it keeps the expression's type.

    ``source`` is the text between the braces, stripped. ``expr`` is None when it did not parse
    (an E003 diagnostic was reported).
    """

    source: str
    expr: Expr | None
    _children: ClassVar[tuple[str, ...]] = ("expr",)


@dataclass(kw_only=True, slots=True, eq=False)
class TextPart(Node):
    """A literal run of text inside an :class:`Interpolated` string."""

    text: str


@dataclass(kw_only=True, slots=True, eq=False)
class Interpolated(Value):
    """A string with ``${{ }}`` inside: ``parts`` mixes :class:`TextPart` and :class:`ExprValue`."""

    parts: list[TextPart | ExprValue] = field(default_factory=list)
    _children: ClassVar[tuple[str, ...]] = ("parts",)


# --------------------------------------------------------------------------------------------
# Structure
# --------------------------------------------------------------------------------------------


@dataclass(kw_only=True, slots=True, eq=False)
class Duration(Node):
    """A duration as written (``text``: ``30s``, ``PT5M``) and its length in milliseconds."""

    text: str
    ms: int


@dataclass(kw_only=True, slots=True, eq=False)
class Retry(Node):
    """A retry policy; fields left None were not written (defaults apply at run time)."""

    max_attempts: int | None = None
    backoff: str | None = None
    delay: Duration | None = None
    factor: int | float | None = None
    max_delay: Duration | None = None
    jitter: bool | None = None
    retry_on: list[str] | None = None
    _children: ClassVar[tuple[str, ...]] = ("delay", "max_delay")


@dataclass(kw_only=True, slots=True, eq=False)
class InputDecl(Node):
    """An input. ``type`` is a JSON-Schema-like type name (``string``, ``number``, ``integer``,
    ``boolean``, ``object``, ``array``, ``file``, ``secret``, ``any``); the shorthand
    ``string[]`` is stored as ``type="array"`` with ``options={"items": {"type": "string"}}``;
    ``string?`` as ``required=False``. ``options`` holds every other key as plain JSON data
    (``format``, ``minimum``, ``enum``, ``accept``, ``items``, ``properties``, …).
    ``span`` covers the name.
    """

    name: str
    type: str
    required: bool = True
    default: Value | None = None
    description: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    _children: ClassVar[tuple[str, ...]] = ("default",)


@dataclass(kw_only=True, slots=True, eq=False)
class VarDecl(Node):
    """``vars:`` entry; ``span`` covers the name."""

    name: str
    value: Value
    _children: ClassVar[tuple[str, ...]] = ("value",)


@dataclass(kw_only=True, slots=True, eq=False)
class OutputDecl(Node):
    """``outputs:`` entry; ``span`` covers the name."""

    name: str
    value: Value
    _children: ClassVar[tuple[str, ...]] = ("value",)


@dataclass(kw_only=True, slots=True, eq=False)
class Trigger(Node):
    """A trigger. ``type`` is ``webhook``, ``cron`` or ``event``; ``config`` holds its other keys
    (``path``, ``auth``, ``secret``, ``cron``, ``timezone``, ``on``, ``filter`` …) but ``inputs``.
    ``span`` covers the whole trigger; ``id_span`` the id value.
    """

    id: str
    type: str
    id_span: Span = NO_SPAN
    config: MapValue = field(default_factory=MapValue)
    inputs: MapValue | None = None
    _children: ClassVar[tuple[str, ...]] = ("config", "inputs")


@dataclass(kw_only=True, slots=True, eq=False)
class Defaults(Node):
    timeout: Duration | None = None
    retry: Retry | None = None
    _children: ClassVar[tuple[str, ...]] = ("timeout", "retry")


@dataclass(kw_only=True, slots=True, eq=False)
class Concurrency(Node):
    limit: int
    on_limit: str = "queue"


@dataclass(kw_only=True, slots=True, eq=False)
class Step(Node):
    """Common part of every step. ``span`` covers the whole step; ``id_span`` the id value.

    ``if_`` is the guard (the step is skipped when it is false).
    """

    id: str
    id_span: Span = NO_SPAN
    name: str | None = None
    description: str | None = None
    if_: Value | None = None
    timeout: Duration | None = None
    retry: Retry | None = None
    continue_on_error: bool | None = None
    mock: Value | None = None

    kind: ClassVar[str] = ""
    _common: ClassVar[tuple[str, ...]] = ("if_", "timeout", "retry", "mock")

    def bodies(self) -> list[list[Step]]:
        """The step lists nested directly in this step (empty for leaf steps)."""
        return []


@dataclass(kw_only=True, slots=True, eq=False)
class UsesStep(Step):
    """``uses: ns.name[@major]`` with ``with:`` arguments. ``uses_span`` covers the node type."""

    uses: str
    uses_span: Span = NO_SPAN
    args: MapValue | None = None
    kind: ClassVar[str] = "uses"
    _children: ClassVar[tuple[str, ...]] = (*Step._common, "args")


@dataclass(kw_only=True, slots=True, eq=False)
class GroupStep(Step):
    steps: list[Step] = field(default_factory=list)
    kind: ClassVar[str] = "steps"
    _children: ClassVar[tuple[str, ...]] = (*Step._common, "steps")

    def bodies(self) -> list[list[Step]]:
        return [self.steps]


@dataclass(kw_only=True, slots=True, eq=False)
class ParallelStep(Step):
    """Each branch is one step (often a group)."""

    branches: list[Step] = field(default_factory=list)
    fail_fast: bool | None = None
    max_concurrency: int | None = None
    kind: ClassVar[str] = "parallel"
    _children: ClassVar[tuple[str, ...]] = (*Step._common, "branches")

    def bodies(self) -> list[list[Step]]:
        return [[b] for b in self.branches]


@dataclass(kw_only=True, slots=True, eq=False)
class SwitchCase(Node):
    """``when`` case; ``span`` covers the case."""

    when: Value
    steps: list[Step] = field(default_factory=list)
    _children: ClassVar[tuple[str, ...]] = ("when", "steps")


@dataclass(kw_only=True, slots=True, eq=False)
class SwitchStep(Step):
    cases: list[SwitchCase] = field(default_factory=list)
    default: list[Step] | None = None
    kind: ClassVar[str] = "switch"
    _children: ClassVar[tuple[str, ...]] = (*Step._common, "cases", "default")

    def bodies(self) -> list[list[Step]]:
        out = [c.steps for c in self.cases]
        if self.default is not None:
            out.append(self.default)
        return out


@dataclass(kw_only=True, slots=True, eq=False)
class ForeachStep(Step):
    """``foreach: <items>`` with ``as`` (default ``item``), ``concurrency``, ``collect``."""

    items: Value
    as_: str = "item"
    concurrency: int | None = None
    collect: Value | None = None
    steps: list[Step] = field(default_factory=list)
    kind: ClassVar[str] = "foreach"
    _children: ClassVar[tuple[str, ...]] = (*Step._common, "items", "collect", "steps")

    def bodies(self) -> list[list[Step]]:
        return [self.steps]


@dataclass(kw_only=True, slots=True, eq=False)
class RepeatStep(Step):
    until: Value
    max_iterations: int
    delay: Duration | None = None
    steps: list[Step] = field(default_factory=list)
    kind: ClassVar[str] = "repeat"
    _children: ClassVar[tuple[str, ...]] = (*Step._common, "until", "delay", "steps")

    def bodies(self) -> list[list[Step]]:
        return [self.steps]


@dataclass(kw_only=True, slots=True, eq=False)
class TryStep(Step):
    try_: list[Step] = field(default_factory=list)
    catch: list[Step] | None = None
    finally_: list[Step] | None = None
    kind: ClassVar[str] = "try"
    _children: ClassVar[tuple[str, ...]] = (*Step._common, "try_", "catch", "finally_")

    def bodies(self) -> list[list[Step]]:
        return [b for b in (self.try_, self.catch, self.finally_) if b is not None]


@dataclass(kw_only=True, slots=True, eq=False)
class WaitStep(Step):
    """``wait: 10m`` (``duration``) or ``wait: {until: ...}`` (``until``)."""

    duration: Duration | None = None
    until: Value | None = None
    kind: ClassVar[str] = "wait"
    _children: ClassVar[tuple[str, ...]] = (*Step._common, "duration", "until")


@dataclass(kw_only=True, slots=True, eq=False)
class CallStep(Step):
    """``call: <flow id>`` with ``with:`` inputs. ``flow_span`` covers the flow id."""

    flow: str
    flow_span: Span = NO_SPAN
    args: MapValue | None = None
    kind: ClassVar[str] = "call"
    _children: ClassVar[tuple[str, ...]] = (*Step._common, "args")


@dataclass(kw_only=True, slots=True, eq=False)
class SetStep(Step):
    values: MapValue = field(default_factory=MapValue)
    kind: ClassVar[str] = "set"
    _children: ClassVar[tuple[str, ...]] = (*Step._common, "values")


@dataclass(kw_only=True, slots=True, eq=False)
class FailStep(Step):
    message: Value
    type: Value | None = None
    kind: ClassVar[str] = "fail"
    _children: ClassVar[tuple[str, ...]] = (*Step._common, "message", "type")


@dataclass(kw_only=True, slots=True, eq=False)
class ReturnStep(Step):
    values: MapValue = field(default_factory=MapValue)
    kind: ClassVar[str] = "return"
    _children: ClassVar[tuple[str, ...]] = (*Step._common, "values")


STEP_KINDS: dict[str, type[Step]] = {
    cls.kind: cls
    for cls in (
        UsesStep,
        GroupStep,
        ParallelStep,
        SwitchStep,
        ForeachStep,
        RepeatStep,
        TryStep,
        WaitStep,
        CallStep,
        SetStep,
        FailStep,
        ReturnStep,
    )
}


@dataclass(kw_only=True, slots=True, eq=False)
class Flow(Node):
    """A whole flow. ``id_span`` covers the flow id value; ``syntax`` is ``yaml`` or ``text``."""

    id: str
    id_span: Span = NO_SPAN
    dsl: int = 1
    name: str | None = None
    description: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    inputs: list[InputDecl] = field(default_factory=list)
    vars: list[VarDecl] = field(default_factory=list)
    triggers: list[Trigger] = field(default_factory=list)
    defaults: Defaults | None = None
    timeout: Duration | None = None
    concurrency: Concurrency | None = None
    steps: list[Step] = field(default_factory=list)
    catch: list[Step] | None = None
    finally_: list[Step] | None = None
    outputs: list[OutputDecl] = field(default_factory=list)
    syntax: str = "yaml"
    _children: ClassVar[tuple[str, ...]] = (
        "inputs",
        "vars",
        "triggers",
        "defaults",
        "timeout",
        "concurrency",
        "steps",
        "catch",
        "finally_",
        "outputs",
    )

    def all_steps(self) -> Iterator[Step]:
        """Every step in the flow (nested ones included), in pre-order."""
        return self.find_all(Step)


# --------------------------------------------------------------------------------------------
# Plain-data view
# --------------------------------------------------------------------------------------------

_SKIP = frozenset(
    {
        "span",
        "parent",
        "id_span",
        "uses_span",
        "flow_span",
        "attr_span",
        "name_span",
        "field_spans",
        "yaml_comments",
    }
)


def dump(node: Any, *, comments: bool = True) -> Any:
    """A span-free, plain-data view of an AST (or list of nodes), for comparisons and debugging.

    Two ASTs that mean the same flow have equal dumps whatever syntax they came from.
    """
    if isinstance(node, Node):
        out: dict[str, Any] = {"_": type(node).__name__}
        for f in fields(node):
            if f.name in _SKIP or f.name == "syntax":
                continue
            if f.name == "comments" and (not comments or not node.comments):
                continue
            value = getattr(node, f.name)
            if value is None or (value == [] and f.name != "steps"):
                continue
            out[f.name] = dump(value, comments=comments)
        return out
    if isinstance(node, list):
        return [dump(v, comments=comments) for v in node]
    if isinstance(node, dict):
        return {k: dump(v, comments=comments) for k, v in node.items()}
    return node
