"""Graph view for the editor."""

from __future__ import annotations

import textwrap

from flowpilot.dsl.graph import flow_graph, graph_to_dot
from flowpilot.dsl.yaml_loader import parse_yaml

SOURCE = textwrap.dedent(
    """\
    flow: g
    steps:
      - { id: first, uses: core.noop }
      - id: fan
        parallel:
          - { id: a, uses: core.noop }
          - { id: b, uses: core.noop }
      - id: route
        switch:
          - when: ${{ steps.first.status == 'succeeded' }}
            steps: [ { id: ok, uses: core.noop } ]
          - default: [ { id: ko, uses: core.noop } ]
      - id: guarded
        try: [ { id: risky, uses: core.noop } ]
        catch: [ { id: handle, uses: core.noop } ]
    """
)


def _graph() -> dict:
    flow, _ = parse_yaml(SOURCE, "g.flow.yaml")
    return flow_graph(flow)


def test_nodes_containers_and_parents() -> None:
    nodes = {n["id"]: n for n in _graph()["nodes"]}
    assert nodes["first"]["node_type"] == "core.noop"
    assert nodes["fan"]["container"] and nodes["a"]["parent"] == "fan"
    assert nodes["route#case0"]["condition"] == "steps.first.status == 'succeeded'"
    assert nodes["ok"]["parent"] == "route#case0"
    assert nodes["ko"]["parent"] == "route#default"
    assert nodes["handle"]["parent"] == "guarded#catch"
    assert nodes["first"]["span"]["line"] == 3


def test_edges_follow_control_flow() -> None:
    edges = {(e["source"], e["target"], e["kind"]) for e in _graph()["edges"]}
    assert ("$start", "first", "next") in edges
    assert ("first", "fan", "next") in edges
    assert ("guarded#try", "guarded#catch", "error") in edges
    assert ("guarded", "$end", "next") in edges


def test_dot_output_is_valid_looking() -> None:
    dot = graph_to_dot(_graph())
    assert dot.startswith('digraph "g" {') and dot.rstrip().endswith("}")
    assert 'subgraph "cluster_fan"' in dot
    assert '"first" -> "fan";' in dot
