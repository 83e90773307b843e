"""Lowering: plan shape, determinism, effective retry and timeouts."""

from __future__ import annotations

import textwrap

from flowpilot.compiler.lower import plan_json
from flowpilot.compiler.pipeline import compile_source

SOURCE = textwrap.dedent(
    """\
    flow: lowered
    defaults:
      timeout: 5m
      retry: { max_attempts: 4, delay: 2s }
    inputs: { name: string }
    steps:
      - id: hello
        uses: core.log
        with: { message: "Hello {{ inputs.name }}", data: { who: "${{ inputs.name }}" } }
      - id: fan
        parallel:
          - { id: a, uses: core.noop, retry: { backoff: fixed } }
          - id: b
            steps: [ { id: b1, set: { x: "${{ inputs.name ~ '!' }}" } } ]
      - id: route
        switch:
          - when: ${{ inputs.name == 'x' }}
            steps: [ { id: yes, return: { r: 1 } } ]
          - default: [ { id: no, fail: { message: "not x: ${{ inputs.name }}" } } ]
    outputs:
      greeting: ${{ steps.hello.output }}
    """
)


def _plan() -> dict:
    result = compile_source(SOURCE, "lowered.flow.yaml")
    assert result.ok, result.diagnostics
    return result.plan


def test_plan_is_deterministic_and_hashed() -> None:
    first = compile_source(SOURCE, "lowered.flow.yaml")
    second = compile_source(SOURCE, "lowered.flow.yaml")
    assert first.plan_json() == second.plan_json()
    assert first.plan_hash == second.plan_hash and len(first.plan_hash) == 64
    changed = compile_source(SOURCE.replace("'!'", "'?'"), "lowered.flow.yaml")
    assert changed.plan_hash != first.plan_hash


def test_node_ids_pointers_and_bodies() -> None:
    plan = _plan()
    nodes = plan["nodes"]
    assert plan["entry"] == "$main"
    assert nodes["$main"]["children"] == ["hello", "fan", "route"]
    assert nodes["fan"]["branches"] == ["a", "b"]
    assert nodes["b"]["body"] == "b/body"
    assert nodes["b1"]["pointer"] == "/steps/1/parallel/1/steps/0"
    assert nodes["route"]["cases"][0]["body"] == "route/case/0"
    assert nodes["route"]["default"] == "route/default"
    assert nodes["no"]["pointer"] == "/steps/2/switch/1/default/0"
    assert nodes["hello"]["span"]["line"] == 7


def test_values_templates_and_expressions() -> None:
    hello = _plan()["nodes"]["hello"]
    assert hello["args"]["message"] == {"$template": "Hello {{ inputs.name }}"}
    assert hello["args"]["data"] == {
        "who": {"$expr": ["attr", ["name", "inputs"], "name"], "src": "inputs.name"}
    }
    message = _plan()["nodes"]["no"]["message"]
    assert message["$concat"][0] == "not x: "


def test_effective_retry_and_timeout() -> None:
    nodes = _plan()["nodes"]
    assert nodes["hello"]["timeout_ms"] == 300_000
    assert nodes["hello"]["retry"]["max_attempts"] == 4
    assert nodes["hello"]["retry"]["delay_ms"] == 2000
    assert nodes["a"]["retry"]["backoff"] == "fixed"
    assert nodes["a"]["retry"]["max_attempts"] == 4  # the rest comes from the flow defaults


def test_no_plan_when_there_are_errors() -> None:
    result = compile_source("flow: x\nsteps: [ { id: a, uses: nope.nope } ]\n", "x.flow.yaml")
    assert result.plan is None and not result.ok


def test_canonical_json_has_sorted_keys_and_no_spaces() -> None:
    text = plan_json({"b": 1, "a": [1, {"d": 2, "c": 3}]})
    assert text == '{"a":[1,{"c":3,"d":2}],"b":1}'
