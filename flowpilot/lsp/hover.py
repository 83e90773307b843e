"""Hover: node documentation, an argument's schema, a function's signature, an expression's
inferred type, and what a step id, input, var or ``call:`` target is."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from flowpilot.compiler.functions import FUNCTIONS, signature_text
from flowpilot.dsl import ast
from flowpilot.dsl.diagnostics import DiagnosticSink
from flowpilot.dsl.expressions import parse_expression
from flowpilot.dsl.span import LineIndex, Origin
from flowpilot.lsp.lookup import argument_markdown, innermost, site_at
from flowpilot.lsp.occurrences import template_fields
from flowpilot.stdlib.docs import render_node_markdown

if TYPE_CHECKING:
    from flowpilot.lsp.server import FlowServer
    from flowpilot.lsp.workspace import FlowFile

_STATEMENT = re.compile(r"\s*(?:(?:el)?if|for\s+\w+(?:\s*,\s*\w+)?\s+in)\s+")
_TEMPLATE_EXPR = re.compile(r"\{\{-?(.*?)-?\}\}|\{%-?(.*?)-?%\}", re.DOTALL)


def _within(span_start: int, span_end: int, offset: int) -> bool:
    return span_start <= offset <= span_end and span_end > span_start


class _Hover:
    def __init__(self, server: FlowServer, file: FlowFile, offset: int) -> None:
        self.server = server
        self.file = file
        self.offset = offset
        assert file.result is not None and file.result.flow is not None
        self.flow = file.result.flow
        self.source = file.result.source

    def find(self) -> tuple[str, int, int] | None:
        """(markdown, start, end) of what is under the cursor."""
        offset = self.offset
        step = innermost(self.flow, offset, lambda n: isinstance(n, ast.Step))
        if isinstance(step, ast.Step):
            found = self._step(step)
            if found is not None:
                return found
        expr = innermost(self.flow, offset, lambda n: isinstance(n, ast.Expr))
        if isinstance(expr, ast.Expr):
            return self._expression(expr)
        if isinstance(step, ast.UsesStep):
            found = self._template(step)
            if found is not None:
                return found
        return self._declaration()

    def _step(self, step: ast.Step) -> tuple[str, int, int] | None:
        offset = self.offset
        registry = self.server.flows.registry
        if isinstance(step, ast.UsesStep):
            span = step.uses_span
            node_type = registry.get(step.uses) if step.uses else None
            if node_type is not None and _within(span.start, span.end, offset):
                return (render_node_markdown(node_type, level=3), span.start, span.end)
            if node_type is not None and step.args is not None:
                for entry in step.args.entries:
                    if _within(entry.span.start, entry.span.end, offset):
                        doc = argument_markdown(node_type, entry.key)
                        if doc is not None:
                            return (doc, entry.span.start, entry.span.end)
        if isinstance(step, ast.CallStep) and _within(
            step.flow_span.start, step.flow_span.end, offset
        ):
            return (self._flow_summary(step.flow), step.flow_span.start, step.flow_span.end)
        if _within(step.id_span.start, step.id_span.end, offset):
            return (self._step_summary(step), step.id_span.start, step.id_span.end)
        return None

    def _step_summary(self, step: ast.Step) -> str:
        what = f"`{step.uses}`" if isinstance(step, ast.UsesStep) else f"a `{step.kind}` step"
        lines = [f"**step {step.id}** — {what}"]
        if step.name or step.description:
            lines += ["", step.description or step.name or ""]
        # The id is in no expression site, so the re-check walks the whole flow: the step's
        # output type is known afterwards.
        site = site_at(self.server, self.file, step.id_span.start)
        info = site.ctx.steps.get(step.id) if site is not None else None
        if info is not None:
            lines += ["", f"output: `{info.output.describe()}`"]
        return "\n".join(lines)

    def _flow_summary(self, flow_id: str) -> str:
        target = self.server.flows.flow_file(flow_id)
        if target is None or target.flow is None:
            return f"**flow {flow_id}** — not in this workspace"
        flow = target.flow
        lines = [f"**flow {flow_id}**" + (f" — {flow.name}" if flow.name else "")]
        if flow.description:
            lines += ["", flow.description]
        if flow.inputs:
            lines += ["", "inputs:"]
            lines += [
                f"- `{d.name}`: `{d.type}{'' if d.required else '?'}`"
                + (f" — {d.description}" if d.description else "")
                for d in flow.inputs
            ]
        return "\n".join(lines)

    def _expression(self, expr: ast.Expr) -> tuple[str, int, int] | None:
        offset = self.offset
        if isinstance(expr, ast.Call) and _within(expr.name_span.start, expr.name_span.end, offset):
            spec = FUNCTIONS.get(expr.func)
            if spec is None:
                return None
            doc = f"```\n{signature_text(expr.func)}\n```\n\n{spec.doc}"
            return (doc, expr.name_span.start, expr.name_span.end)
        site = site_at(self.server, self.file, offset)
        if site is None:
            return None
        typ = site.infer(expr)
        text = self.source[expr.span.start : expr.span.end]
        doc = f"```\n{text}: {typ.describe()}\n```"
        return (doc, expr.span.start, expr.span.end)

    def _template(self, step: ast.UsesStep) -> tuple[str, int, int] | None:
        """An expression inside a ``{{ }}`` of a template field (Jinja text the AST keeps as
        a string): parse the one under the cursor and infer its type there."""
        for value in template_fields(step, self.server.flows.registry):
            if not _within(value.span.start, value.span.end, self.offset):
                continue
            raw = self.source[value.span.start : value.span.end]
            for match in _TEMPLATE_EXPR.finditer(raw):
                group = 1 if match.group(1) is not None else 2
                start = value.span.start + match.start(group)
                end = value.span.start + match.end(group)
                if not start <= self.offset <= end:
                    continue
                return self._template_expression(match.group(group), start)
        return None

    def _template_expression(self, text: str, start: int) -> tuple[str, int, int] | None:
        keyword = _STATEMENT.match(text)
        if keyword is not None:  # `{% if x %}`, `{% for a in x %}`: the expression after it
            text, start = text[keyword.end() :], start + keyword.end()
        line, column = LineIndex(self.source).position(start)
        origin = Origin(self.file.name, line, column, start)
        expr = parse_expression(text, origin, DiagnosticSink())
        if expr is None:
            return None
        ast.link_parents(expr)
        found = innermost(expr, self.offset, lambda n: isinstance(n, ast.Expr))
        return self._expression(found) if isinstance(found, ast.Expr) else None

    def _declaration(self) -> tuple[str, int, int] | None:
        offset = self.offset
        for decl in self.flow.inputs:
            if _within(decl.span.start, decl.span.end, offset):
                doc = f"**input {decl.name}**: `{decl.type}{'' if decl.required else '?'}`"
                if decl.description:
                    doc += f"\n\n{decl.description}"
                return (doc, decl.span.start, decl.span.end)
        for var in self.flow.vars:
            if _within(var.span.start, var.span.end, offset):
                site = site_at(self.server, self.file, var.value.span.start)
                typ = site.ctx.var_types.get(var.name) if site is not None else None
                doc = f"**var {var.name}**" + (f": `{typ.describe()}`" if typ else "")
                return (doc, var.span.start, var.span.end)
        return None


def hover(server: FlowServer, file: FlowFile, offset: int) -> lsp.Hover | None:
    if file.result is None or file.result.flow is None or file.positions is None:
        return None
    found = _Hover(server, file, offset).find()
    if found is None:
        return None
    text, start, end = found
    return lsp.Hover(
        contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text),
        range=file.positions.offsets_range(start, end),
    )


def register(server: FlowServer) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: FlowServer, params: lsp.HoverParams) -> lsp.Hover | None:
        file = ls.current(params.text_document.uri)
        if file is None or file.positions is None:
            return None
        return hover(ls, file, file.positions.offset(params.position))
