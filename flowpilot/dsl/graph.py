"""The graph view of a flow, for the visual editor and ``flowpilot graph``.

Steps become nodes; containers (group, parallel, switch cases, foreach, repeat, try sections)
are nodes with ``container: true`` that hold their children through ``parent``. Edges say how
control moves: ``next`` inside a sequence, ``case`` into a switch case (labelled with its
condition), ``error`` into a catch section, ``finally`` into a finally section. Every step node
carries its source span so the editor can jump to the code.
"""

from __future__ import annotations

from typing import Any

from flowpilot.dsl import ast

GRAPH_VERSION = 1


class _GraphBuilder:
    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[dict[str, Any]] = []

    def node(self, node_id: str, kind: str, label: str, parent: str | None, **extra: Any) -> None:
        self.nodes.append({"id": node_id, "kind": kind, "label": label, "parent": parent, **extra})

    def edge(self, source: str, target: str, kind: str = "next", label: str | None = None) -> None:
        edge: dict[str, Any] = {
            "id": f"{source}->{target}",
            "source": source,
            "target": target,
            "kind": kind,
        }
        if label:
            edge["label"] = label
        self.edges.append(edge)

    def sequence(self, steps: list[ast.Step], parent: str | None) -> tuple[str | None, str | None]:
        """Add ``steps`` in order; return the ids of the first and last step."""
        first = last = None
        for step in steps:
            node_id = self.step(step, parent)
            if last is not None:
                self.edge(last, node_id)
            first = first or node_id
            last = node_id
        return first, last

    def step(self, step: ast.Step, parent: str | None) -> str:
        kind = step.kind if step.kind != "steps" else "group"
        extra: dict[str, Any] = {
            "step": step.id,
            "span": step.span.to_json(),
            "container": bool(step.bodies()) or isinstance(step, ast.SwitchStep | ast.TryStep),
        }
        if isinstance(step, ast.UsesStep):
            extra["node_type"] = step.uses
        if isinstance(step, ast.CallStep):
            extra["flow"] = step.flow
        if step.if_ is not None:
            extra["condition"] = _source(step.if_)
        if step.comments:
            extra["comments"] = list(step.comments)
        self.node(step.id, kind, step.name or step.id, parent, **extra)
        if isinstance(step, ast.GroupStep | ast.ForeachStep | ast.RepeatStep):
            self.sequence(step.steps, step.id)
        elif isinstance(step, ast.ParallelStep):
            for branch in step.branches:
                self.step(branch, step.id)
        elif isinstance(step, ast.SwitchStep):
            for i, case in enumerate(step.cases):
                case_id = f"{step.id}#case{i}"
                label = _source(case.when)
                self.node(case_id, "case", label, step.id, container=True, condition=label)
                self.sequence(case.steps, case_id)
            if step.default is not None:
                default_id = f"{step.id}#default"
                self.node(default_id, "default", "default", step.id, container=True)
                self.sequence(step.default, default_id)
        elif isinstance(step, ast.TryStep):
            sections = (("try", step.try_), ("catch", step.catch), ("finally", step.finally_))
            for name, body in sections:
                if body is None:
                    continue
                section_id = f"{step.id}#{name}"
                self.node(section_id, name, name, step.id, container=True)
                self.sequence(body, section_id)
            if step.catch is not None:
                self.edge(f"{step.id}#try", f"{step.id}#catch", "error", "on error")
            if step.finally_ is not None:
                self.edge(f"{step.id}#try", f"{step.id}#finally", "finally", "always")
        return step.id


def _source(value: ast.Value) -> str:
    if isinstance(value, ast.ExprValue):
        return value.source
    if isinstance(value, ast.Scalar):
        return str(value.value)
    return "…"


def flow_graph(flow: ast.Flow) -> dict[str, Any]:
    """The graph JSON of ``flow`` (see the module docstring)."""
    builder = _GraphBuilder()
    builder.node("$start", "start", "start", None)
    first, last = builder.sequence(flow.steps, None)
    builder.node("$end", "end", "end", None)
    builder.edge("$start", first or "$end")
    if last is not None:
        builder.edge(last, "$end")
    for name, steps, kind in (
        ("catch", flow.catch, "error"),
        ("finally", flow.finally_, "finally"),
    ):
        if steps is None:
            continue
        section = f"${name}"
        builder.node(section, name, name, None, container=True)
        builder.sequence(steps, section)
        builder.edge("$start", section, kind, "on failure" if kind == "error" else "always")
    return {
        "version": GRAPH_VERSION,
        "flow": {"id": flow.id, "name": flow.name, "syntax": flow.syntax},
        "nodes": builder.nodes,
        "edges": builder.edges,
    }


def graph_to_dot(graph: dict[str, Any]) -> str:
    """Graphviz DOT for a graph made by :func:`flow_graph` (containers become clusters)."""
    children: dict[str | None, list[dict[str, Any]]] = {}
    for node in graph["nodes"]:
        children.setdefault(node["parent"], []).append(node)
    lines = [
        f'digraph "{_esc(graph["flow"]["id"])}" {{',
        "  rankdir=TB;",
        "  node [shape=box, style=rounded];",
    ]

    def emit(parent: str | None, depth: int) -> None:
        pad = "  " * depth
        for node in children.get(parent, []):
            if node.get("container"):
                lines.append(f'{pad}subgraph "cluster_{_esc(node["id"])}" {{')
                lines.append(f'{pad}  label="{_esc(node["kind"])}: {_esc(node["label"])}";')
                lines.append(f'{pad}  "{_esc(node["id"])}" [shape=point];')
                emit(node["id"], depth + 1)
                lines.append(f"{pad}}}")
            else:
                label = _esc(node["label"])
                if node.get("node_type"):
                    label += "\\n" + _esc(node["node_type"])
                shape = "ellipse" if node["kind"] in ("start", "end") else "box"
                lines.append(f'{pad}"{_esc(node["id"])}" [label="{label}", shape={shape}];')

    emit(None, 1)
    for edge in graph["edges"]:
        attrs = f' [label="{_esc(edge["label"])}"]' if edge.get("label") else ""
        lines.append(f'  "{_esc(edge["source"])}" -> "{_esc(edge["target"])}"{attrs};')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
