"""Completion: node types, arguments, enum values, step ids, output fields, inputs, vars,
secrets and functions — whatever is valid at the cursor.

:mod:`cursor` says what kind of position the cursor is at; the answer comes from the registry
(node types and their schemas) and from the compiler: the step ids visible at that point and
the type of the path before a ``.`` are what the type checker sees there
(:func:`flowpilot.compiler.sites.scope_at`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from flowpilot.compiler import types as T
from flowpilot.compiler.context import GLOBAL_NAMES
from flowpilot.compiler.functions import FUNCTIONS, signature_text
from flowpilot.dsl import ast
from flowpilot.lsp.cursor import Cursor, analyse
from flowpilot.lsp.lookup import (
    argument_markdown,
    field_docs,
    output_schema,
    parse_path,
    site_at,
    uses_step_named,
)
from flowpilot.stdlib.docs import render_node_markdown, schema_type_label
from flowpilot.stdlib.registry import NodeType

if TYPE_CHECKING:
    from flowpilot.compiler.sites import SiteScope
    from flowpilot.lsp.server import FlowServer
    from flowpilot.lsp.workspace import FlowFile

TRIGGER_CHARACTERS = [".", ":", " ", "(", ",", "|", "{", "@"]
_SECRET_USE = re.compile(r"\bsecrets\s*(?:\.\s*([A-Za-z_]\w*)|\[\s*['\"]([^'\"]+)['\"]\s*\])")


class _Request:
    """One completion request: the file, the cursor and how to make items replace the word."""

    def __init__(self, server: FlowServer, file: FlowFile, offset: int, cursor: Cursor) -> None:
        self.server = server
        self.file = file
        self.offset = offset
        self.cursor = cursor
        assert file.positions is not None
        self.range = file.positions.offsets_range(cursor.start, offset)

    def item(
        self,
        label: str,
        kind: lsp.CompletionItemKind,
        detail: str | None = None,
        doc: str | None = None,
        insert: str | None = None,
        sort: str | None = None,
    ) -> lsp.CompletionItem:
        return lsp.CompletionItem(
            label=label,
            kind=kind,
            detail=detail,
            documentation=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=doc)
            if doc
            else None,
            text_edit=lsp.TextEdit(range=self.range, new_text=insert or label),
            filter_text=label,
            sort_text=sort,
        )

    def site(self) -> SiteScope | None:
        return site_at(self.server, self.file, self.offset)

    def node_type(self) -> NodeType | None:
        name = self.cursor.node
        return self.server.flows.registry.get(name) if name else None


_NODE_DOCS: dict[tuple[str, int], str] = {}


def _node_doc(node_type: NodeType) -> str:
    key = (node_type.name, node_type.version)
    if key not in _NODE_DOCS:
        _NODE_DOCS[key] = render_node_markdown(node_type, level=3)
    return _NODE_DOCS[key]


def _uses(req: _Request) -> list[lsp.CompletionItem]:
    return [
        req.item(
            t.name,
            lsp.CompletionItemKind.Class,
            f"{t.name}@{t.version} — {t.summary}",
            _node_doc(t),
        )
        for t in req.server.flows.registry
    ]


def _arg_keys(req: _Request) -> list[lsp.CompletionItem]:
    node_type = req.node_type()
    if node_type is None:
        return []
    required = set(node_type.required_arguments)
    items = []
    for key, prop in node_type.arguments.items():
        label = schema_type_label(prop)
        is_required = key in required
        items.append(
            req.item(
                key,
                lsp.CompletionItemKind.Property,
                f"{label}{' (required)' if is_required else ''}",
                argument_markdown(node_type, key),
                insert=f"{key}: ",
                sort=("0" if is_required else "1") + key,
            )
        )
    return items


def _arg_values(req: _Request) -> list[lsp.CompletionItem]:
    node_type = req.node_type()
    prop = node_type.arguments.get(req.cursor.key or "") if node_type is not None else None
    items = []
    if isinstance(prop, dict) and isinstance(prop.get("enum"), list):
        quote = "" if req.cursor.quote or not req.cursor.text_syntax else '"'
        for value in prop["enum"]:
            if isinstance(value, str):
                items.append(
                    req.item(
                        value,
                        lsp.CompletionItemKind.EnumMember,
                        f"{req.cursor.key}: {schema_type_label(prop)}",
                        insert=f"{quote}{value}{quote}",
                    )
                )
    if req.cursor.text_syntax and not req.cursor.quote:
        items += _names(req)  # a value of the text syntax may be any expression
    return items


def _names(req: _Request) -> list[lsp.CompletionItem]:
    items = [
        req.item(name, lsp.CompletionItemKind.Function, signature_text(name), spec.doc)
        for name, spec in FUNCTIONS.items()
    ]
    if req.cursor.after_pipe:
        return items
    site = req.site()
    local_names = site.local_names() if site is not None else {}
    for name, typ in local_names.items():
        items.append(req.item(name, lsp.CompletionItemKind.Variable, typ.describe(), sort="0"))
    for name in GLOBAL_NAMES:
        items.append(req.item(name, lsp.CompletionItemKind.Module, sort="0" + name))
    return items


def _step_detail(step: ast.Step) -> str:
    return step.uses if isinstance(step, ast.UsesStep) else step.kind


def _steps(req: _Request) -> list[lsp.CompletionItem]:
    flow = req.file.flow or (req.file.last_good.flow if req.file.last_good else None)
    if flow is None:
        return []
    by_id = {s.id: s for s in flow.all_steps() if s.id}
    site = req.site()
    visible = site.visible_steps() if site is not None else dict.fromkeys(by_id, True)
    items = []
    for order, (step_id, certain) in enumerate(visible.items()):
        step = by_id.get(step_id)
        if step is None:
            continue
        note = "has run" if certain else "may have been skipped: guard its output"
        items.append(
            req.item(
                step_id,
                lsp.CompletionItemKind.Reference,
                f"{_step_detail(step)} — {note}",
                step.description or step.name,
                sort=f"{order:05d}",
            )
        )
    return items


def _declared(req: _Request) -> list[lsp.CompletionItem]:
    root = req.cursor.path
    flow = req.file.flow or (req.file.last_good.flow if req.file.last_good else None)
    if root == "secrets":
        return [
            req.item(name, lsp.CompletionItemKind.Constant, "secret")
            for name in sorted(_secret_names(req))
        ]
    if flow is None:
        return []
    if root == "inputs":
        return [
            req.item(
                d.name,
                lsp.CompletionItemKind.Field,
                d.type + ("" if d.required else "?"),
                d.description,
            )
            for d in flow.inputs
        ]
    site = req.site()
    types = site.ctx.var_types if site is not None else {}
    names = [v.name for v in flow.vars] + [
        e.key for s in flow.all_steps() if isinstance(s, ast.SetStep) for e in s.values.entries
    ]
    return [
        req.item(
            name,
            lsp.CompletionItemKind.Variable,
            types[name].describe() if name in types else "var",
        )
        for name in dict.fromkeys(names)
    ]


def _secret_names(req: _Request) -> set[str]:
    """Secret names used anywhere in the workspace (secrets are not declared in flows)."""
    names: set[str] = set()
    for file in req.server.flows.files.values():
        for match in _SECRET_USE.finditer(file.text):
            names.add(match.group(1) or match.group(2))
    return names


def _fields(req: _Request) -> list[lsp.CompletionItem]:
    path = req.cursor.path or ""
    expr = parse_path(path, req.file.name)
    site = req.site()
    if expr is None or site is None:
        return []
    typ = T.non_null(site.infer(expr))
    if not isinstance(typ, T.ObjectType):
        return []
    docs = _output_docs(req, path)
    return [
        req.item(name, lsp.CompletionItemKind.Field, field_type.describe(), docs.get(name) or None)
        for name, field_type in typ.properties
    ]


def _output_docs(req: _Request, path: str) -> dict[str, str]:
    """Descriptions of the fields after ``steps.<id>.output…`` from the node's output schema."""
    parts = path.split(".")
    if len(parts) < 3 or parts[0] != "steps" or parts[2] != "output":
        return {}
    step = uses_step_named(req.file.flow, parts[1])
    node_type = req.server.flows.registry.get(step.uses) if step is not None else None
    if node_type is None:
        return {}
    return field_docs(output_schema(node_type, parts[3:]))


