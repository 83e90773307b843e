"""Checking an execution's inputs against the flow's typed inputs before anything runs."""

from __future__ import annotations

from typing import Any

import jsonschema

_TYPE_SCHEMA = {
    "file": {"type": "object", "required": ["id", "name", "mime_type", "size"]},
    "secret": {"type": "string"},
    "any": {},
}
_NOT_JSON_SCHEMA = {"required", "default", "description", "accept", "x-type"}


class InputError(ValueError):
    """Inputs that do not match the flow; ``problems`` maps each field to what is wrong."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        listed = "; ".join(f"inputs.{k}: {v}" for k, v in problems.items())
        super().__init__(f"invalid inputs: {listed}")


def _json_schema(spec: dict[str, Any]) -> dict[str, Any]:
    schema = {k: v for k, v in spec.items() if k not in _NOT_JSON_SCHEMA}
    kind = schema.get("type")
    if kind in _TYPE_SCHEMA:
        schema.pop("type")
        schema.update(_TYPE_SCHEMA[kind])
    if "items" in schema and isinstance(schema["items"], dict):
        schema["items"] = _json_schema(schema["items"])
    return schema


def validate_inputs(declared: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The inputs with defaults applied; raises :class:`InputError` naming every bad field."""
    problems: dict[str, str] = {}
    if not isinstance(given, dict):
        raise InputError({"": "inputs must be an object"})
    for name in given:
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            problems[name] = f"unknown input (the flow declares: {known})"
    resolved: dict[str, Any] = {}
    for name, spec in declared.items():
        if name not in given or given[name] is None:
            if spec.get("required") and spec.get("default") is None:
                problems[name] = "required input is missing"
                continue
            resolved[name] = spec.get("default")
            continue
        value = given[name]
        schema = _json_schema(spec.get("schema") or {})
        validator = jsonschema.Draft202012Validator(schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if error is not None:
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
            problems[name + where] = error.message[:200]
            continue
        resolved[name] = value
    if problems:
        raise InputError(problems)
    return resolved
