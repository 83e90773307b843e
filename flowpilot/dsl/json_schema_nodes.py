"""The ``with:`` part of the flow JSON Schema: one definition per node type of a registry.

Each node's input schema is shown as the editor should see it (:func:`argument_schema`), and a
``uses`` step gets the definition of the node type its ``uses`` value selects through
``if``/``then``.
"""

from __future__ import annotations

from typing import Any

from flowpilot.dsl.json_schema_common import Schema, doc, ref
from flowpilot.stdlib.registry import NodeType, Registry

__all__ = ["argument_schema", "node_definitions"]

_ANNOTATIONS = frozenset(
    {"title", "description", "markdownDescription", "default", "examples", "deprecated"}
)


def argument_schema(schema: Any, *, wrap: bool = True) -> Any:
    """A node input schema as the editor should see it: ``x-`` extensions removed, and every
    place a value is written also accepting a ``${{ … }}`` string.

    ``oneOf`` becomes ``anyOf``: an expression may satisfy several alternatives at once, which
    ``oneOf`` would reject. ``wrap=False`` is for the ``with:`` object itself (always a mapping)
    and for alternatives, whose parent is wrapped once.
    """
    if not isinstance(schema, dict):
        return schema
    out: Schema = {}
    for key, value in schema.items():
        if key.startswith("x-"):
            continue
        if key in ("properties", "patternProperties") and isinstance(value, dict):
            out[key] = {name: argument_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "contains"):
            out[key] = argument_schema(value)
        elif key == "prefixItems":
            out[key] = [argument_schema(sub) for sub in value]
        elif key in ("anyOf", "oneOf", "allOf"):
            subs = [argument_schema(sub, wrap=False) for sub in value]
            target = "allOf" if key == "allOf" else "anyOf"
            if target in out:
                out.setdefault("allOf", []).append({target: subs})
            else:
                out[target] = subs
        else:
            out[key] = value
    if not wrap or not set(out) - _ANNOTATIONS:
        return out
    notes = {k: out.pop(k) for k in list(out) if k in _ANNOTATIONS}
    return {**notes, "anyOf": [out, ref("expression")]}


def _node_markdown(node: NodeType) -> str:
    text = f"**{node.name}@{node.version}** — {node.summary}"
    if node.description:
        text += "\n\n" + node.description
    return text


def _node_refs(registry: Registry) -> tuple[list[str], list[str], list[tuple[list[str], NodeType]]]:
    """Every accepted ``uses`` value with its hover text, and which values select which type."""
    values: list[str] = []
    docs: list[str] = []
    selectors: list[tuple[list[str], NodeType]] = []
    for node in registry:  # sorted by name, then version
        refs = [f"{node.name}@{node.version}"]
        if registry.get(node.name) is node:
            refs.insert(0, node.name)  # the bare name means the latest major
        values.extend(refs)
        docs.extend(_node_markdown(node) for _ in refs)
        selectors.append((refs, node))
    return values, docs, selectors


def node_definitions(registry: Registry) -> tuple[dict[str, Schema], list[Schema]]:
    """The ``$defs`` of ``registry``'s node types (``node_ref`` and one ``with.<node>@<n>`` per
    type), and the ``if``/``then`` rules that apply them to a ``uses`` step."""
    values, docs, selectors = _node_refs(registry)
    defs: dict[str, Schema] = {
        "node_ref": doc(
            "A node type, `<namespace>.<name>`, optionally pinned to a major version with `@<n>`.",
            type="string",
            enum=values,
            markdownEnumDescriptions=docs,
        )
    }
    rules: list[Schema] = []
    for refs, node in selectors:
        def_name = f"with.{node.name}@{node.version}"
        with_schema = argument_schema(dict(node.inputs), wrap=False)
        with_schema["description"] = node.summary
        with_schema["markdownDescription"] = _node_markdown(node)
        defs[def_name] = with_schema
        selector: Schema = {"const": refs[0]} if len(refs) == 1 else {"enum": refs}
        then: Schema = {"properties": {"with": ref(def_name)}}
        if node.required_arguments:
            then["required"] = ["with"]
        rules.append({"if": {"properties": {"uses": selector}, "required": ["uses"]}, "then": then})
    return defs, rules
