"""Where step ids, inputs, vars and flow ids are declared and used in one flow.

One walk of the AST lists every occurrence with its exact code-point range: declarations
(``id:``, ``inputs:``, ``vars:``, ``flow:``, and the ``set:`` keys of a var ``vars:`` does not
declare) and uses (``steps.<id>``, ``inputs.<name>``,
``vars.<name>`` in expressions, ``set:`` keys, trigger ``inputs:`` keys, ``call:`` targets and
their ``with:`` keys). Template fields (``"x-template": true`` arguments) are Jinja text the
AST does not parse, so their ``steps.<id>``-style references are found in the source text.
Go to definition, find references and rename all answer from this list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flowpilot.dsl import ast
from flowpilot.stdlib.registry import Registry

STEP = "step"
INPUT = "input"
VAR = "var"
FLOW = "flow"

_ROOTS = {"steps": STEP, "inputs": INPUT, "vars": VAR}
_TEMPLATE_REF = re.compile(
    r"\b(steps|inputs|vars)\s*(?:\.\s*([A-Za-z_]\w*)|\[\s*(['\"])([^'\"]+)\3\s*\])"
)


@dataclass(frozen=True, slots=True)
class Symbol:
    """A named thing. ``scope`` is the flow id for inputs and flows (they are visible to other
    files through ``call:``) and the file's name for steps and vars."""

    kind: str
    name: str
    scope: str


@dataclass(frozen=True, slots=True)
class Occurrence:
    symbol: Symbol
    start: int  # code-point offsets of the name itself
    end: int
    is_definition: bool = False

    def contains(self, offset: int) -> bool:
        return self.start <= offset <= self.end


def template_fields(step: ast.UsesStep, registry: Registry) -> list[ast.Value]:
    """The values of a step's template (``x-template``) arguments."""
    if step.args is None:
        return []
    node_type = registry.get(step.uses) if step.uses else None
    if node_type is None:
        return []
    props = node_type.arguments
    return [
        e.value
        for e in step.args.entries
        if isinstance(props.get(e.key), dict) and props[e.key].get("x-template")
    ]


class _Collector:
    def __init__(self, flow: ast.Flow, file: str, source: str, registry: Registry) -> None:
        self.flow = flow
        self.file = file
        self.source = source
        self.registry = registry
        self.found: dict[tuple[int, int], Occurrence] = {}
        self.declared_vars = {var.name for var in flow.vars}

    def symbol(self, kind: str, name: str) -> Symbol:
        scope = self.flow.id if kind in (INPUT, FLOW) else self.file
        return Symbol(kind, name, scope)

    def add(self, symbol: Symbol, start: int, end: int, definition: bool = False) -> None:
        if end > start or definition:
            self.found.setdefault((start, end), Occurrence(symbol, start, end, definition))

    def collect(self) -> list[Occurrence]:
        flow = self.flow
        if flow.id:
            self.add(self.symbol(FLOW, flow.id), flow.id_span.start, flow.id_span.end, True)
        for decl in flow.inputs:
            self.add(self.symbol(INPUT, decl.name), decl.span.start, decl.span.end, True)
        for var in flow.vars:
            self.add(self.symbol(VAR, var.name), var.span.start, var.span.end, True)
        for trigger in flow.triggers:
            if trigger.inputs is not None:
                for entry in trigger.inputs.entries:
                    self.add(self.symbol(INPUT, entry.key), entry.span.start, entry.span.end)
        for node in flow.walk():
            kind = type(node)
            if kind is ast.Attr:
                self._attr(node)  # type: ignore[arg-type]
            elif kind is ast.Index:
                self._index(node)  # type: ignore[arg-type]
            elif isinstance(node, ast.Step):
                self._step(node)
        return sorted(self.found.values(), key=lambda o: o.start)

    def _attr(self, node: ast.Attr) -> None:
        obj = node.obj
        if type(obj) is ast.Name and obj.name in _ROOTS:
            symbol = self.symbol(_ROOTS[obj.name], node.attr)
            self.add(symbol, node.attr_span.start, node.attr_span.end)

    def _index(self, node: ast.Index) -> None:
        obj, key = node.obj, node.index
        if (
            type(obj) is ast.Name
            and obj.name in _ROOTS
            and type(key) is ast.Const
            and isinstance(key.value, str)
        ):
            start, end = key.span.start, key.span.end
            if self.source[start : start + 1] in ("'", '"'):
                start, end = start + 1, end - 1
            self.add(self.symbol(_ROOTS[obj.name], key.value), start, end)

    def _step(self, step: ast.Step) -> None:
        if step.id:
            self.add(self.symbol(STEP, step.id), step.id_span.start, step.id_span.end, True)
        if isinstance(step, ast.SetStep):
            for entry in step.values.entries:
                # A var that `vars:` does not declare is defined by the steps that set it.
                undeclared = entry.key not in self.declared_vars
                symbol = self.symbol(VAR, entry.key)
                self.add(symbol, entry.span.start, entry.span.end, undeclared)
        elif isinstance(step, ast.CallStep):
            target = Symbol(FLOW, step.flow, step.flow)
            self.add(target, step.flow_span.start, step.flow_span.end)
            if step.args is not None:
                for entry in step.args.entries:
                    symbol = Symbol(INPUT, entry.key, step.flow)
                    self.add(symbol, entry.span.start, entry.span.end)
        elif isinstance(step, ast.UsesStep):
            for value in template_fields(step, self.registry):
                self._template(value)

    def _template(self, value: ast.Value) -> None:
        base = value.span.start
        raw = self.source[base : value.span.end]
        for match in _TEMPLATE_REF.finditer(raw):
            group = 2 if match.group(2) else 4
            symbol = self.symbol(_ROOTS[match.group(1)], match.group(group))
            self.add(symbol, base + match.start(group), base + match.end(group))


def collect_occurrences(
    flow: ast.Flow, file: str, source: str, registry: Registry
) -> list[Occurrence]:
    """Every occurrence of a step id, input, var or flow id in ``flow``, in source order."""
    return _Collector(flow, file, source, registry).collect()


def occurrence_at(occurrences: list[Occurrence], offset: int) -> Occurrence | None:
    """The (shortest) occurrence whose name contains ``offset``."""
    hits = [o for o in occurrences if o.contains(offset)]
    return min(hits, key=lambda o: o.end - o.start) if hits else None
