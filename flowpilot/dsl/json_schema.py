"""The JSON Schema of the YAML form, for yaml-language-server users (VS Code, Neovim, …).

``flowpilot schema`` prints :func:`flow_json_schema`; ``docs/flowpilot.schema.json`` is the same
document generated from the built-in registry. Point an editor at it with a modeline::

    # yaml-language-server: $schema=https://flowpilot.dev/schemas/flow-v1.schema.json

The schema follows the YAML loader (``flowpilot/dsl/yaml_loader.py``), which is the source of
truth: every flow the loader accepts validates, including the shorthand forms (``retry: 3``,
``concurrency: 5``, ``fail: "message"``, ``wait: 10m``, input types such as ``string[]?``).
Structural mistakes are rejected the way the compiler rejects them (E010/E011/E012): unknown keys,
a step with no or several kind keys, a step without ``id``, bad ids, durations and enums.

Steps are a ``oneOf`` over one closed definition per kind. Each branch requires its kind key and
lists only its own keys, so at most one branch can match, and an editor reports the errors of the
branch that fits best ("Property 'wiht' is not allowed") rather than a generic mismatch.

Wherever a *value* may be written (``with:`` arguments, ``vars``, ``set``, conditions …) a
``${{ … }}`` string is accepted in addition to the declared type: expressions are type-checked by
the compiler, not by the schema. ``with:`` is completed per node type through ``if``/``then`` on
the ``uses`` value, with the node's input schema (``x-`` extensions removed); that part is built
in :mod:`flowpilot.dsl.json_schema_nodes`.
"""

from __future__ import annotations

from typing import Any

from flowpilot.dsl.ast import STEP_KINDS
from flowpilot.dsl.json_schema_common import Schema, doc, ref
from flowpilot.dsl.json_schema_nodes import argument_schema, node_definitions
from flowpilot.dsl.schema_keys import (
    BACKOFF_KINDS,
    CONCURRENCY_POLICIES,
    FLOW_ID_PATTERN,
    FLOW_KEYS,
    ID_PATTERN,
    INPUT_TYPES,
    KIND_KEYS,
    RETRY_KEYS,
    STEP_COMMON_KEYS,
    STEP_KIND_EXTRA_KEYS,
    TRIGGER_TYPES,
    WEBHOOK_AUTH,
)
from flowpilot.durations import DURATION_PATTERN
from flowpilot.stdlib.registry import Registry, default_registry

