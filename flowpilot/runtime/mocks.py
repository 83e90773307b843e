"""Values generated from a JSON Schema, for dry runs of steps that have no ``mock:``."""

from __future__ import annotations

from typing import Any

_MAX_DEPTH = 6


def example_from_schema(schema: dict[str, Any], depth: int = 0) -> Any:
    """A small value that satisfies ``schema`` (defaults, examples, enums and consts first)."""
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("oneOf", "anyOf"):
        if schema.get(key):
            options = [o for o in schema[key] if o.get("type") != "null"] or schema[key]
            return example_from_schema(options[0], depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        required = schema.get("required", list(props))
        return {k: example_from_schema(props[k], depth + 1) for k in required if k in props}
    if kind == "array":
        count = max(1, schema.get("minItems", 1))
        return [example_from_schema(schema.get("items", {}), depth + 1) for _ in range(count)]
    if kind == "string":
        fmt = schema.get("format")
        return {
            "date-time": "2026-01-01T00:00:00Z",
            "date": "2026-01-01",
            "email": "someone@example.com",
            "uri": "https://example.com/",
            "uuid": "00000000-0000-7000-8000-000000000000",
        }.get(fmt, "example")
    if kind == "integer":
        return max(0, schema.get("minimum", 0))
    if kind == "number":
        return max(0, schema.get("minimum", 0))
    if kind == "boolean":
        return False
    return None
