"""The editor schema of the YAML form accepts what the loader accepts, rejects what it rejects."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from flowpilot.dsl.json_schema import SCHEMA_DIALECT, flow_json_schema
from flowpilot.dsl.schema_keys import FLOW_KEYS, KIND_KEYS
from flowpilot.dsl.yaml_loader import parse_yaml
from flowpilot.stdlib.registry import Registry, builtin_node_types

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "flowpilot.schema.json"
REGENERATE = "flowpilot schema > docs/flowpilot.schema.json"

_constructor = yaml.constructor.SafeConstructor()


def yaml_data(source: str) -> Any:
    """YAML as the FlowPilot loader reads it: keys as written (``on`` stays a string), dates as
    text; what yaml-language-server (YAML 1.2) sees too."""

    def convert(node: yaml.Node) -> Any:
        if isinstance(node, MappingNode):
            return {str(k.value): convert(v) for k, v in node.value}
        if isinstance(node, SequenceNode):
            return [convert(v) for v in node.value]
        assert isinstance(node, ScalarNode)
        if node.tag == "tag:yaml.org,2002:timestamp":
            return node.value
        return _constructor.construct_object(node)

    return convert(yaml.compose(source, Loader=yaml.SafeLoader))


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return flow_json_schema(Registry(builtin_node_types()))


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema)


def errors(validator: jsonschema.Draft202012Validator, source: str) -> list[str]:
    data = yaml_data(textwrap.dedent(source))
    return [e.message for e in validator.iter_errors(data)]


def loader_errors(source: str) -> list[str]:
    _, diagnostics = parse_yaml(textwrap.dedent(source), "t.flow.yaml")
    return [f"{d.code} {d.message}" for d in diagnostics if d.is_error]


# --------------------------------------------------------------------------------------------
# The schema itself
# --------------------------------------------------------------------------------------------


def test_schema_is_valid_draft_2020_12(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == SCHEMA_DIALECT
    assert schema["$id"].startswith("https://")
    assert schema["title"]
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_lists_every_flow_key_and_step_kind(schema: dict[str, Any]) -> None:
    assert tuple(schema["properties"]) == FLOW_KEYS
    branches = {ref["$ref"].rsplit(".", 1)[1] for ref in schema["$defs"]["step"]["oneOf"]}
    assert branches == KIND_KEYS | {"steps"}


def test_uses_offers_every_node_type_with_and_without_major(schema: dict[str, Any]) -> None:
    registry = Registry(builtin_node_types())
    refs = schema["$defs"]["node_ref"]["enum"]
    for node in registry:
        assert node.name in refs
        assert f"{node.name}@{node.version}" in refs
    assert len(schema["$defs"]["node_ref"]["markdownEnumDescriptions"]) == len(refs)


def test_committed_schema_is_up_to_date(schema: dict[str, Any]) -> None:
    expected = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    assert COMMITTED.exists(), f"docs/flowpilot.schema.json is missing; run `{REGENERATE}`"
    assert COMMITTED.read_text(encoding="utf-8") == expected, (
        f"docs/flowpilot.schema.json is out of date; run `{REGENERATE}` "
        "(in an environment without third-party node plug-ins)"
    )


def test_the_cli_prints_the_schema() -> None:
    from click.testing import CliRunner

    from flowpilot.cli.main import main

    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["title"] == "FlowPilot flow"


# --------------------------------------------------------------------------------------------
# Valid flows
# --------------------------------------------------------------------------------------------

EVERY_KEY = """
flow: invoice-triage
dsl: 1
name: Invoice triage
description: Extract invoice totals and route large ones for approval
labels: { team: finance, version: 2 }
inputs:
  document: { type: file, accept: [application/pdf, image/png] }
  threshold: { type: number, default: 1000, minimum: 0 }
  notify: { type: string, format: email, required: false }
  tags: string[]
  note: string?
  rows: { type: "object[]?", description: Rows to import }
vars:
  currency: EUR
  big: ${{ inputs.threshold * 10 }}
  total: 0
  done: false
triggers:
  - id: inbound
    type: webhook
    path: invoices
    auth: hmac
    secret: ${{ secrets.INVOICE_HOOK }}
    inputs: { document: "${{ trigger.body.file }}" }
  - id: nightly
    type: cron
    cron: "0 2 * * *"
    timezone: Europe/Berlin
    inputs: { threshold: 500 }
  - id: on-upload
    type: event
    on: document.uploaded
    filter: ${{ event.document.mime_type == 'application/pdf' }}
defaults:
  timeout: 5m
  retry: { max_attempts: 3, backoff: exponential, delay: 2s, max_delay: 1m, jitter: true }
