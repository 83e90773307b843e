"""The node-type registry: signatures the compiler checks against, implementations the runtime runs.

A :class:`NodeType` is a pure description (name, version, schemas, flags, docs) plus an optional
``run`` callable. Built-in catalogue modules (``flowpilot.stdlib.catalog.*``) register theirs in
:data:`BUILTIN_MODULES`; third-party packages add node types through the ``flowpilot.nodes``
entry-point group, each entry point naming a callable that returns an iterable of ``NodeType``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any


class Category(StrEnum):
    AI = "ai"
    ACTION = "action"
    LOGIC = "logic"
    INTEGRATION = "integration"
    DOCUMENT = "document"
    HUMAN = "human"


class NodeNotImplementedError(RuntimeError):
    """Raised when a planned node type (signature only) is asked to run."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"node type '{name}' is planned but not implemented in this FlowPilot release; "
            "it type-checks, but it cannot run yet"
        )
        self.node_type = name


@dataclass(frozen=True, slots=True)
class NodeType:
    """One node type.

    Attributes:
        name: ``<namespace>.<name>``, e.g. ``http.request``.
        version: major version; ``uses: http.request@1`` pins it.
        category: one of :class:`Category`.
        summary: one line for listings and completion.
        description: Markdown documentation (hover, ``flowpilot nodes NAME``).
        inputs: JSON Schema (draft 2020-12) of the ``with:`` object; ``properties`` are the
            arguments, ``required`` the mandatory ones. ``"x-template": true`` on a string
            property makes it a Jinja2 template field; ``"x-secret": true`` lets a secret flow in.
        output: JSON Schema of the step's output.
        side_effects: True when running it changes the outside world (dry-run mocks it).
        credential: the credential kind it needs (``smtp``, ``slack``, ``gemini`` …), or None;
            several accepted kinds are separated by ``|`` (``postgres|mysql``).
        output_from: name of an argument whose *value* (a JSON Schema) is the output schema
            (``ai.extract`` takes ``schema``).
        pure: True for cheap, deterministic steps the engine may run inline.
        run: the implementation, or None while the node type is planned.
    """

    name: str
    version: int
    category: Category
    summary: str
    inputs: Mapping[str, Any]
    output: Mapping[str, Any]
    description: str = ""
    side_effects: bool = False
    credential: str | None = None
    output_from: str | None = None
    pure: bool = False
    examples: tuple[Mapping[str, Any], ...] = ()
    run: Callable[..., Any] | None = field(default=None, compare=False, repr=False)

    @property
    def namespace(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def implemented(self) -> bool:
        return self.run is not None

    @property
    def status(self) -> str:
        return "available" if self.implemented else "planned"

    @property
    def credential_kinds(self) -> tuple[str, ...]:
        """The accepted credential kinds (``credential`` split on ``|``); empty when none."""
        return tuple(self.credential.split("|")) if self.credential else ()

    @property
    def arguments(self) -> Mapping[str, Any]:
        return self.inputs.get("properties", {})

    @property
    def required_arguments(self) -> list[str]:
        return list(self.inputs.get("required", []))

    def require_implementation(self) -> Callable[..., Any]:
        if self.run is None:
            raise NodeNotImplementedError(self.name)
        return self.run

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "category": str(self.category),
            "status": self.status,
            "summary": self.summary,
            "description": self.description,
            "side_effects": self.side_effects,
            "credential": self.credential,
            "pure": self.pure,
            "inputs": self.inputs,
            "output": self.output,
            **({"output_from": self.output_from} if self.output_from else {}),
        }


class Registry:
    """Node types by name and major version."""

    def __init__(self, types: Iterable[NodeType] = ()) -> None:
        self._by_name: dict[str, dict[int, NodeType]] = {}
        for t in types:
            self.register(t)

    def register(self, node_type: NodeType) -> None:
        versions = self._by_name.setdefault(node_type.name, {})
        if node_type.version in versions:
            raise ValueError(f"node type {node_type.name}@{node_type.version} registered twice")
        versions[node_type.version] = node_type

    def get(self, ref: str) -> NodeType | None:
        """Look up ``name`` (latest major) or ``name@major``."""
        name, _, major = ref.partition("@")
        versions = self._by_name.get(name)
        if not versions:
            return None
        if major:
            return versions.get(int(major)) if major.isdigit() else None
        return versions[max(versions)]

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def __iter__(self):  # type: ignore[no-untyped-def]
        for name in sorted(self._by_name):
            versions = self._by_name[name]
            yield from (versions[v] for v in sorted(versions))

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_name.values())


BUILTIN_MODULES: tuple[str, ...] = (
    "flowpilot.stdlib.catalog.core",
    "flowpilot.stdlib.catalog.http",
    "flowpilot.stdlib.catalog.email",
    "flowpilot.stdlib.catalog.chat",
    "flowpilot.stdlib.catalog.ai",
    "flowpilot.stdlib.catalog.documents",
    "flowpilot.stdlib.catalog.db",
    "flowpilot.stdlib.catalog.files",
    "flowpilot.stdlib.catalog.human",
    "flowpilot.stdlib.catalog.integrations",
    "flowpilot.stdlib.catalog.crm",
    "flowpilot.stdlib.catalog.devtools",
    "flowpilot.stdlib.catalog.workspace",
)

ENTRY_POINT_GROUP = "flowpilot.nodes"


def builtin_node_types() -> list[NodeType]:
    """The catalogue's signatures, with the implementations of ``flowpilot.stdlib.nodes``."""
    from flowpilot.stdlib.nodes import builtin_implementations

    implementations = builtin_implementations()
    types: list[NodeType] = []
    for module_name in BUILTIN_MODULES:
        module = importlib.import_module(module_name)
        for node_type in module.NODE_TYPES:
            run = implementations.pop(node_type.name, None)
            types.append(replace(node_type, run=run) if run else node_type)
    if implementations:
        raise ValueError(f"implementations without a signature: {sorted(implementations)}")
    return types


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """Built-ins plus every ``flowpilot.nodes`` entry point, loaded once per process."""
    registry = Registry(builtin_node_types())
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        provider = ep.load()
        for node_type in provider() if callable(provider) else provider:
            registry.register(node_type)
    return registry
