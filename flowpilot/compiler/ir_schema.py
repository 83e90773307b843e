"""The JSON Schema of the execution plan that :mod:`flowpilot.compiler.lower` produces.

The runtime, the server and external tools read plans, never source; this schema is their
contract (``docs/ir.md`` explains it; ``docs/ir.schema.json`` is this schema, kept current by a
test). Every object whose shape lowering fixes is closed with ``additionalProperties: false``, so a
key added to a plan without a schema (and ``ir_version``) change fails the tests.
"""

from __future__ import annotations

from typing import Any

from flowpilot.compiler.lower import IR_VERSION
from flowpilot.dsl.schema_keys import (
    BACKOFF_KINDS,
    CONCURRENCY_POLICIES,
    FLOW_ID_PATTERN,
    ID_PATTERN,
    INPUT_TYPES,
    TRIGGER_TYPES,
)

__all__ = [
    "BINARY_OPERATORS",
    "IR_SCHEMA",
    "IR_SCHEMA_ID",
    "NODE_ID_PATTERN",
    "NODE_KINDS",
    "build_ir_schema",
]

Schema = dict[str, Any]

IR_SCHEMA_ID = f"https://flowpilot.dev/schemas/plan-v{IR_VERSION}.schema.json"

#: ``["op", <operator>, left, right]``; ``and``/``or`` have their own forms (they short-circuit).
BINARY_OPERATORS: tuple[str, ...] = (
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "not in",
    "~",
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
)

#: Node kinds: ``sequence`` (synthetic bodies) and one per step kind (``group`` for ``steps:``).
NODE_KINDS: tuple[str, ...] = (
    "sequence",
    "uses",
    "group",
    "parallel",
    "switch",
    "foreach",
    "repeat",
    "try",
    "wait",
    "call",
    "set",
    "fail",
    "return",
)

_STEP_ID = ID_PATTERN.strip("^$")
#: Step ids, and the synthetic ids of bodies: ``$main``, ``$catch``, ``$finally``,
#: ``<id>/body``, ``<id>/case/<i>``, ``<id>/default``, ``<id>/try|catch|finally``.
NODE_ID_PATTERN = (
    rf"^(?:{_STEP_ID}|\$main|\$catch|\$finally"
    rf"|{_STEP_ID}/(?:body|default|try|catch|finally|case/(?:0|[1-9][0-9]*)))$"
)
_SEQUENCE_ID_PATTERN = (
    rf"^(?:\$main|\$catch|\$finally"
    rf"|{_STEP_ID}/(?:body|default|try|catch|finally|case/(?:0|[1-9][0-9]*)))$"
)
_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"  # an identifier of the expression language


def _ref(name: str) -> Schema:
    return {"$ref": f"#/$defs/{name}"}