def _path(req: _Request) -> list[lsp.CompletionItem]:
    if req.cursor.path == "steps":
        return _steps(req)
    if req.cursor.path in ("inputs", "vars", "secrets"):
        return _declared(req)
    return _fields(req)


_BY_KIND: dict[str, Callable[[_Request], Iterable[lsp.CompletionItem]]] = {
    "uses": _uses,
    "arg_key": _arg_keys,
    "arg_value": _arg_values,
    "path": _path,
    "name": _names,
}


def complete(server: FlowServer, file: FlowFile, offset: int) -> list[lsp.CompletionItem]:
    """Completion items at code-point ``offset`` of the file's current text."""
    cursor = analyse(file.text, offset, file.syntax == "text")
    handler = _BY_KIND.get(cursor.kind)
    if handler is None:
        return []
    return list(handler(_Request(server, file, offset, cursor)))


def register(server: FlowServer) -> None:
    @server.feature(
        lsp.TEXT_DOCUMENT_COMPLETION,
        lsp.CompletionOptions(trigger_characters=TRIGGER_CHARACTERS),
    )
    def completion(ls: FlowServer, params: lsp.CompletionParams) -> lsp.CompletionList:
        file = ls.current(params.text_document.uri)
        if file is None or file.positions is None:
            return lsp.CompletionList(is_incomplete=False, items=[])
        items = complete(ls, file, file.positions.offset(params.position))
        return lsp.CompletionList(is_incomplete=False, items=items)
