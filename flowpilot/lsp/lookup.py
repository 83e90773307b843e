"""Finding things at a position: AST nodes, the compiler's scope there, schema documentation.

Shared by completion and hover; the scope and types come from the compiler
(:func:`flowpilot.compiler.sites.scope_at`), the documentation from the node registry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from flowpilot.compiler.sites import SiteScope, scope_at
from flowpilot.dsl import ast
from flowpilot.dsl.diagnostics import DiagnosticSink
from flowpilot.dsl.expressions import parse_expression
from flowpilot.dsl.span import LineIndex, Origin
from flowpilot.stdlib.docs import schema_type_label
from flowpilot.stdlib.registry import NodeType

if TYPE_CHECKING:
    from flowpilot.lsp.server import FlowServer
    from flowpilot.lsp.workspace import FlowFile


def innermost(root: ast.Node, offset: int, want: Callable[[ast.Node], bool]) -> ast.Node | None:
    """The smallest node under ``root`` satisfying ``want`` whose span contains ``offset``."""
    best: ast.Node | None = None
    for node in root.walk():
        span = node.span
        if (
            span.start <= offset <= span.end
            and span.end > span.start
            and want(node)
            and (best is None or span.end - span.start <= best.span.end - best.span.start)
        ):
            best = node
    return best


def site_at(server: FlowServer, file: FlowFile, offset: int) -> SiteScope | None:
    """The compiler's scope at ``offset`` of the file's checked text.

    While the text does not parse, the latest version that did stands in for it, the offset
    moved to the same line and column there (an edit in progress rarely moves other lines).
    """
    result = file.result
    if result is None or result.flow is None:
        result = file.last_good
        if result is None:
            return None
        line, column = LineIndex(file.text).position(offset)
        good = LineIndex(result.source)
        if line > good.line_count:
            return None
        offset = good.line_start(line - 1) + min(column - 1, len(good.line_text(line)))
    assert result.flow is not None
    return scope_at(
        result.flow,
        result.source,
        offset,
        registry=server.flows.registry,
        options=server.flows.options,
    )


def parse_path(text: str, file: str) -> ast.Expr | None:
    """Parse a path such as ``steps.fetch.output.json`` typed before a ``.``."""
    expr = parse_expression(text, Origin(file, 1, 1, 0), DiagnosticSink())
    if expr is not None:
        ast.link_parents(expr)
    return expr


def output_schema(node_type: NodeType, fields: list[str]) -> Mapping[str, Any] | None:
    """The JSON Schema of ``output.<fields…>`` of a node type, where the schema says it."""
    schema: Any = node_type.output
    for name in fields:
        if not isinstance(schema, Mapping):
            return None
        if schema.get("type") == "array" and name.isdigit():
            schema = schema.get("items")
            continue
        props = schema.get("properties")
        if not isinstance(props, Mapping) or name not in props:
            return None
        schema = props[name]
    return schema if isinstance(schema, Mapping) else None


def field_docs(schema: Mapping[str, Any] | None) -> dict[str, str]:
    """Descriptions of the properties of an object schema, by name."""
    if schema is None:
        return {}
    props = schema.get("properties")
    if not isinstance(props, Mapping):
        return {}
    return {
        name: str(prop.get("description", ""))
        for name, prop in props.items()
        if isinstance(prop, Mapping)
    }


def argument_markdown(node_type: NodeType, key: str) -> str | None:
    """Hover/completion documentation of argument ``key`` of a node type."""
    prop = node_type.arguments.get(key)
    if not isinstance(prop, Mapping):
        return None
    required = key in node_type.required_arguments
    lines = [
        f"**{key}**: `{schema_type_label(prop)}`"
        + (" (required)" if required else " (optional)")
        + f" — argument of `{node_type.name}@{node_type.version}`"
    ]
    if prop.get("description"):
        lines += ["", str(prop["description"])]
    if "default" in prop:
        lines += ["", f"Default: `{json.dumps(prop['default'], ensure_ascii=False)}`"]
    if isinstance(prop.get("enum"), list):
        lines += ["", "One of: " + ", ".join(f"`{v}`" for v in prop["enum"])]
    schema = {k: v for k, v in prop.items() if not k.startswith("x-") and k != "description"}
    lines += ["", "```json", json.dumps(schema, indent=2, ensure_ascii=False), "```"]
    return "\n".join(lines)


def uses_step_named(flow: ast.Flow | None, step_id: str) -> ast.UsesStep | None:
    if flow is None:
        return None
    for step in flow.all_steps():
        if step.id == step_id and isinstance(step, ast.UsesStep):
            return step
    return None