def _closed(
    properties: dict[str, Schema], required: list[str] | None = None, **extra: Any
) -> Schema:
    """An object with exactly these keys (all of them required unless ``required`` says)."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
        **extra,
    }


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _tuple(*items: Schema, description: str) -> Schema:
    """A fixed-length array: the expression forms ``[tag, operand, …]``."""
    return {
        "description": description,
        "type": "array",
        "prefixItems": list(items),
        "items": False,
        "minItems": len(items),
    }


_MS = {"type": "integer", "minimum": 0}
_MS_OR_NULL = {"type": ["integer", "null"], "minimum": 0}
_POSITIVE = {"type": "integer", "minimum": 1}


# --------------------------------------------------------------------------------------------
# Expressions and values
# --------------------------------------------------------------------------------------------


def _expression_defs() -> dict[str, Schema]:
    expr = _ref("expr")
    forms: dict[str, Schema] = {
        "lit": _tuple(
            {"const": "lit"},
            {"type": ["string", "number", "boolean", "null"]},
            description="A literal.",
        ),
        "name": _tuple(
            {"const": "name"},
            {"type": "string", "pattern": _NAME},
            description="A name: inputs, vars, steps, secrets, env, trigger, event, execution, "
            "flow, a loop variable, index or error.",
        ),
        "attr": _tuple(
            {"const": "attr"},
            expr,
            {"type": "string", "pattern": _NAME},
            description="`obj.attr`.",
        ),
        "index": _tuple({"const": "index"}, expr, expr, description="`obj[index]`."),
        "slice": _tuple(
            {"const": "slice"},
            expr,
            _nullable(expr),
            _nullable(expr),
            description="`obj[lower:upper]`; an absent bound is null.",
        ),
        "call": _tuple(
            {"const": "call"},
            {"type": "string", "pattern": _NAME},
            {"type": "array", "items": expr},
            description="A function call; a filter `a | f(b)` is the call `f(a, b)`.",
        ),
        "op": _tuple(
            {"const": "op"},
            {"enum": list(BINARY_OPERATORS)},
            expr,
            expr,
            description="A binary operator (comparison, `in`, `not in`, `~`, arithmetic).",
        ),
        "and": _tuple({"const": "and"}, expr, expr, description="`l and r` (short-circuit)."),
        "or": _tuple({"const": "or"}, expr, expr, description="`l or r` (short-circuit)."),
        "not": _tuple({"const": "not"}, expr, description="`not e`."),
        "neg": _tuple({"const": "neg"}, expr, description="`-e`."),
        "if": _tuple(
            {"const": "if"},
            expr,
            expr,
            expr,
            description='`body if test else orelse`: `["if", test, body, orelse]`.',
        ),
        "list": _tuple(
            {"const": "list"}, {"type": "array", "items": expr}, description="`[a, b]`."
        ),
        "dict": _tuple(
            {"const": "dict"},
            {
                "type": "array",
                "items": {
                    "type": "array",
                    "prefixItems": [expr, expr],
                    "items": False,
                    "minItems": 2,
                },
            },
            description="`{k: v}` as `[[key expr, value expr], …]` in source order.",
        ),
    }
    defs = {f"expr.{tag}": schema for tag, schema in forms.items()}
    defs["expr"] = {
        "description": "A parsed expression: `[tag, …operands]`.",
        "anyOf": [_ref(f"expr.{tag}") for tag in forms],
    }
    return defs


def _value_defs() -> dict[str, Schema]:
    expr_value = _closed(
        {
            "$expr": _ref("expr"),
            "src": {"type": "string", "description": "The expression as written, for messages."},
        },
        description="A value that is exactly one `${{ expr }}`; it keeps the expression's type.",
    )
    return {
        "expr_value": expr_value,
        "concat": _closed(
            {
                "$concat": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"anyOf": [{"type": "string"}, _ref("expr_value")]},
                }
            },
            description="Text with embedded `${{ }}`: the parts, rendered and joined as text.",
        ),
        "template": _closed(
            {"$template": {"type": "string"}},
            description="A Jinja2 template (only as a `uses` argument whose input is a template).",
        ),
        "object": _closed(
            {
                "$object": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "array",
                        "prefixItems": [{"type": "string"}, _ref("value")],
                        "items": False,
                        "minItems": 2,
                    },
                }
            },
            description="A mapping with a key that starts with `$`, as `[[key, value], …]`, so "
            "that it cannot be mistaken for a value form.",
        ),
        "plain_object": {
            "type": "object",
            "description": "A literal mapping; no key starts with `$`.",
            "propertyNames": {"not": {"pattern": r"^\$"}},
            "additionalProperties": _ref("value"),
        },
        "value": {
            "description": "A lowered value: JSON literals, with the dynamic parts as value forms.",
            "anyOf": [
                {"type": ["null", "boolean", "number", "string"]},
                {"type": "array", "items": _ref("value")},
                _ref("plain_object"),
                _ref("expr_value"),
                _ref("concat"),
                _ref("object"),
            ],
        },
        "values": {
            "description": "A mapping of names to values (`set`, `return`, `call` inputs, …).",
            "anyOf": [_ref("plain_object"), _ref("object")],
        },
        "argument": {
            "description": "A `uses` argument: a value, or a template for template inputs.",
            "anyOf": [_ref("value"), _ref("template")],
        },
    }


# --------------------------------------------------------------------------------------------
# Nodes
# --------------------------------------------------------------------------------------------


def _common_step() -> dict[str, Schema]:
    return {
        "id": {"type": "string", "pattern": ID_PATTERN, "description": "The step id."},
        "step": {"type": "string", "pattern": ID_PATTERN, "description": "Same as `id`."},
        "parent": {
            "type": "string",
            "pattern": NODE_ID_PATTERN,
            "description": "The enclosing sequence node, or the parallel step of a branch.",
        },
        "pointer": _ref("pointer"),
        "span": _ref("span"),
        "if": {
            "description": "Guard; the step is skipped when false (null: none).",
            **_ref("value"),
        },
        "continue_on_error": {"type": "boolean"},
        "timeout_ms": {
            **_MS_OR_NULL,
            "description": "Effective time limit (uses: step → defaults.timeout); null = none.",
        },
        "name": {"type": "string", "description": "Display name (only when given)."},
        "mock": {"description": "Output in dry-run/test mode (only when given).", **_ref("value")},
        "retry": {
            "description": "Effective retry policy (always present on uses).",
            **_ref("retry"),
        },
    }


_OPTIONAL_COMMON = ("name", "mock", "retry")


def _step_node(kind: str, own: dict[str, Schema], description: str, **extra: Any) -> Schema:
    common = _common_step()
    properties = {**common, "kind": {"const": kind}, **own}
    required = [k for k in properties if k not in _OPTIONAL_COMMON]
    if kind == "uses":
        required.append("retry")
    return _closed(properties, required, description=description, **extra)


def _body_ref(description: str) -> Schema:
    return {"type": "string", "pattern": _SEQUENCE_ID_PATTERN, "description": description}


def _node_defs() -> dict[str, Schema]:
    step_id = {"type": "string", "pattern": ID_PATTERN}
    nodes: dict[str, Schema] = {
        "sequence": _closed(
            {
                "id": {"type": "string", "pattern": _SEQUENCE_ID_PATTERN},
                "kind": {"const": "sequence"},
                "parent": {
                    "type": ["string", "null"],
                    "pattern": ID_PATTERN,
                    "description": "The step that owns the body; null for $main/$catch/$finally.",
                },
                "pointer": _ref("pointer"),
                "children": {
                    "type": "array",
                    "items": step_id,
                    "description": "The step nodes, run in order.",
                },
            },
            description="A list of steps run in order (synthetic: flow sections and bodies).",
        ),
        "uses": _step_node(
            "uses",
            {
                "node_type": {"type": "string", "description": "`<namespace>.<name>`."},
                "node_version": {**_POSITIVE, "description": "The resolved major version."},
                "args": {
                    "type": "object",
                    "additionalProperties": _ref("argument"),
                    "description": "The `with:` arguments, lowered.",
                },
                "lazy_args": {
                    "type": "array",
                    "items": {"type": "string"},
                    "uniqueItems": True,
                    "description": "Arguments the node evaluates per element (`x-lazy`).",
                },
                "side_effects": {"type": "boolean"},
                "inline": {"type": "boolean", "description": "Pure: may run inline."},
                "credential": {"type": ["string", "null"]},
            },
            "Run a node type.",
        ),
        "group": _step_node("group", {"body": _body_ref("`<id>/body`.")}, "A sequential group."),
        "parallel": _step_node(
            "parallel",
            {
                "branches": {
                    "type": "array",
                    "items": step_id,
                    "minItems": 1,
                    "description": "One step node per branch (its parent is this step).",
                },
                "fail_fast": {"type": "boolean"},
                "max_concurrency": {"type": ["integer", "null"], "minimum": 1},
            },
            "Run the branches concurrently.",
        ),
        "switch": _step_node(
            "switch",
            {
                "cases": {
                    "type": "array",
                    "items": _closed(
                        {"when": _ref("value"), "body": _body_ref("`<id>/case/<i>`.")}
                    ),
                },
                "default": {**_body_ref("`<id>/default`."), "type": ["string", "null"]},
            },
            "The first case whose `when` is true runs, else `default`.",
        ),
        "foreach": _step_node(
            "foreach",
            {
                "items": _ref("value"),
                "as": {"type": "string", "pattern": ID_PATTERN},
                "concurrency": _POSITIVE,
                "collect": {"description": "Per-iteration value, or null.", **_ref("value")},
                "body": _body_ref("`<id>/body`."),
            },
            "Run the body once per element.",
        ),
        "repeat": _step_node(
            "repeat",
            {
                "until": _ref("value"),
                "max_iterations": _POSITIVE,
                "delay_ms": _MS_OR_NULL,
                "body": _body_ref("`<id>/body`."),
            },
            "Run the body until `until` is true.",
        ),
        "try": _step_node(
            "try",
            {
                "body": _body_ref("`<id>/try`."),
                "catch": {**_body_ref("`<id>/catch`."), "type": ["string", "null"]},
                "finally": {**_body_ref("`<id>/finally`."), "type": ["string", "null"]},
            },
            "Run `body`; on failure `catch`; `finally` always.",
        ),
        "wait": _step_node(
            "wait",
            {"duration_ms": _MS_OR_NULL, "until": _ref("value")},
            "A durable delay: `duration_ms`, or until the timestamp `until`.",
            oneOf=[
                {"properties": {"duration_ms": {"type": "integer"}, "until": {"type": "null"}}},
                {
                    "properties": {
                        "duration_ms": {"type": "null"},
                        "until": {"not": {"type": "null"}},
                    }
                },
            ],
        ),
        "call": _step_node(
            "call",
            {
                "flow": {"type": "string", "pattern": FLOW_ID_PATTERN},
                "args": _ref("values"),
            },
            "Run another flow as a child execution.",
        ),
        "set": _step_node("set", {"values": _ref("values")}, "Assign workflow variables."),
        "fail": _step_node(
            "fail",
            {"message": _ref("value"), "error_type": _ref("value")},
            "End the execution as failed.",
        ),
        "return": _step_node(
            "return", {"values": _ref("values")}, "End the execution successfully now."
        ),
    }
    assert tuple(nodes) == NODE_KINDS
    defs = {f"node.{kind}": schema for kind, schema in nodes.items()}
    defs["node"] = {
        "description": "A plan node; `kind` says which.",
        "type": "object",
        "required": ["kind"],
        "properties": {"kind": {"enum": list(NODE_KINDS)}},
        "oneOf": [_ref(f"node.{kind}") for kind in NODE_KINDS],
    }
    return defs


def _misc_defs() -> dict[str, Schema]:
    return {
        "pointer": {
            "type": "string",
            "pattern": r"^(?:/(?:steps|catch|finally))(?:/[a-z0-9_]+)*$",
            "description": "JSON pointer to the step (or list) in the YAML form of the flow.",
        },
        "span": _closed(
            {
                "file": {"type": "string"},
                "line": _POSITIVE,
                "column": _POSITIVE,
                "end_line": _POSITIVE,
                "end_column": _POSITIVE,
            },
            description="Where the step is in the source (1-based).",
        ),
        "retry": _closed(
            {
                "max_attempts": {**_POSITIVE, "description": "1 means no retry."},
                "backoff": {"enum": list(BACKOFF_KINDS)},
                "delay_ms": _MS,
                "factor": {"type": "number", "exclusiveMinimum": 0},
                "max_delay_ms": _MS_OR_NULL,
                "jitter": {"type": "boolean"},
                "retry_on": {
                    "type": ["array", "null"],
                    "items": {"type": "string"},
                    "description": "Retry only on these error types; null = on any.",
                },
            },
            description="An effective retry policy: step, then flow defaults, then built-in.",
        ),
        "input": _closed(
            {
                "schema": {
                    "type": "object",
                    "properties": {"type": {"enum": list(INPUT_TYPES)}},
                    "required": ["type"],
                    "description": "JSON-Schema-like: `type` plus the declared options.",
                },
                "required": {"type": "boolean", "description": "Required and without default."},
                "default": {"description": "Default (null: none).", **_ref("value")},
            },
            description="A flow input.",
        ),
        "trigger": _closed(
            {
                "id": {"type": "string", "pattern": r"^[a-z_-][a-z0-9_-]*$"},
                "type": {"enum": list(TRIGGER_TYPES)},
                "config": {
                    **_ref("plain_object"),
                    "description": "The other keys of the trigger (path, auth, cron, …), lowered.",
                },
                "inputs": _ref("values"),
            },
            description="A trigger.",
        ),
    }


def _plan_properties() -> dict[str, Schema]:
    return {
        "ir_version": {"const": IR_VERSION, "description": "Bumped on breaking changes."},
        "flow": _closed(
            {
                "id": {"type": "string", "pattern": FLOW_ID_PATTERN},
                "name": {"type": ["string", "null"]},
                "description": {"type": ["string", "null"]},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "dsl": {"const": 1},
            }
        ),
        "source": _closed(
            {
                "file": {"type": "string"},
                "syntax": {"enum": ["yaml", "text"]},
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            },
            description="The source the plan was compiled from.",
        ),
        "inputs": {"type": "object", "additionalProperties": _ref("input")},
        "vars": {
            "type": "array",
            "items": _closed({"name": {"type": "string"}, "value": _ref("value")}),
            "description": "Evaluated once at start, in order.",
        },
        "triggers": {"type": "array", "items": _ref("trigger")},
        "timeout_ms": _MS_OR_NULL,
        "concurrency": {
            "anyOf": [
                _closed({"limit": _POSITIVE, "on_limit": {"enum": list(CONCURRENCY_POLICIES)}}),
                {"type": "null"},
            ]
        },
        "entry": {"const": "$main"},
        "catch": {"enum": ["$catch", None]},
        "finally": {"enum": ["$finally", None]},
        "nodes": {
            "type": "object",
            "propertyNames": {"pattern": NODE_ID_PATTERN},
            "additionalProperties": _ref("node"),
            "required": ["$main"],
        },
        "outputs": {"type": "object", "additionalProperties": _ref("value")},
        "secrets": {
            "type": "array",
            "items": {"type": "string"},
            "uniqueItems": True,
            "description": "Names read as `secrets.NAME`, sorted.",
        },
    }


def build_ir_schema() -> dict[str, Any]:
    """The plan schema (draft 2020-12); :data:`IR_SCHEMA` is its value."""
    properties = _plan_properties()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": IR_SCHEMA_ID,
        "title": f"FlowPilot execution plan (IR v{IR_VERSION})",
        "description": "What flowpilot.compiler.lower produces; see docs/ir.md.",
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
        "$defs": {
            **_expression_defs(),
            **_value_defs(),
            **_node_defs(),
            **_misc_defs(),
        },
    }


IR_SCHEMA: dict[str, Any] = build_ir_schema()
