"""Markdown reference for node types: one node (``flowpilot nodes NAME``, hover) or the catalogue.

``python -m flowpilot.stdlib.docs > docs/nodes.md`` regenerates the committed reference of the
built-in catalogue; a test keeps that file in sync with the schemas.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from itertools import groupby
from typing import Any

import yaml

from flowpilot.stdlib.catalog._schemas import DURATION_PATTERN
from flowpilot.stdlib.registry import NodeType, Registry, builtin_node_types

_MAX_DEPTH = 3


def schema_type_label(schema: Mapping[str, Any] | bool | None) -> str:
    """A short, human type for a JSON Schema: ``string<email>``, ``file[]``, ``"a" | "b"``."""
    if not isinstance(schema, Mapping):
        return "any"
    label = _bare_label(schema)
    if schema.get("x-secret"):
        label += " | secret"
    return label


def _bare_label(schema: Mapping[str, Any]) -> str:
    if schema.get("x-type") in ("file", "secret"):
        return str(schema["x-type"])
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            variants = schema[key]
            if all(isinstance(v, Mapping) and _variant_tag(v) for v in variants):
                return "object (" + " | ".join(_variant_tag(v) for v in variants) + ")"
            return _join(schema_type_label(v) for v in variants)
    if "const" in schema:
        return json.dumps(schema["const"])
    if isinstance(schema.get("enum"), list):
        return " | ".join(json.dumps(v) for v in schema["enum"])
    typ = schema.get("type")
    if isinstance(typ, list):
        return _join(_typed_label(schema, t) for t in typ)
    if isinstance(typ, str):
        return _typed_label(schema, typ)
    return "any"


def _typed_label(schema: Mapping[str, Any], typ: str) -> str:
    if typ == "string":
        if schema.get("x-template"):
            return "template"
        if schema.get("pattern") == DURATION_PATTERN:
            return "duration"
        fmt = schema.get("format")
        return f"string<{fmt}>" if fmt else "string"
    if typ == "array":
        inner = schema_type_label(schema.get("items"))
        return f"({inner})[]" if " | " in inner else f"{inner}[]"
    if typ == "object":
        extra = schema.get("additionalProperties")
        if not schema.get("properties") and isinstance(extra, Mapping):
            return f"map<string, {schema_type_label(extra)}>"
        return "object"
    return typ


def _variant_tag(variant: Mapping[str, Any]) -> str:
    """The discriminator value of a tagged object variant (``{"type": {"const": "bearer"}}``)."""
    tag = (variant.get("properties") or {}).get("type")
    if not isinstance(tag, Mapping):
        return ""
    if "const" in tag:
        return str(tag["const"])
    if isinstance(tag.get("enum"), list) and len(tag["enum"]) == 1:
        return str(tag["enum"][0])
    return ""


def _join(labels: Iterable[str]) -> str:
    seen: list[str] = []
    for label in labels:
        if label not in seen:
            seen.append(label)
    # "string | null" reads better as "string?"
    if len(seen) == 2 and "null" in seen:
        other = seen[0] if seen[1] == "null" else seen[1]
        return f"{other}?" if " | " not in other else f"({other})?"
    return " | ".join(seen)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _object_part(schema: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The object schema to list fields of: the schema itself, an array's items, or the one
    non-null branch of a nullable."""
    if not isinstance(schema, Mapping) or schema.get("x-type") in ("file", "secret"):
        return None
    if schema.get("type") == "array":
        return _object_part(schema.get("items") or {})
    for key in ("anyOf", "oneOf"):
        variants = schema.get(key)
        if isinstance(variants, list):
            non_null = [v for v in variants if isinstance(v, Mapping) and v.get("type") != "null"]
            return _object_part(non_null[0]) if len(non_null) == 1 else None
    if isinstance(schema.get("properties"), Mapping) and schema["properties"]:
        return schema
    return None


def _fields(
    schema: Mapping[str, Any], prefix: str = "", depth: int = 0
) -> Iterator[tuple[str, Mapping[str, Any], bool]]:
    """``(dotted name, schema, required)`` for every property, nested objects flattened."""
    required = set(schema.get("required", []))
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, Mapping):
            continue
        path = f"{prefix}{name}"
        yield path, prop, name in required
        nested = _object_part(prop)
        if nested is not None and depth + 1 < _MAX_DEPTH:
            suffix = "[]." if prop.get("type") == "array" else "."
            yield from _fields(nested, path + suffix, depth + 1)


def _describe(prop: Mapping[str, Any]) -> str:
    """The description, plus the fields of each variant of a tagged union (``auth``)."""
    text = str(prop.get("description", ""))
    variants = prop.get("oneOf") or prop.get("anyOf")
    if isinstance(variants, list) and variants and all(_variant_tag(v) for v in variants):
        parts = []
        for v in variants:
            names = ", ".join(f"`{k}`" for k in v.get("properties", {}) if k != "type")
            parts.append(f"`type: {_variant_tag(v)}` → {names}")
        text += " Variants: " + "; ".join(parts) + "."
    return text


