"""The plan IR: every plan matches IR_SCHEMA, plans are deterministic, ids and pointers are as
documented in docs/ir.md."""

from __future__ import annotations

import hashlib
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from flowpilot.compiler.ir_schema import IR_SCHEMA, NODE_ID_PATTERN, NODE_KINDS, build_ir_schema
from flowpilot.compiler.lower import IR_VERSION, plan_hash, plan_json
from flowpilot.compiler.pipeline import compile_file, compile_source

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "ir.schema.json"
REGENERATE = (
    'python -c "import json; from flowpilot.compiler.ir_schema import IR_SCHEMA; '
    'print(json.dumps(IR_SCHEMA, indent=2, ensure_ascii=False))" > docs/ir.schema.json'
)

EXPR_TAGS = {
    "lit",
    "name",
    "attr",
    "index",
    "slice",
    "call",
    "op",
    "and",
    "or",
    "not",
    "neg",
    "if",
    "list",
    "dict",
}
VALUE_FORMS = {"$expr", "$concat", "$template", "$object"}

EVERY_KIND = """
flow: every-kind
name: Every kind
description: One of each step kind
labels: { team: platform, tier: "1" }
inputs:
  rows: { type: "object[]", description: Rows to process }
  url: { type: string, format: uri, default: "https://api.example.com" }
  who: string?
vars:
  total: 0
  done: false
  until: "2030-01-01T00:00:00Z"
triggers:
  - id: inbound
    type: webhook
    path: rows
    auth: token
    secret: ${{ secrets.HOOK_TOKEN }}
    inputs: { rows: "${{ trigger.body.rows }}" }
  - { id: nightly, type: cron, cron: "0 2 * * *", timezone: UTC, inputs: { rows: [] } }
defaults:
  timeout: 5m
  retry: { max_attempts: 4, backoff: linear, delay: 2s }
timeout: 1h
concurrency: { limit: 2, on_limit: cancel }
steps:
  - id: fetch
    name: Fetch
    uses: http.request
    with:
      url: ${{ inputs.url }}
      headers: { Authorization: "Bearer ${{ secrets.API_TOKEN }}" }
      json: { "$schema": "https://example.com/s", rows: "${{ inputs.rows }}" }
    timeout: 10s
    retry: { backoff: fixed, retry_on: [timeout] }
    mock: { status: 200, json: { items: [] } }
    continue_on_error: true
  - id: note
    if: ${{ inputs.who != null }}
    uses: core.log
    with: { message: "Hello {{ inputs.who }}", level: info }
  - id: prepare
    steps: [ { id: hello, uses: core.log, with: { message: "${{ inputs.who ~ '!' }}" } } ]
  - id: fan
    parallel:
      - { id: left, uses: core.noop }
      - id: right
        steps: [ { id: r1, set: { total: "${{ vars.total + 1 }}" } } ]
    fail_fast: false
    max_concurrency: 2
  - id: route
    switch:
      - when: ${{ steps.fetch.output.status == 200 and not vars.done }}
        steps: [ { id: ok, uses: core.noop } ]
      - when: ${{ steps.fetch.output.status >= 500 or vars.done }}
        steps: [ { id: retry_later, wait: 1m } ]
      - default: [ { id: odd, fail: { message: "status ${{ steps.fetch.output.status }}", type: bad_status } } ]
  - id: each
    foreach: ${{ inputs.rows[1:] }}
    as: row
    concurrency: 3
    collect: "${{ {'n': index, 'row': row} }}"
    steps: [ { id: show, uses: core.log, with: { message: "row", data: { i: "${{ -index }}" } } } ]
  - id: poll
    repeat: { until: "${{ vars.done }}", max_iterations: 5, delay: 30s }
    steps: [ { id: mark, set: { done: true } } ]
  - id: guarded
    try: [ { id: risky, uses: core.noop, retry: 2 } ]
    catch: [ { id: report, uses: core.log, with: { level: error, message: "{{ error.message }}" } } ]
    finally: [ { id: tidy, uses: core.noop } ]
  - { id: pause, wait: 10m }
  - { id: resume, wait: { until: "${{ vars.until }}" } }
  - id: child
    call: billing-sync
    with: { rows: "${{ inputs.rows[:2] }}", first: "${{ inputs.rows[0] if inputs.rows else null }}" }
  - { id: tally, set: { total: "${{ len(inputs.rows) + vars.total * 2 }}" } }
  - id: early
    if: ${{ vars.total > 10 }}
    return: { reason: "${{ 'many' | upper }}", ids: "${{ [1, 2.5, 'x', true, null] }}" }
  - { id: stop, if: "${{ vars.total < 0 }}", fail: "negative total" }
catch:
  - { id: on_error, uses: core.log, with: { level: error, message: "{{ error.message }}" } }
finally:
  - { id: bye, uses: core.noop }
outputs:
  total: ${{ vars.total }}
  first: ${{ steps.each.output[0]['row'] }}
"""

