"""A NodeContext that records what nodes do, and running nodes the way the runtime does."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import pytest

from flowpilot.stdlib.context import NodeContext
from flowpilot.stdlib.registry import default_registry
from flowpilot.stdlib.validation import prepare_arguments

# --------------------------------------------------------------------------------------------
# Running a node the way the runtime does
# --------------------------------------------------------------------------------------------


@dataclass
class Recorder:
    """The services a NodeContext gets, backed by dicts, recording log lines."""

    credentials: dict[tuple[str, str | None], Mapping[str, Any]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    logs: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def context(self, **overrides: Any) -> NodeContext:
        def lookup(kind: str, name: str | None) -> Mapping[str, Any] | None:
            return self.credentials.get((kind, name))

        def log(level: str, message: str, fields: Mapping[str, Any]) -> None:
            self.logs.append((level, message, dict(fields)))

        return NodeContext(
            execution_id="ex-1",
            step_id="send",
            idempotency_key="ex-1:send:1",
            log_sink=log,
            credential_lookup=lookup,
            evaluator=python_evaluator,
            file_reader=lambda ref: self.files[ref["id"]],
            **overrides,
        )


def python_evaluator(value: Any, names: Mapping[str, Any]) -> Any:
    """Stands in for the runtime's expression evaluator: ``{"$py": callable}`` is called with
    the names in scope; anything else is a literal."""
    if isinstance(value, dict) and "$py" in value:
        return value["$py"](**names)
    return value


def run_node(name: str, args: dict[str, Any], ctx: NodeContext | None = None) -> Any:
    """Validate and default ``args`` like the runtime, run the node, check its output schema."""
    node_type = default_registry().get(name)
    assert node_type is not None and node_type.implemented, name
    prepared = prepare_arguments(node_type, args)
    output = node_type.require_implementation()(ctx or Recorder().context(), prepared)
    assert_output(name, output)
    return output


def assert_output(name: str, output: Any) -> None:
    schema = default_registry().get(name).output
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(output)
    json.dumps(output, allow_nan=False)  # JSON-able, no NaN/Infinity


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