__all__ = ["SCHEMA_DIALECT", "SCHEMA_ID", "argument_schema", "flow_json_schema"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "https://flowpilot.dev/schemas/flow-v1.schema.json"

#: Matches any string that contains an expression; the compiler checks what is inside.
EXPRESSION_PATTERN = r"\$\{\{"

# The order in which step kinds are listed (the table in DSL.md §1, as the AST declares them).
STEP_KIND_ORDER: tuple[str, ...] = tuple(STEP_KINDS)


def _duration_pattern() -> str:
    return rf"^\s*(?:{DURATION_PATTERN})\s*$"


def _input_type_pattern() -> str:
    names = "|".join(INPUT_TYPES)
    return rf"^\s*(?:{names})\s*(?:\[\]\s*)?\?*\s*$"


def _input_type_forms() -> list[str]:
    """The canonical spellings offered for completion: ``string``, ``string?``, ``string[]``…"""
    forms: list[str] = []
    for suffix in ("", "?", "[]", "[]?"):
        forms.extend(name + suffix for name in INPUT_TYPES)
    return forms


# --------------------------------------------------------------------------------------------
# Shared definitions
# --------------------------------------------------------------------------------------------


def _shared_defs() -> dict[str, Schema]:
    retry_props: dict[str, Schema] = {
        "max_attempts": doc(
            "Attempts in total, the first one included (1 means no retry).",
            type="integer",
            minimum=1,
        ),
        "backoff": doc(
            "How the delay grows between attempts.",
            type="string",
            enum=list(BACKOFF_KINDS),
            default="exponential",
        ),
        "delay": doc("Delay before the first retry.", **ref("duration")),
        "factor": doc(
            "Growth factor for exponential backoff (default 2).",
            type="number",
            exclusiveMinimum=0,
            default=2,
        ),
        "max_delay": doc("Upper bound of the delay between attempts.", **ref("duration")),
        "jitter": doc("Randomise delays to spread retries out.", type="boolean"),
        "retry_on": doc(
            "Retry only on these error types (a single type or a list).",
            anyOf=[{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        ),
    }
    assert set(retry_props) == set(RETRY_KEYS)
    input_type = doc(
        "Input type: a type name, `[]` for a list of it, `?` when optional.",
        "Input type: one of "
        + ", ".join(f"`{t}`" for t in INPUT_TYPES)
        + "; `string[]` is a list of strings, a trailing `?` makes the input optional.",
        anyOf=[
            {"type": "string", "enum": _input_type_forms()},
            {"type": "string", "pattern": _input_type_pattern()},
        ],
    )
    return {
        "expression": doc(
            "An expression: `${{ … }}` alone keeps its type; inside a longer string it is "
            "interpolated as text.",
            type="string",
            pattern=EXPRESSION_PATTERN,
        ),
        "value": doc(
            "Any value; `${{ expr }}` strings are evaluated at run time.",
        ),
        "condition": doc(
            "A condition: `${{ expr }}` evaluating to a boolean, or a boolean literal.",
            anyOf=[{"type": "boolean"}, ref("expression")],
        ),
        "text": doc("Plain text.", type=["string", "number", "boolean"]),
        "values": doc(
            "A mapping of names to values; `${{ expr }}` strings are evaluated at run time.",
            type="object",
        ),
        "step_id": doc(
            "Step id, unique in the whole flow; referenced as `steps.<id>` in expressions.",
            type="string",
            pattern=ID_PATTERN,
            patternErrorMessage="step ids are lower-case letters, digits and '_', "
            "starting with a letter or '_'",
        ),
        "flow_id": doc(
            "A flow id: lower-case letters, digits and '-', starting with a letter (at most 63).",
            type="string",
            pattern=FLOW_ID_PATTERN,
            patternErrorMessage="flow ids are lower-case letters, digits and '-', "
            "starting with a letter (at most 63 characters)",
        ),
        "duration": doc(
            "A duration: `250ms`, `30s`, `5m`, `2h`, `3d`, or ISO-8601 (`PT5M`).",
            type="string",
            pattern=_duration_pattern(),
            patternErrorMessage="use a number and a unit (250ms, 30s, 5m, 2h, 3d) or "
            "ISO-8601 (PT5M)",
            examples=["30s", "5m", "PT5M"],
        ),
        "retry": doc(
            "Retry policy: `{ max_attempts, backoff, delay, factor, max_delay, jitter, "
            "retry_on }`, or just the number of attempts.",
            "Retry policy, or just the number of attempts (`retry: 3`).\n\n"
            "```yaml\nretry: { max_attempts: 5, backoff: exponential, delay: 500ms, "
            "jitter: true }\n```",
            anyOf=[
                {"type": "integer", "minimum": 1},
                {"type": "object", "properties": retry_props, "additionalProperties": False},
            ],
        ),
        "steps": doc(
            "A list of steps, run in order.",
            type=["array", "null"],
            items=ref("step"),
        ),
        "input_type": input_type,
        "input": _input_schema(),
        "trigger": _trigger_schema(),
        "switch_case": _switch_case_schema(),
    }


def _input_schema() -> Schema:
    keyword = {"type": "integer", "minimum": 0}
    props: dict[str, Schema] = {
        "type": ref("input_type"),
        "required": doc(
            "Whether the input must be given (default true; false when `default` is set).",
            type="boolean",
        ),
        "default": doc("Value used when the input is not given.", **ref("value")),
        "description": doc("What the input is for (shown in the run form).", **ref("text")),
        "title": doc("Label shown in the run form.", type="string"),
        "format": doc(
            "String format (`email`, `uri`, `date`, `date-time`, …).",
            type="string",
            examples=["email", "uri", "date", "date-time", "uuid"],
        ),
        "enum": doc("The allowed values.", type="array"),
        "const": doc("The only allowed value."),
        "pattern": doc("Regular expression the string must match.", type="string"),
        "minLength": keyword,
        "maxLength": keyword,
        "minimum": {"type": "number"},
        "maximum": {"type": "number"},
        "exclusiveMinimum": {"type": "number"},
        "exclusiveMaximum": {"type": "number"},
        "multipleOf": {"type": "number", "exclusiveMinimum": 0},
        "items": doc("JSON Schema of the list elements.", type=["object", "boolean"]),
        "minItems": keyword,
        "maxItems": keyword,
        "uniqueItems": {"type": "boolean"},
        "properties": doc("JSON Schemas of the object's properties.", type="object"),
        "additionalProperties": {"type": ["object", "boolean"]},
        "minProperties": keyword,
        "maxProperties": keyword,
        "examples": {"type": "array"},
        "accept": doc(
            "Accepted media types of a `file` input.",
            type="array",
            items={"type": "string"},
            examples=[["application/pdf", "image/png"]],
        ),
    }
    return doc(
        "An input: a type name (`string`, `number[]`, `file?`) or a JSON-Schema-like spec.",
        "An input: a type name (`string`, `number[]`, `file?`) or a JSON-Schema-like spec.\n\n"
        "```yaml\nthreshold: { type: number, default: 1000, minimum: 0 }\ntags: string[]\n```",
        anyOf=[
            ref("input_type"),
            {
                "type": "object",
                "properties": props,
                "patternProperties": {"^x-": {}},
                "additionalProperties": False,
            },
        ],
    )


_TRIGGER_DOCS: dict[str, tuple[str, dict[str, Schema]]] = {
    "webhook": (
        "Runs on `POST /hooks/<org>/<flow>/<path>`.",
        {
            "path": doc(
                "Path after `/hooks/<org>/<flow>/` (default: the trigger id).",
                type="string",
                pattern=r"^/*[A-Za-z0-9][A-Za-z0-9._~/-]*$",
            ),
            "auth": doc(
                "How callers authenticate: `hmac` (signed body), `token` or `none`.",
                type="string",
                enum=list(WEBHOOK_AUTH),
                default="none",
            ),
            "secret": doc(
                "The HMAC key or token, normally `${{ secrets.NAME }}`; required by hmac/token.",
                **ref("value"),
            ),
            "method": doc("Accepted HTTP method.", type="string", examples=["POST"]),
        },
    ),
    "cron": (
        "Runs on a schedule.",
        {
            "cron": doc(
                "Five-field cron expression: minute hour day-of-month month day-of-week.",
                type="string",
                examples=["0 2 * * *"],
            ),
            "timezone": doc(
                "IANA time zone of the schedule (default UTC).",
                type="string",
                examples=["Europe/Berlin", "UTC"],
            ),
        },
    ),
    "event": (
        "Runs when a platform event occurs.",
        {
            "on": doc("Event name.", type="string", examples=["document.uploaded"]),
            "filter": doc(
                "Condition on `event`; the flow runs only when it is true.", **ref("condition")
            ),
        },
    ),
}


_TRIGGER_REQUIRED: dict[str, tuple[str, ...]] = {"cron": ("cron",), "event": ("on",)}


def _trigger_schema() -> Schema:
    branches = []
    for kind, (summary, extra) in _TRIGGER_DOCS.items():
        assert set(extra) | {"description"} == set(TRIGGER_TYPES[kind])
        props: dict[str, Schema] = {
            "id": doc(
                "Trigger id, unique in the flow.",
                type="string",
                pattern=r"^[a-z_-][a-z0-9_-]*$",
            ),
            "type": doc(summary, const=kind),
            "description": doc("What the trigger is for.", **ref("text")),
            **extra,
            "inputs": doc(
                "Flow inputs for runs started by this trigger (values may use `trigger`/`event`).",
                **ref("values"),
            ),
        }
        branch: Schema = {
            "type": "object",
            "description": summary,
            "properties": props,
            "required": ["id", "type", *_TRIGGER_REQUIRED.get(kind, ())],
            "additionalProperties": False,
        }
        if kind == "webhook":
            branch["if"] = {
                "properties": {"auth": {"enum": ["hmac", "token"]}},
                "required": ["auth"],
            }
            branch["then"] = {"required": ["secret"]}
        branches.append(branch)
    return doc(
        "A trigger; manual runs are always allowed.",
        "A trigger (`webhook`, `cron` or `event`); manual runs are always allowed.\n\n"
        '```yaml\n- id: nightly\n  type: cron\n  cron: "0 2 * * *"\n  timezone: Europe/Berlin\n```',
        type="object",
        required=["id", "type"],
        properties={"type": {"enum": list(TRIGGER_TYPES)}},
        oneOf=branches,
    )


def _switch_case_schema() -> Schema:
    return doc(
        "A case: `when` + `steps`, or the `default` case.",
        type="object",
        oneOf=[
            {
                "type": "object",
                "properties": {
                    "when": doc("Runs this case when true (first match wins).", **ref("condition")),
                    "steps": ref("steps"),
                },
                "required": ["when", "steps"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {"default": doc("Runs when no case matched.", **ref("steps"))},
                "required": ["default"],
                "additionalProperties": False,
            },
        ],
    )


# --------------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------------


def _common_step_properties() -> dict[str, Schema]:
    props = {
        "id": ref("step_id"),
        "name": doc("Display name.", **ref("text")),
        "description": doc("What the step does.", **ref("text")),
        "if": doc(
            "Guard: the step is skipped when it is false.",
            "Guard: the step is **skipped** when it is false.\n\n"
            "```yaml\nif: ${{ inputs.notify != null }}\n```",
            **ref("condition"),
        ),
        "timeout": doc("Time limit of the step (default: `defaults.timeout`).", **ref("duration")),
        "retry": doc("Retry policy of the step (default: `defaults.retry`).", **ref("retry")),
        "continue_on_error": doc(
            "When true, a failure is recorded, the flow goes on and the output is null.",
            type="boolean",
        ),
        "mock": doc(
            "Output used in dry-run/test mode instead of running the step.", **ref("value")
        ),
    }
    assert set(props) == STEP_COMMON_KEYS
    return props


def _body(text: str) -> Schema:
    return doc(text, **ref("steps"))


def _kind_properties() -> dict[str, tuple[str, str, dict[str, Schema], list[str]]]:
    """kind → (description, markdown example, own properties, required keys besides id/kind)."""
    positive = {"type": "integer", "minimum": 1}
    return {
        "uses": (
            "Run a node type from the node library with `with:` arguments.",
            '- id: fetch\n  uses: http.request\n  with: { url: "https://api.example.com/items" }',
            {
                "uses": ref("node_ref"),
                "with": doc("Arguments of the node type (its input schema).", type="object"),
            },
            [],
        ),
        "steps": (
            "A sequential group.",
            "- id: prepare\n  steps: [ { id: a, uses: core.log, with: { message: one } } ]",
            {"steps": _body("The steps of the group, run in order.")},
            [],
        ),
        "parallel": (
            "Run each listed step concurrently; join when all finish.",
            "- id: fan\n  parallel:\n    - { id: left, uses: http.request, with: { url: "
            '"https://a.example.com" } }\n    - id: right\n      steps: [ ... ]',
            {
                "parallel": doc(
                    "The branches: each item is one step (often a group).",
                    type="array",
                    minItems=1,
                    items=ref("step"),
                ),
                "fail_fast": doc(
                    "Cancel the other branches when one fails (default true).",
                    type="boolean",
                    default=True,
                ),
                "max_concurrency": doc("At most this many branches at once.", **positive),
            },
            [],
        ),
        "switch": (
            "The first case whose `when` is true runs; optional `default`.",
            "- id: route\n  switch:\n    - when: ${{ steps.fetch.output.status == 200 }}\n"
            "      steps: [ ... ]\n    - default: [ ... ]",
            {"switch": doc("The cases, tried in order.", type="array", items=ref("switch_case"))},
            [],
        ),
        "foreach": (
            "Run `steps` once per array element; `as` (default `item`) and `index` in scope.",
            "- id: each\n  foreach: ${{ steps.fetch.output.json.items }}\n  as: row\n"
            "  concurrency: 4\n  collect: ${{ row.id }}\n  steps: [ ... ]",
            {
                "foreach": doc(
                    "The array to iterate over.",
                    anyOf=[{"type": "array"}, ref("expression")],
                ),
                "as": doc(
                    "Name of the current element (default `item`).",
                    type="string",
                    pattern=ID_PATTERN,
                    default="item",
                ),
                "concurrency": doc("Iterations run at once (default 1).", **positive),
                "collect": doc(
                    "Expression evaluated per iteration; the step's output is the list of them.",
                    **ref("value"),
                ),
                "steps": _body("The body, run once per element."),
            },
            ["steps"],
        ),
        "repeat": (
            "Run `steps` until `until` is true, at most `max_iterations` times.",
            '- id: poll\n  repeat: { until: "${{ vars.done }}", max_iterations: 20, delay: 30s }\n'
            "  steps: [ ... ]",
            {
                "repeat": doc(
                    "`until` (checked after each round), `max_iterations`, optional `delay`.",
                    type="object",
                    properties={
                        "until": doc("Stop when this is true.", **ref("condition")),
                        "max_iterations": doc("Upper bound on the rounds.", **positive),
                        "delay": doc("Pause between rounds.", **ref("duration")),
                    },
                    required=["until", "max_iterations"],
                    additionalProperties=False,
                ),
                "steps": _body("The body, run once per round."),
            },
            ["steps"],
        ),
        "try": (
            "Run `try` steps; on failure run `catch` (with `error` in scope); `finally` always.",
            "- id: guarded\n  try: [ ... ]\n  catch: [ ... ]\n  finally: [ ... ]",
            {
                "try": _body("The steps to try."),
                "catch": _body("Run when a `try` step fails; `error` is in scope."),
                "finally": _body("Always run last."),
            },
            [],
        ),
        "wait": (
            "Durable delay (`wait: 10m`) or `wait: { until: ... }`; never a sleeping thread.",
            '- { id: pause, wait: 10m }\n- { id: later, wait: { until: "${{ vars.ts }}" } }',
            {
                "wait": doc(
                    "A duration, or `{ until: <timestamp> }`.",
                    anyOf=[
                        ref("duration"),
                        {
                            "type": "object",
                            "properties": {
                                "until": doc("Resume at this timestamp.", **ref("value"))
                            },
                            "required": ["until"],
                            "additionalProperties": False,
                        },
                    ],
                )
            },
            [],
        ),
        "call": (
            "Run another flow of the organization as a child execution; output = its outputs.",
            '- id: child\n  call: billing-sync\n  with: { account: "${{ inputs.account }}" }',
            {
                "call": doc("The id of the flow to run.", **ref("flow_id")),
                "with": doc("Inputs of the called flow.", **ref("values")),
            },
            [],
        ),
        "set": (
            "Assign workflow variables.",
            '- { id: count, set: { total: "${{ vars.total + 1 }}" } }',
            {"set": doc("Variable names and their new values.", **ref("values"))},
            [],
        ),
        "fail": (
            "End the execution as failed with `{ message, type? }` (or just a message).",
            '- { id: stop, fail: { message: "no items", type: empty_input } }',
            {
                "fail": doc(
                    "The error message, or `{ message, type }`.",
                    anyOf=[
                        {"type": "string"},
                        {
                            "type": "object",
                            "properties": {
                                "message": doc("The error message.", **ref("value")),
                                "type": doc(
                                    "The error type (for `retry_on`, `catch`).", **ref("value")
                                ),
                            },
                            "required": ["message"],
                            "additionalProperties": False,
                        },
                    ],
                )
            },
            [],
        ),
        "return": (
            "End the execution successfully now; the mapping is merged over the flow's outputs.",
            "- { id: early, return: { reason: nothing-to-do } }",
            {
                "return": doc(
                    "Outputs merged over the flow's `outputs`.",
                    type=["object", "null"],
                )
            },
            [],
        ),
    }


def _step_defs() -> dict[str, Schema]:
    common = _common_step_properties()
    kinds = _kind_properties()
    assert set(kinds) == set(STEP_KIND_ORDER) == KIND_KEYS | {"steps"}
    defs: dict[str, Schema] = {}
    for kind in STEP_KIND_ORDER:
        text, example, own, required = kinds[kind]
        assert set(own) == {kind} | STEP_KIND_EXTRA_KEYS[kind], kind
        defs[f"step.{kind}"] = {
            "type": "object",
            "title": f"{kind} step" if kind != "steps" else "group step",
            "description": text,
            "markdownDescription": f"{text}\n\n```yaml\n{example}\n```",
            "properties": {**common, **own},
            "required": ["id", kind, *required],
            "additionalProperties": False,
        }
    defs["step.try"]["anyOf"] = [{"required": ["catch"]}, {"required": ["finally"]}]
    defs["step"] = doc(
        "A step: `id` and exactly one kind key ("
        + ", ".join(STEP_KIND_ORDER)
        + "); common keys: name, description, if, timeout, retry, continue_on_error, mock.",
        type="object",
        oneOf=[ref(f"step.{kind}") for kind in STEP_KIND_ORDER],
    )
    return defs


# --------------------------------------------------------------------------------------------
# The flow
# --------------------------------------------------------------------------------------------


def _flow_properties() -> dict[str, Schema]:
    props: dict[str, Schema] = {
        "flow": doc(
            "The flow id, unique per organization.",
            "The flow id (`^[a-z][a-z0-9-]{0,62}$`), unique per organization.",
            **ref("flow_id"),
        ),
        "dsl": doc("Language version (default 1).", type="integer", enum=[1], default=1),
        "name": doc("Display name.", **ref("text")),
        "description": doc("What the flow does.", **ref("text")),
        "labels": doc(
            "Labels: a map of strings, for filtering and ownership.",
            type="object",
            additionalProperties=ref("text"),
            examples=[{"team": "finance"}],
        ),
        "inputs": doc(
            "Inputs: a map of name to input spec.",
            "Inputs: a map of name to a type name or a JSON-Schema-like spec.\n\n"
            "```yaml\ninputs:\n  document: { type: file, accept: [application/pdf] }\n"
            "  threshold: { type: number, default: 1000, minimum: 0 }\n  tags: string[]\n```",
            type="object",
            additionalProperties=ref("input"),
        ),
        "vars": doc(
            "Workflow variables, evaluated once at start, in order.",
            "Workflow variables, evaluated once at start, in order; read as `vars.<name>`, "
            "changed by `set` steps.",
            **ref("values"),
        ),
        "triggers": doc(
            "Triggers: webhook, cron or event. Manual runs are always allowed.",
            type="array",
            items=ref("trigger"),
        ),
        "defaults": doc(
            "Applied to every `uses` step unless it overrides them.",
            type="object",
            properties={
                "timeout": doc("Default step time limit.", **ref("duration")),
                "retry": doc("Default retry policy.", **ref("retry")),
            },
            additionalProperties=False,
        ),
        "timeout": doc("Whole-execution time limit.", **ref("duration")),
        "concurrency": doc(
            "How many executions of this flow may run at once, and what to do beyond that.",
            "How many executions may run at once (`concurrency: 5`), or "
            "`{ limit, on_limit: queue | cancel | fail }`.",
            anyOf=[
                {"type": "integer", "minimum": 1},
                {
                    "type": "object",
                    "properties": {
                        "limit": doc("Maximum running executions.", type="integer", minimum=1),
                        "on_limit": doc(
                            "What happens to a new execution beyond the limit.",
                            type="string",
                            enum=list(CONCURRENCY_POLICIES),
                            default="queue",
                        ),
                    },
                    "required": ["limit"],
                    "additionalProperties": False,
                },
            ],
        ),
        "steps": doc(
            "The steps of the flow, run in order (at least one).",
            type="array",
            minItems=1,
            items=ref("step"),
        ),
        "catch": doc("Run when the execution fails, with `error` in scope.", **ref("steps")),
        "finally": doc("Always run last.", **ref("steps")),
        "outputs": doc(
            "Outputs of the execution: a map of name to expression.",
            "Outputs of the execution: a map of name to expression.\n\n"
            "```yaml\noutputs:\n  total: ${{ steps.fields.output.total }}\n```",
            **ref("values"),
        ),
    }
    assert tuple(props) == FLOW_KEYS
    return props


def flow_json_schema(registry: Registry | None = None) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the YAML form, with ``with:`` schemas for every node
    type of ``registry`` (default: the built-in registry plus installed plug-ins)."""
    registry = registry if registry is not None else default_registry()
    node_defs, node_rules = node_definitions(registry)
    defs = {**_shared_defs(), **_step_defs(), **node_defs}
    defs["step.uses"]["allOf"] = node_rules
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": "FlowPilot flow",
        "description": "A FlowPilot workflow in the YAML form (*.flow.yaml), DSL v1.",
        "type": "object",
        "properties": _flow_properties(),
        "required": ["flow", "steps"],
        "additionalProperties": False,
        "$defs": defs,
    }
