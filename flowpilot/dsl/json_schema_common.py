"""Building blocks shared by the JSON Schema modules of the YAML form."""

from __future__ import annotations

from typing import Any

__all__ = ["Schema", "doc", "ref"]

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    """A reference to the definition ``name`` under ``$defs``."""
    return {"$ref": f"#/$defs/{name}"}


def doc(text: str, markdown: str | None = None, **schema: Any) -> Schema:
    """A schema with a plain ``description`` and, for hovers, an optional Markdown one."""
    out: Schema = {"description": text}
    if markdown:
        out["markdownDescription"] = markdown
    out.update(schema)
    return out
