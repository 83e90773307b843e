"""The client's models agree with the server's OpenAPI document (tests/golden/openapi.json,
itself checked against the live app): the same fields, the same ones nullable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from flowpilot.client import models as m

OPENAPI = Path(__file__).resolve().parents[1] / "golden" / "openapi.json"

#: Client models whose server schema has another name.
RENAMED: dict[str, Any] = {
    "WorkflowList": m.Page[m.Workflow],
    "VersionList": m.Page[m.VersionInfo],
    "ExecutionPage": m.Page[m.ExecutionSummary],
    "LogPage": m.Page[m.LogEntry],
    "SyncList": m.Page[m.SyncSummary],
    "ExportPage": m.Page[m.ExportedFlow],
    "SyncBundle": m.Bundle,
}
#: Models with no schema of their own: the WebSocket events are not in the OpenAPI document.
NOT_IN_OPENAPI = {"Model", "Page", "ExecutionEvent", "Bundle", "BundleFile"}


def _models() -> dict[str, Any]:
    found = {
        name: cls
        for name in m.__all__
        if isinstance(cls := getattr(m, name), type)
        and issubclass(cls, m.Model)
        and name not in NOT_IN_OPENAPI
    }
    return {**found, **RENAMED}


def _nullable(schema: dict[str, Any]) -> bool | None:
    """Whether the property admits null; None when it admits anything."""
    if not schema:
        return None
    types = schema.get("type")
    if isinstance(types, list):
        return "null" in types
    return any(option.get("type") == "null" for option in schema.get("oneOf", []))


def _client_nullable(info: msgspec.inspect.Type) -> bool | None:
    if isinstance(info, msgspec.inspect.AnyType):
        return None
    if isinstance(info, msgspec.inspect.UnionType):
        return any(isinstance(t, msgspec.inspect.NoneType) for t in info.types)
    return isinstance(info, msgspec.inspect.NoneType)


def _mismatches(schema_name: str, model: Any, schemas: dict[str, Any]) -> list[str]:
    if schema_name not in schemas:
        return [f"the server has no schema {schema_name}"]
    schema = schemas[schema_name]
    fields = {f.encode_name: f for f in msgspec.inspect.type_info(model).fields}
    found = [
        f"{schema_name}.{name}: {'only in the client' if name in fields else 'not in the client'}"
        for name in sorted(set(fields) ^ set(schema["properties"]))
    ]
    for name in sorted(set(fields) & set(schema["properties"])):
        server = _nullable(schema["properties"][name])
        client = _client_nullable(fields[name].type)
        if server is not None and client is not None and client != server:
            found.append(f"{schema_name}.{name}: nullable in the client {client}, server {server}")
        # What the server always sends, the client requires (and the other way round).
        if fields[name].required != (name in schema.get("required", [])):
            found.append(f"{schema_name}.{name}: required in the client {fields[name].required}")
    return found


def test_every_model_has_the_fields_of_its_server_schema() -> None:
    schemas = json.loads(OPENAPI.read_text())["components"]["schemas"]
    models = _models()
    assert len(models) > 30
    mismatches = [e for name, model in models.items() for e in _mismatches(name, model, schemas)]
    assert mismatches == []