timeout: 1h
concurrency: { limit: 5, on_limit: queue }
steps:
  - id: fetch
    name: Fetch items
    description: Get the items
    if: ${{ inputs.threshold > 0 }}
    uses: http.request
    with: { url: "https://api.example.com/items", method: GET }
    timeout: 10s
    retry: { max_attempts: 5, backoff: exponential, delay: 500ms, jitter: true, retry_on: timeout }
    continue_on_error: true
    mock: { status: 200, json: { items: [] } }
  - id: prepare
    steps: [ { id: a, uses: core.log, with: { message: one } } ]
  - id: fan
    parallel:
      - { id: left, uses: http.request, with: { url: "https://a.example.com" } }
      - id: right
        steps: [ { id: r1, uses: core.log, with: { message: right } } ]
    fail_fast: false
    max_concurrency: 2
  - id: route
    switch:
      - when: ${{ steps.fetch.output.status == 200 }}
        steps: [ { id: ok, uses: core.log, with: { message: ok } } ]
      - default: [ { id: bad, fail: { message: "unexpected status" } } ]
  - id: each
    foreach: ${{ steps.fetch.output.json.items }}
    as: row
    concurrency: 4
    collect: ${{ row.id }}
    steps: [ { id: show, uses: core.log, with: { message: "${{ index }} ${{ row.id }}" } } ]
  - id: poll
    repeat: { until: "${{ vars.done }}", max_iterations: 20, delay: 30s }
    steps: [ { id: check, set: { done: true } } ]
  - id: guarded
    try:
      - { id: post, uses: http.request, with: { url: "https://erp.example.com", method: POST } }
    catch:
      - { id: report, uses: core.log, with: { level: error, message: "${{ error.message }}" } }
    finally: [ { id: tidy, uses: core.log, with: { message: done } } ]
  - { id: pause, wait: 10m }
  - { id: later, wait: { until: "${{ vars.big }}" } }
  - id: child
    call: billing-sync
    with: { account: "${{ inputs.document }}" }
  - { id: count, set: { done: true, total: "${{ vars.total + 1 }}" } }
  - { id: stop, if: "${{ vars.done }}", fail: { message: "no items", type: empty_input } }
  - { id: early, if: false, return: { reason: nothing-to-do } }
catch:
  - { id: on_error, uses: core.log, with: { level: error, message: "${{ error.message }}" } }
finally:
  - { id: bye, uses: core.log, with: { message: bye } }
outputs:
  total: ${{ steps.fetch.output.json.total }}
"""

SHORTHANDS = """
flow: shorthands
concurrency: 5
defaults: { retry: 2 }
steps:
  - { id: pause, wait: PT5M, retry: 3 }
  - { id: stop, if: "${{ inputs.x }}", fail: "stopped: ${{ inputs.x }}" }
  - { id: pinned, uses: core.log@1, with: { message: "${{ inputs.x }}", level: "${{ vars.lvl }}" } }
  - { id: blank, return: }
  - id: empty_bodies
    try:
    finally:
inputs:
  x: "boolean?"
  files: file []
"""

EXPRESSIONS_EVERYWHERE = """
flow: exprs
steps:
  - id: req
    uses: http.request
    with:
      method: ${{ inputs.method }}
      url: ${{ inputs.url }}
      headers: { Authorization: "Bearer ${{ secrets.TOKEN }}" }
      query: "${{ inputs.query }}"
      auth: { type: bearer, token: "${{ secrets.TOKEN }}" }
  - id: shape
    uses: core.transform
    with: { items: "${{ steps.req.output.json }}", map: "${{ item.id }}", limit: "${{ 3 }}" }
  - id: loop
    foreach: [1, 2, 3]
    steps: [ { id: noop, uses: core.noop } ]
