"""The keys the language knows, shared by both front ends, the compiler and the JSON Schema."""

from __future__ import annotations

FLOW_KEYS: tuple[str, ...] = (
    "flow",
    "dsl",
    "name",
    "description",
    "labels",
    "inputs",
    "vars",
    "triggers",
    "defaults",
    "timeout",
    "concurrency",
    "steps",
    "catch",
    "finally",
    "outputs",
)

STEP_COMMON_KEYS: frozenset[str] = frozenset(
    {"id", "name", "description", "if", "timeout", "retry", "continue_on_error", "mock"}
)

# The key that says what a step does. A lone `steps:` makes a group; in foreach/repeat
# `steps:` is the body, so it is not a kind key there.
KIND_KEYS: frozenset[str] = frozenset(
    {
        "uses",
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
    }
)

STEP_KIND_EXTRA_KEYS: dict[str, frozenset[str]] = {
    "uses": frozenset({"with"}),
    "steps": frozenset(),
    "parallel": frozenset({"fail_fast", "max_concurrency"}),
    "switch": frozenset(),
    "foreach": frozenset({"as", "concurrency", "collect", "steps"}),
    "repeat": frozenset({"steps"}),
    "try": frozenset({"catch", "finally"}),
    "wait": frozenset(),
    "call": frozenset({"with"}),
    "set": frozenset(),
    "fail": frozenset(),
    "return": frozenset(),
}

RETRY_KEYS: tuple[str, ...] = (
    "max_attempts",
    "backoff",
    "delay",
    "factor",
    "max_delay",
    "jitter",
    "retry_on",
)
BACKOFF_KINDS: tuple[str, ...] = ("fixed", "linear", "exponential")

INPUT_TYPES: tuple[str, ...] = (
    "string",
    "number",
    "integer",
    "boolean",
    "object",
    "array",
    "file",
    "secret",
    "any",
)

# JSON-Schema-like options an input may carry besides type/required/default/description.
INPUT_OPTION_KEYS: tuple[str, ...] = (
    "format",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "pattern",
    "minLength",
    "maxLength",
    "items",
    "minItems",
    "maxItems",
    "uniqueItems",
    "properties",
    "additionalProperties",
    "accept",
    "max_size",
    "title",
    "examples",
    "secret",
)

TRIGGER_COMMON_KEYS: tuple[str, ...] = ("id", "type")
TRIGGER_TYPES: dict[str, tuple[str, ...]] = {
    "webhook": ("path", "auth", "secret", "method", "description"),
    "cron": ("cron", "timezone", "description"),
    "event": ("on", "filter", "description"),
}
WEBHOOK_AUTH: tuple[str, ...] = ("hmac", "token", "none")
CONCURRENCY_POLICIES: tuple[str, ...] = ("queue", "cancel", "fail")

ID_PATTERN = r"^[a-z_][a-z0-9_]*$"
FLOW_ID_PATTERN = r"^[a-z][a-z0-9-]{0,62}$"
