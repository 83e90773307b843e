"""Run-time checks of a node's resolved arguments against its input schema.

The compiler checks what it can see statically; values that arrive through expressions are only
known when the step runs, so the runtime validates them here before calling the node. Errors
name the argument at fault (``with.url``) and are never retried.

Arguments are nearly always valid, so each node's schema is also compiled once into a fast check
(:mod:`flowpilot.stdlib.fast_schema`) that only answers "valid"; jsonschema runs only when it says
no (or the schema is beyond it), and so remains the one source of every error message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jsonschema

from flowpilot.stdlib.errors import InvalidNodeInput
from flowpilot.stdlib.fast_schema import SchemaCheck, compile_schema
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


@dataclass(frozen=True, slots=True)
class _FastInputs:
    """What ``prepare_arguments`` needs per node type on the path where arguments are valid."""

    defaults: tuple[tuple[str, Any], ...]
    """The top-level arguments that have a ``default``, with it."""
    check: SchemaCheck | None
    """The compiled input schema, or None when only jsonschema can validate it."""


_FAST_INPUTS: dict[tuple[str, int], _FastInputs] = {}


def _fast_inputs(node_type: NodeType) -> _FastInputs:
    key = (node_type.name, node_type.version)
    found = _FAST_INPUTS.get(key)
    if found is None:
        found = _FAST_INPUTS[key] = _build_fast_inputs(node_type)
    return found


def prepare_checks(node_types: Iterable[NodeType]) -> None:
    """Compile the argument checks of ``node_types`` now (a worker does it before it takes
    work, so that no step waits for its node's first compile)."""
    for node_type in node_types:
        _fast_inputs(node_type)


def _build_fast_inputs(node_type: NodeType) -> _FastInputs:
    defaults = tuple(
        (name, spec["default"])
        for name, spec in node_type.arguments.items()
        if isinstance(spec, dict) and "default" in spec
    )
    schema = dict(node_type.inputs)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    check = compile_schema(schema) if cls is jsonschema.Draft202012Validator else None
    return _FastInputs(defaults, check)


def _passes(check: SchemaCheck, instance: Any) -> bool:
    """The fast check's verdict, or False (jsonschema decides, and raises as it always did) when
    an odd value makes it fail, e.g. a complex number compared with ``minimum``."""
    try:
        return check(instance)
    except Exception:
        return False


def _path(error: jsonschema.ValidationError) -> str:
    parts = ["with"]
    for part in error.absolute_path:
        parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return "".join(parts)


def prepare_arguments(node_type: NodeType, args: dict[str, Any]) -> dict[str, Any]:
    """Fill top-level defaults from the schema and validate; raise :class:`InvalidNodeInput`
    naming the first offending argument. Returns a new dict."""
    fast = _fast_inputs(node_type)
    prepared = dict(args)
    for name, default in fast.defaults:
        if name not in prepared:
            prepared[name] = default
    if fast.check is not None and _passes(fast.check, prepared):
        return prepared
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