def _default(prop: Mapping[str, Any]) -> str:
    if "default" not in prop:
        return ""
    return f"`{json.dumps(prop['default'], ensure_ascii=False)}`"


def _arguments_table(node_type: NodeType) -> list[str]:
    rows = ["| argument | type | required | default | description |", "|---|---|---|---|---|"]
    for path, prop, required in _fields(node_type.inputs):
        # A nested field's "required" is relative to its parent object.
        rows.append(
            f"| `{path}` | `{_cell(schema_type_label(prop))}` | {'yes' if required else 'no'} | "
            f"{_cell(_default(prop))} | {_cell(_describe(prop))} |"
        )
    return rows if len(rows) > 2 else ["This node type takes no arguments."]


def _output_section(node_type: NodeType) -> list[str]:
    lines: list[str] = []
    out = node_type.output
    if node_type.output_from:
        lines.append(
            f"The output is typed by the `{node_type.output_from}` argument (a JSON Schema); "
            f"without it: `{_cell(schema_type_label(out))}`."
        )
        return lines
    fields = list(_fields(out)) if _object_part(out) is out else []
    if not fields:
        lines.append(f"`{_cell(schema_type_label(out))}` — {out.get('description', '')}".rstrip())
        return lines
    lines += ["| field | type | description |", "|---|---|---|"]
    for path, prop, _ in fields:
        label = _cell(schema_type_label(prop))
        lines.append(f"| `{path}` | `{label}` | {_cell(_describe(prop))} |")
    return lines


def _examples_block(node_type: NodeType) -> list[str]:
    if not node_type.examples or "```yaml" in node_type.description:
        return []
    text = yaml.safe_dump(list(node_type.examples), sort_keys=False, allow_unicode=True)
    return ["**Example**", "", "```yaml", text.rstrip(), "```", ""]


def render_node_markdown(node_type: NodeType, *, level: int = 1) -> str:
    """Markdown reference of one node type.

    Args:
        node_type: the node type.
        level: heading level of the title (sections use ``level + 1``).
    """
    h = "#" * level
    facts = [
        f"**Category:** {node_type.category}",
        f"**Status:** {node_type.status}",
        f"**Side effects:** {'yes' if node_type.side_effects else 'no'}",
    ]
    if node_type.credential:
        facts.append("**Credential:** " + " or ".join(f"`{k}`" for k in node_type.credential_kinds))
    if node_type.pure:
        facts.append("**Runs inline** (pure)")
    lines = [
        f"{h} `{node_type.name}` (v{node_type.version})",
        "",
        node_type.summary,
        "",
        " · ".join(facts),
        "",
    ]
    if node_type.description:
        lines += [node_type.description.strip(), ""]
    lines += _examples_block(node_type)
    lines += [f"{h}# Arguments", "", *_arguments_table(node_type), ""]
    lines += [f"{h}# Output", "", *_output_section(node_type), ""]
    return "\n".join(lines)


def render_catalogue_markdown(node_types: Iterable[NodeType]) -> str:
    """The whole catalogue, grouped by namespace, with a table of contents."""
    ordered = sorted(node_types, key=lambda t: (t.namespace, t.name, t.version))
    by_namespace = [(ns, list(group)) for ns, group in groupby(ordered, key=lambda t: t.namespace)]
    available = sum(t.implemented for t in ordered)
    lines = [
        "# Node reference",
        "",
        "<!-- Generated by `python -m flowpilot.stdlib.docs > docs/nodes.md`; do not edit. -->",
        "",
        f"{len(ordered)} node types in {len(by_namespace)} namespaces "
        f"({available} available, {len(ordered) - available} planned). A *planned* node type "
        "type-checks in flows but cannot run yet in this release.",
        "",
        "| node type | summary | category | status |",
        "|---|---|---|---|",
    ]
    for t in ordered:
        anchor = _anchor(t)
        lines.append(
            f"| [`{t.name}`](#{anchor}) | {_cell(t.summary)} | {t.category} | {t.status} |"
        )
    lines.append("")
    for namespace, types in by_namespace:
        lines += [f"## {namespace}", ""]
        for t in types:
            lines.append(render_node_markdown(t, level=3))
    return "\n".join(lines).rstrip() + "\n"


def _anchor(node_type: NodeType) -> str:
    """GitHub's heading anchor for ``### `name` (vN)``."""
    text = f"{node_type.name} v{node_type.version}".lower()
    return "".join(c for c in text if c.isalnum() or c in " -_").replace(" ", "-")


def builtin_catalogue_markdown() -> str:
    """``docs/nodes.md``: the built-in catalogue only (entry-point nodes are not documented)."""
    return render_catalogue_markdown(Registry(builtin_node_types()))


def main() -> None:
    sys.stdout.write(builtin_catalogue_markdown())


if __name__ == "__main__":
    main()
