"""Run-time checks of a node's resolved arguments against its input schema.

The compiler checks what it can see statically; values that arrive through expressions are only
known when the step runs, so the runtime validates them here before calling the node. Errors
name the argument at fault (``with.url``) and are never retried.
"""

from __future__ import annotations

from typing import Any

import jsonschema

from flowpilot.stdlib.errors import InvalidNodeInput
from flowpilot.stdlib.registry import NodeType

_VALIDATORS: dict[tuple[str, int], jsonschema.protocols.Validator] = {}


def _validator(node_type: NodeType) -> jsonschema.protocols.Validator:
    key = (node_type.name, node_type.version)
    found = _VALIDATORS.get(key)
    if found is None:
        found = _VALIDATORS[key] = _build_validator(node_type)
    return found


def _build_validator(node_type: NodeType) -> jsonschema.protocols.Validator:
    schema = dict(node_type.inputs)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema, format_checker=None)


def _path(error: jsonschema.ValidationError) -> str:
    parts = ["with"]
    for part in error.absolute_path:
        parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return "".join(parts)


def prepare_arguments(node_type: NodeType, args: dict[str, Any]) -> dict[str, Any]:
    """Fill top-level defaults from the schema and validate; raise :class:`InvalidNodeInput`
    naming the first offending argument. Returns a new dict."""
    prepared = dict(args)
    for name, spec in node_type.arguments.items():
        if name not in prepared and isinstance(spec, dict) and "default" in spec:
            prepared[name] = spec["default"]
    errors = sorted(_validator(node_type).iter_errors(prepared), key=lambda e: list(e.path))
    if errors:
        error = errors[0]
        field = _path(error)
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            field = f"with.{missing}" if missing else field
            message = f"{node_type.name}: missing required argument {field}"
        elif error.validator == "additionalProperties":
            allowed = set(error.schema.get("properties", {}))
            extra = sorted(k for k in error.instance if k not in allowed)
            field = f"{field}.{extra[0]}" if extra else field
            message = f"{node_type.name}: unknown argument {field}"
        else:
            shown = error.message if len(error.message) <= 200 else error.message[:200] + "…"
            message = f"{node_type.name}: invalid {field}: {shown}"
        raise InvalidNodeInput(message, field=field)
    return prepared
