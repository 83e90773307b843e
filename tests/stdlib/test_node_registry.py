"""Registry lookups, planned node types, and third-party discovery through entry points."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowpilot.stdlib.registry import (
    Category,
    NodeNotImplementedError,
    NodeType,
    Registry,
    builtin_node_types,
    default_registry,
)


def _node(name: str, version: int = 1) -> NodeType:
    return NodeType(
        name=name,
        version=version,
        category=Category.ACTION,
        summary="test node",
        inputs={"type": "object", "properties": {}, "additionalProperties": False},
        output={},
    )


def test_lookup_by_name_and_pinned_major() -> None:
    registry = default_registry()
    request = registry.get("http.request")
    assert request is not None and request.name == "http.request"
    assert registry.get("http.request@1") is request
    assert registry.get("http.request@2") is None
    assert registry.get("http.request@latest") is None
    assert registry.get("http.nope") is None
    assert "ai.extract" in registry.names()


def test_latest_major_wins_without_a_pin() -> None:
    registry = Registry([_node("acme.sync", 1), _node("acme.sync", 2)])
    assert registry.get("acme.sync").version == 2
    assert registry.get("acme.sync@1").version == 1
    assert len(registry) == 2


def test_registering_the_same_version_twice_fails() -> None:
    with pytest.raises(ValueError, match=r"acme\.sync@1"):
        Registry([_node("acme.sync"), _node("acme.sync")])


def test_planned_node_cannot_run() -> None:
    extract = default_registry().get("ai.extract")
    assert extract.status == "planned" and not extract.implemented
    with pytest.raises(NodeNotImplementedError, match=r"ai\.extract") as info:
        extract.require_implementation()
    assert info.value.node_type == "ai.extract"


def test_to_json_carries_the_signature() -> None:
    data = default_registry().get("ai.extract").to_json()
    assert data["status"] == "planned"
    assert data["output_from"] == "schema"
    assert data["inputs"]["required"] == ["schema"]


def test_builtin_registry_has_no_duplicates() -> None:
    assert len(Registry(builtin_node_types())) == len(builtin_node_types())


PLUGIN = """
from flowpilot.stdlib.registry import Category, NodeType


def node_types():
    return [
        NodeType(
            name="acme.ping",
            version=1,
            category=Category.INTEGRATION,
            summary="Ping the ACME API",
            inputs={"type": "object", "properties": {}, "additionalProperties": False},
            output={"type": "object"},
        )
    ]
"""


@pytest.fixture
def plugin_on_path(tmp_path: Path) -> Iterator[None]:
    """A minimal installed distribution declaring a `flowpilot.nodes` entry point."""
    (tmp_path / "acme_flowpilot_nodes.py").write_text(PLUGIN)
    dist_info = tmp_path / "acme_flowpilot_nodes-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: acme-flowpilot-nodes\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "[flowpilot.nodes]\nacme = acme_flowpilot_nodes:node_types\n"
    )
    sys.path.insert(0, str(tmp_path))
    default_registry.cache_clear()
    try:
        yield
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("acme_flowpilot_nodes", None)
        default_registry.cache_clear()


def test_entry_point_node_types_are_discovered(plugin_on_path: None) -> None:
    registry = default_registry()
    ping = registry.get("acme.ping")
    assert ping is not None and ping.category == Category.INTEGRATION
    assert registry.get("http.request") is not None  # built-ins still there
    assert len(registry) == len(builtin_node_types()) + 1