MINIMAL = """
flow: minimal
steps:
  - { id: only, uses: core.noop }
"""

FLOWS = {"every-kind": EVERY_KIND, "minimal": MINIMAL}


def compile_ok(source: str, file: str = "t.flow.yaml") -> dict[str, Any]:
    result = compile_source(textwrap.dedent(source), file)
    assert result.ok, [f"{d.code} {d.message} (line {d.span.line})" for d in result.errors]
    assert result.plan is not None
    return result.plan


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(IR_SCHEMA)


def schema_errors(validator: jsonschema.Draft202012Validator, plan: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in validator.iter_errors(plan)
    ]


def walk(data: Any) -> Iterator[Any]:
    yield data
    if isinstance(data, dict):
        for value in data.values():
            yield from walk(value)
    elif isinstance(data, list):
        for item in data:
            yield from walk(item)


def expr_tags(plan: dict[str, Any]) -> set[str]:
    """The tags of every expression form used in the plan."""
    return {
        sub[0]
        for item in walk(plan)
        if isinstance(item, dict) and "$expr" in item
        for sub in walk(item["$expr"])
        if isinstance(sub, list) and sub and isinstance(sub[0], str) and sub[0] in EXPR_TAGS
    }


# --------------------------------------------------------------------------------------------
# The schema
# --------------------------------------------------------------------------------------------


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(IR_SCHEMA)
    assert IR_SCHEMA["properties"]["ir_version"]["const"] == IR_VERSION
    assert build_ir_schema() == IR_SCHEMA


def test_committed_schema_is_up_to_date() -> None:
    expected = json.dumps(IR_SCHEMA, indent=2, ensure_ascii=False) + "\n"
    assert COMMITTED.exists(), f"docs/ir.schema.json is missing; run `{REGENERATE}`"
    assert COMMITTED.read_text(encoding="utf-8") == expected, (
        f"docs/ir.schema.json is out of date; run `{REGENERATE}`"
    )


@pytest.mark.parametrize("name", FLOWS)
def test_plans_match_the_schema(validator: jsonschema.Draft202012Validator, name: str) -> None:
    assert schema_errors(validator, compile_ok(FLOWS[name])) == []


def test_the_flows_cover_every_node_kind_and_value_and_expression_form() -> None:
    plan = compile_ok(EVERY_KIND)
    assert {node["kind"] for node in plan["nodes"].values()} == set(NODE_KINDS)
    assert expr_tags(plan) == EXPR_TAGS
    forms = {key for item in walk(plan) if isinstance(item, dict) for key in item}
    assert forms >= VALUE_FORMS
    ops = {
        item[1]
        for item in walk(plan)
        if isinstance(item, list) and len(item) == 4 and item[0] == "op"
    }
    assert {"==", ">=", "+", "*", "~", "!=", ">", "<"} <= ops


def _example_files() -> list[Path]:
    return sorted((ROOT / "examples").glob("**/*.flow.yaml"))


