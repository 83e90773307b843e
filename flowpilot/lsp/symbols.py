"""Document symbols: the outline of a flow — its steps, nested as they run, plus its inputs,
vars, triggers and outputs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from flowpilot.dsl import ast
from flowpilot.dsl.span import Span
from flowpilot.lsp.positions import PositionMap

if TYPE_CHECKING:
    from flowpilot.lsp.server import FlowServer

_KINDS: dict[str, lsp.SymbolKind] = {
    "uses": lsp.SymbolKind.Function,
    "call": lsp.SymbolKind.Method,
    "set": lsp.SymbolKind.Variable,
    "wait": lsp.SymbolKind.Event,
    "fail": lsp.SymbolKind.Event,
    "return": lsp.SymbolKind.Event,
}
_CONTAINER = lsp.SymbolKind.Namespace


def _detail(step: ast.Step) -> str:
    if isinstance(step, ast.UsesStep):
        return step.uses
    if isinstance(step, ast.CallStep):
        return f"call {step.flow}"
    return step.kind


def _symbol(
    positions: PositionMap,
    name: str,
    kind: lsp.SymbolKind,
    span: Span,
    selection: Span,
    detail: str | None = None,
    children: list[lsp.DocumentSymbol] | None = None,
) -> lsp.DocumentSymbol:
    full = positions.span_range(span)
    chosen = positions.span_range(selection)
    # LSP requires the selection inside the full range; a front end may give a step's span
    # that starts at its id, so widen the full range when needed.
    if (chosen.start.line, chosen.start.character) < (full.start.line, full.start.character):
        full.start = chosen.start
    if (chosen.end.line, chosen.end.character) > (full.end.line, full.end.character):
        full.end = chosen.end
    return lsp.DocumentSymbol(
        name=name or "(no id)",
        kind=kind,
        range=full,
        selection_range=chosen,
        detail=detail,
        children=children or None,
    )


def _steps(positions: PositionMap, steps: list[ast.Step]) -> list[lsp.DocumentSymbol]:
    out = []
    for step in steps:
        children = [s for body in step.bodies() for s in _steps(positions, body)]
        kind = _KINDS.get(step.kind, _CONTAINER)
        out.append(
            _symbol(positions, step.id, kind, step.span, step.id_span, _detail(step), children)
        )
    return out


def _section(
    positions: PositionMap, name: str, steps: list[ast.Step] | None
) -> list[lsp.DocumentSymbol]:
    if not steps:
        return []
    children = _steps(positions, steps)
    first, last = children[0].range, children[-1].range
    return [
        lsp.DocumentSymbol(
            name=name,
            kind=lsp.SymbolKind.Namespace,
            range=lsp.Range(start=first.start, end=last.end),
            selection_range=lsp.Range(start=first.start, end=first.start),
            children=children,
        )
    ]


def document_symbols(flow: ast.Flow, positions: PositionMap) -> list[lsp.DocumentSymbol]:
    """The outline: declarations first, then the steps, then catch/finally and outputs."""
    out: list[lsp.DocumentSymbol] = []
    for decl in flow.inputs:
        out.append(
            _symbol(positions, decl.name, lsp.SymbolKind.Field, decl.span, decl.span, decl.type)
        )
    for var in flow.vars:
        out.append(_symbol(positions, var.name, lsp.SymbolKind.Variable, var.span, var.span))
    for trigger in flow.triggers:
        selection = trigger.id_span if trigger.id_span.end > trigger.id_span.start else trigger.span
        out.append(
            _symbol(
                positions, trigger.id, lsp.SymbolKind.Event, trigger.span, selection, trigger.type
            )
        )
    out.extend(_steps(positions, flow.steps))
    out.extend(_section(positions, "catch", flow.catch))
    out.extend(_section(positions, "finally", flow.finally_))
    for output in flow.outputs:
        span = output.span.cover(output.value.span)
        out.append(_symbol(positions, output.name, lsp.SymbolKind.Property, span, output.span))
    return out


def register(server: FlowServer) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def symbols(ls: FlowServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
        file = ls.current(params.text_document.uri)
        if file is None or file.flow is None or file.positions is None:
            return []
        return document_symbols(file.flow, file.positions)