"""


@pytest.mark.parametrize(
    "source",
    [EVERY_KEY, SHORTHANDS, EXPRESSIONS_EVERYWHERE],
    ids=["every-key-and-kind", "shorthands", "expressions"],
)
def test_valid_flows_validate(validator: jsonschema.Draft202012Validator, source: str) -> None:
    assert loader_errors(source) == []  # the loader accepts it, so must the schema
    assert errors(validator, source) == []


def _example_files() -> list[Path]:
    return sorted((ROOT / "examples").glob("**/*.flow.yaml"))


# Without examples the parameter set is empty and pytest reports one skipped test.
@pytest.mark.parametrize("path", _example_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_validate(validator: jsonschema.Draft202012Validator, path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    problems = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(yaml_data(source))
    ]
    assert problems == []


# --------------------------------------------------------------------------------------------
# Invalid flows
# --------------------------------------------------------------------------------------------

# name → (a fragment of the error that must be among the reasons, flow)
INVALID: dict[str, tuple[str, str]] = {
    "unknown-top-level-key": (
        "'stpes' was unexpected",
        """
        flow: demo
        stpes: []
        steps: [ { id: a, uses: core.noop } ]
    """,
    ),
    "two-kind-keys": (
        "'call' was unexpected",
        """
        flow: demo
        steps: [ { id: a, uses: core.noop, call: other-flow } ]
    """,
    ),
    "no-kind-key": (
        "'uses' is a required property",
        """
        flow: demo
        steps: [ { id: a, name: nothing } ]
    """,
    ),
    "step-without-id": (
        "'id' is a required property",
        """
        flow: demo
        steps: [ { uses: core.noop } ]
    """,
    ),
    "bad-backoff": (
        "'quadratic' is not one of",
        """
        flow: demo
        steps: [ { id: a, uses: core.noop, retry: { max_attempts: 3, backoff: quadratic } } ]
    """,
    ),
    "unknown-with-argument": (
        "'mesage' was unexpected",
        """
        flow: demo
        steps: [ { id: a, uses: core.log, with: { mesage: hi } } ]
    """,
    ),
    "unknown-step-key": (
        "'wiht' was unexpected",
        """
        flow: demo
        steps: [ { id: a, uses: core.log, wiht: { message: hi } } ]
    """,
    ),
    "unknown-node-type": (
        "'http.reqest' is not one of",
        """
        flow: demo
        steps: [ { id: a, uses: http.reqest } ]
    """,
    ),
    "missing-required-argument": (
        "'message' is a required property",
        """
        flow: demo
        steps: [ { id: a, uses: core.log, with: { level: info } } ]
    """,
    ),
    "bad-step-id": (
        "'Fetch-Orders' does not match",
        """
        flow: demo
        steps: [ { id: Fetch-Orders, uses: core.noop } ]
    """,
    ),
    "bad-flow-id": (
        "'Demo Flow' does not match",
        """
        flow: Demo Flow
        steps: [ { id: a, uses: core.noop } ]
    """,
    ),
    "duration-without-unit": (
        "30 is not of type 'string'",
        """
        flow: demo
        timeout: 30
        steps: [ { id: a, uses: core.noop } ]
    """,
    ),
    "bad-on-limit": (
        "'drop' is not one of",
        """
        flow: demo
        concurrency: { limit: 2, on_limit: drop }
        steps: [ { id: a, uses: core.noop } ]
    """,
    ),
    "bad-trigger-type": (
        "'email' is not one of",
        """
        flow: demo
        triggers: [ { id: t, type: email } ]
        steps: [ { id: a, uses: core.noop } ]
    """,
    ),
    "bad-webhook-auth": (
        "'basic' is not one of",
        """
        flow: demo
        triggers: [ { id: t, type: webhook, auth: basic } ]
        steps: [ { id: a, uses: core.noop } ]
    """,
    ),
    "cron-key-on-webhook": (
        "'cron' was unexpected",
        """
        flow: demo
        triggers: [ { id: t, type: webhook, cron: "0 2 * * *" } ]
        steps: [ { id: a, uses: core.noop } ]
    """,
    ),
    "bad-input-type": (
        "'strnig' is not one of",
        """
        flow: demo
        inputs: { x: strnig }
        steps: [ { id: a, uses: core.noop } ]
    """,
    ),
    "wrong-argument-type": (
        "'loud' is not one of",
        """
        flow: demo
        steps: [ { id: a, uses: core.log, with: { message: hi, level: loud } } ]
    """,
    ),
    "empty-steps": (
        "should be non-empty",
        """
        flow: demo
        steps: []
    """,
    ),
    "repeat-without-max-iterations": (
        "'max_iterations' is a required property",
        """
        flow: demo
        steps: [ { id: a, repeat: { until: true }, steps: [ { id: b, uses: core.noop } ] } ]
    """,
    ),
    "try-without-catch-or-finally": (
        "is not valid under any of the given schemas",
        """
        flow: demo
        steps: [ { id: a, try: [ { id: b, uses: core.noop } ] } ]
    """,
    ),
    "switch-case-with-extra-key": (
        "'then' was unexpected",
        """
        flow: demo
        steps: [ { id: a, switch: [ { when: true, then: [] } ] } ]
    """,
    ),
}


def leaf_messages(validator: jsonschema.Draft202012Validator, source: str) -> list[str]:
    """Every error message, the alternatives of ``oneOf``/``anyOf`` included."""
    pending = list(validator.iter_errors(yaml_data(textwrap.dedent(source))))
    out = []
    while pending:
        error = pending.pop()
        out.append(error.message)
        pending.extend(error.context or ())
    return out


@pytest.mark.parametrize(("expected", "source"), INVALID.values(), ids=INVALID.keys())
def test_structural_mistakes_are_rejected(
    validator: jsonschema.Draft202012Validator, expected: str, source: str
) -> None:
    messages = leaf_messages(validator, source)
    assert any(expected in m for m in messages), messages


def test_nested_steps_are_checked_too(validator: jsonschema.Draft202012Validator) -> None:
    source = """
        flow: demo
        steps:
          - id: outer
            steps:
              - id: inner
                foreach: [1]
                steps: [ { id: deep, uses: core.log, with: { mesage: hi } } ]
    """
    assert any("'mesage' was unexpected" in m for m in leaf_messages(validator, source))


def test_expressions_are_accepted_where_a_typed_value_is_expected(
    validator: jsonschema.Draft202012Validator,
) -> None:
    source = """
        flow: demo
        steps: [ { id: a, uses: core.log, with: { message: hi, data: "${{ vars.x }}" } } ]
    """
    assert errors(validator, source) == []
    not_an_expression = """
        flow: demo
        steps: [ { id: a, uses: core.log, with: { message: hi, data: "vars.x" } } ]
    """
    assert errors(validator, not_an_expression) != []