# Without examples the parameter set is empty and pytest reports one skipped test.
@pytest.mark.parametrize("path", _example_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_example_plans_match_the_schema(
    validator: jsonschema.Draft202012Validator, path: Path
) -> None:
    result = compile_file(path)
    assert result.plan is not None, [d.message for d in result.errors]
    assert schema_errors(validator, result.plan) == []


MUTATIONS = {
    "extra top-level key": lambda p: p.update(extra=1),
    "extra node key": lambda p: p["nodes"]["fetch"].update(colour="red"),
    "missing node key": lambda p: p["nodes"]["prepare"].pop("body"),
    "unknown node kind": lambda p: p["nodes"]["tidy"].update(kind="noop"),
    "unknown expression tag": lambda p: p["outputs"]["total"].update({"$expr": ["var", "total"]}),
    "unknown operator": lambda p: p["nodes"]["tally"]["values"]["total"]["$expr"].__setitem__(
        1, "**"
    ),
    "expression without src": lambda p: p["outputs"]["total"].pop("src"),
    "bad node id": lambda p: p["nodes"].update({"Bad-Id": p["nodes"]["tidy"]}),
    "template outside uses arguments": lambda p: p["outputs"].update(x={"$template": "{{ a }}"}),
    "retry without a field": lambda p: p["nodes"]["fetch"]["retry"].pop("jitter"),
    "wait with both duration and until": lambda p: p["nodes"]["pause"].update(
        until={"$expr": ["lit", 1], "src": "1"}
    ),
    "wrong ir_version": lambda p: p.update(ir_version=IR_VERSION + 1),
}


@pytest.mark.parametrize("mutate", MUTATIONS.values(), ids=MUTATIONS.keys())
def test_the_schema_is_closed(validator: jsonschema.Draft202012Validator, mutate: Any) -> None:
    plan = compile_ok(EVERY_KIND)
    mutate(plan)
    assert schema_errors(validator, plan) != []


# --------------------------------------------------------------------------------------------
# Determinism and hashing
# --------------------------------------------------------------------------------------------


def test_same_source_gives_byte_identical_plans() -> None:
    first = compile_source(EVERY_KIND, "every.flow.yaml")
    second = compile_source(EVERY_KIND, "every.flow.yaml")
    assert first.plan_json() == second.plan_json()
    assert first.plan_hash == second.plan_hash


def test_plan_hash_is_sha256_of_canonical_json() -> None:
    plan = compile_ok(EVERY_KIND)
    canonical = json.dumps(plan, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert plan_json(plan) == canonical
    assert plan_hash(plan) == hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_one_character_in_an_expression_changes_the_hash() -> None:
    source = EVERY_KIND
    changed = source.replace("vars.total * 2", "vars.total * 3")
    assert changed != source
    first, second = compile_ok(source), compile_ok(changed)
    assert plan_hash(first) != plan_hash(second)


def test_plans_do_not_depend_on_key_order_in_the_source() -> None:
    a = compile_ok("flow: x\nname: X\nsteps: [ { id: a, uses: core.noop } ]\n")
    b = compile_ok("name: X\nsteps: [ { uses: core.noop, id: a } ]\nflow: x\n")
    a["source"], b["source"] = a["source"]["syntax"], b["source"]["syntax"]  # text differs
    for node in (*a["nodes"].values(), *b["nodes"].values()):
        node.pop("span", None)
    assert plan_json(a) == plan_json(b)


# --------------------------------------------------------------------------------------------
# Node ids, structure and pointers
# --------------------------------------------------------------------------------------------


def test_node_ids_are_as_documented() -> None:
    plan = compile_ok(EVERY_KIND)
    nodes = plan["nodes"]
    assert (plan["entry"], plan["catch"], plan["finally"]) == ("$main", "$catch", "$finally")
    assert nodes["prepare"]["body"] == "prepare/body"
    assert nodes["each"]["body"] == "each/body"
    assert nodes["poll"]["body"] == "poll/body"
    assert [c["body"] for c in nodes["route"]["cases"]] == ["route/case/0", "route/case/1"]
    assert nodes["route"]["default"] == "route/default"
    assert (nodes["guarded"]["body"], nodes["guarded"]["catch"], nodes["guarded"]["finally"]) == (
        "guarded/try",
        "guarded/catch",
        "guarded/finally",
    )
    assert nodes["fan"]["branches"] == ["left", "right"]
    minimal = compile_ok(MINIMAL)
    assert (minimal["catch"], minimal["finally"]) == (None, None)
    assert set(minimal["nodes"]) == {"$main", "only"}


def test_nodes_form_one_tree_rooted_at_the_sections() -> None:
    import re

    plan = compile_ok(EVERY_KIND)
    nodes = plan["nodes"]
    seen: list[str] = []

    def children(node: dict[str, Any]) -> list[str]:
        refs = list(node.get("children", ())) + list(node.get("branches", ()))
        refs += [c["body"] for c in node.get("cases", ())]
        for key in ("body", "default", "catch", "finally"):
            if isinstance(node.get(key), str):
                refs.append(node[key])
        return refs

    def visit(node_id: str, parent: str | None) -> None:
        node = nodes[node_id]
        assert node["id"] == node_id and re.match(NODE_ID_PATTERN, node_id)
        assert node["parent"] == parent
        if node["kind"] != "sequence":
            assert node["step"] == node_id
        seen.append(node_id)
        for child in children(node):
            visit(child, node_id)

    for root in ("$main", "$catch", "$finally"):
        visit(root, None)
    assert sorted(seen) == sorted(nodes)  # every node reachable exactly once


def resolve(document: Any, pointer: str) -> Any:
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        document = document[int(token)] if isinstance(document, list) else document[token]
    return document


def test_pointers_lead_to_the_step_in_the_yaml_form() -> None:
    plan = compile_ok(EVERY_KIND)
    document = yaml.load(textwrap.dedent(EVERY_KIND), Loader=yaml.BaseLoader)  # all keys text
    for node_id, node in plan["nodes"].items():
        target = resolve(document, node["pointer"])
        if node["kind"] == "sequence":
            assert isinstance(target, list), node_id
            assert [s["id"] for s in target] == node["children"], node_id
        else:
            assert target["id"] == node_id, node_id
    assert plan["nodes"]["r1"]["pointer"] == "/steps/3/parallel/1/steps/0"
    assert plan["nodes"]["route/case/1"]["pointer"] == "/steps/4/switch/1/steps"
    assert plan["nodes"]["route/default"]["pointer"] == "/steps/4/switch/2/default"
    assert plan["nodes"]["report"]["pointer"] == "/steps/7/catch/0"
    assert plan["nodes"]["$catch"]["pointer"] == "/catch"


def test_a_default_case_before_other_cases_is_an_error_so_pointers_stay_exact() -> None:
    # Lowering numbers the default case after the `when` cases; the checker guarantees that
    # is where it was written (E010 otherwise), so no plan can point at the wrong case.
    source = """
        flow: default-first
        steps:
          - id: route
            switch:
              - default: [ { id: other, uses: core.noop } ]
              - when: ${{ execution.dry_run }}
                steps: [ { id: dry, uses: core.noop } ]
    """
    result = compile_source(textwrap.dedent(source), "default-first.flow.yaml")
    assert result.plan is None
    assert [d.code for d in result.errors] == ["E010"]


# --------------------------------------------------------------------------------------------
# Effective retry and timeout
# --------------------------------------------------------------------------------------------


def test_retry_and_timeout_resolve_step_then_defaults_then_built_in() -> None:
    nodes = compile_ok(EVERY_KIND)["nodes"]
    # step fields win, the rest comes from defaults, then from the built-in policy
    assert nodes["fetch"]["retry"] == {
        "max_attempts": 4,
        "backoff": "fixed",
        "delay_ms": 2000,
        "factor": 2,
        "max_delay_ms": None,
        "jitter": False,
        "retry_on": ["timeout"],
    }
    assert nodes["fetch"]["timeout_ms"] == 10_000
    assert nodes["risky"]["retry"]["max_attempts"] == 2  # `retry: 2` shorthand
    assert nodes["left"]["retry"]["backoff"] == "linear"  # flow defaults
    assert nodes["left"]["timeout_ms"] == 300_000
    assert "retry" not in nodes["prepare"] and nodes["prepare"]["timeout_ms"] is None
    minimal = compile_ok(MINIMAL)["nodes"]["only"]
    assert minimal["retry"]["max_attempts"] == 1  # no retry unless asked for
    assert minimal["timeout_ms"] is None
