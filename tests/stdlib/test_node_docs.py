"""The node reference: per-node Markdown and the committed docs/nodes.md."""

from __future__ import annotations

from pathlib import Path

from flowpilot.stdlib.docs import (
    builtin_catalogue_markdown,
    render_node_markdown,
    schema_type_label,
)
from flowpilot.stdlib.registry import default_registry

NODES_MD = Path(__file__).resolve().parents[2] / "docs" / "nodes.md"


def test_node_page_lists_arguments_output_and_example() -> None:
    text = render_node_markdown(default_registry().get("email.send"))
    assert text.startswith("# `email.send` (v1)")
    assert "**Status:** available" in text
    assert "**Credential:** `smtp`" in text
    assert "| `to` | `string<email> \\| string<email>[]` | yes |" in text
    assert "| `priority` |" in text and '`"normal"`' in text
    assert "| `accepted` | `string<email>[]` |" in text
    assert "```yaml\n- id: notify\n  uses: email.send" in text


def test_nested_fields_are_flattened() -> None:
    text = render_node_markdown(default_registry().get("documents.search"))
    assert "| `results[].score` | `number` |" in text


def test_schema_driven_output_is_explained() -> None:
    text = render_node_markdown(default_registry().get("ai.extract"))
    assert "typed by the `schema` argument" in text


def test_type_labels() -> None:
    assert schema_type_label({"type": ["string", "null"]}) == "string?"
    assert schema_type_label({"x-type": "file"}) == "file"
    assert schema_type_label({"type": "array", "items": {"x-type": "file"}}) == "file[]"
    assert schema_type_label({"type": "string", "x-secret": True}) == "string | secret"
    assert schema_type_label({"type": "string", "x-template": True}) == "template"
    assert schema_type_label({"enum": ["a", "b"]}) == '"a" | "b"'
    assert schema_type_label({}) == "any"


def test_docs_nodes_md_is_up_to_date() -> None:
    expected = builtin_catalogue_markdown()
    assert NODES_MD.read_text(encoding="utf-8") == expected, (
        "docs/nodes.md is stale: run `python -m flowpilot.stdlib.docs > docs/nodes.md`"
    )
