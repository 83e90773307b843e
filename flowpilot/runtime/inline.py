"""Running a node's implementation: argument checks, the node context, output checks.

Used for inline steps by the engine and for dispatched steps by workers, so both validate and
report the same way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from flowpilot.runtime.evaluate import resolve_value
from flowpilot.stdlib.context import NodeContext
from flowpilot.stdlib.errors import NodeError
from flowpilot.stdlib.registry import NodeType, default_registry
from flowpilot.stdlib.validation import prepare_arguments


def node_type_of(name: str, version: int | None = None) -> NodeType:
    ref = f"{name}@{version}" if version else name
    found = default_registry().get(ref)
    if found is None:
        raise NodeError(
            f"node type '{ref}' is not installed on this worker",
            type="node_missing",
            retryable=False,
        )
    return found


def call_node(node_type: NodeType, args: dict[str, Any], ctx: NodeContext) -> Any:
    """Validate ``args``, run the implementation and check the output is JSON."""
    run = node_type.require_implementation() if node_type.run else None
    if run is None:
        raise NodeError(
            f"node type '{node_type.name}' is planned but not implemented in this FlowPilot "
            "release; it type-checks, but it cannot run yet",
            type="not_implemented",
            retryable=False,
        )
    prepared = prepare_arguments(node_type, args)
    output = run(ctx, prepared)
    try:
        json.dumps(output)
    except (TypeError, ValueError) as exc:
        raise NodeError(
            f"{node_type.name} returned a value that is not JSON ({exc})",
            type="node_crash",
            retryable=False,
        ) from None
    return output


def run_inline(node: Mapping[str, Any], args: dict[str, Any], info: Any) -> Any:
    """The engine's inline runner: run a pure node now, in the engine's process."""
    node_type = node_type_of(node["node_type"], node.get("node_version"))
    names = info.names
    ctx = NodeContext(
        step_id=info.key,
        attempt=info.attempt,
        idempotency_key=info.idempotency_key,
        deadline=time.monotonic() + node["timeout_ms"] / 1000 if node.get("timeout_ms") else None,
        evaluator=lambda value, extra: resolve_value(value, _Layered(extra, names)),
    )
    return call_node(node_type, args, ctx)


class _Layered(Mapping[str, Any]):
    def __init__(self, top: Mapping[str, Any], below: Mapping[str, Any]) -> None:
        self.top, self.below = top, below

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        if key in self.top:
            return self.top[key]
        return self.below.get(key, default)

    def __getitem__(self, key: str) -> Any:
        if key in self.top:
            return self.top[key]
        return self.below[key]

    def __iter__(self):  # type: ignore[no-untyped-def]
        yield from self.top
        yield from (k for k in self.below if k not in self.top)

    def __len__(self) -> int:
        return len(set(self.top) | set(self.below))
