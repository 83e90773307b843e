"""Shared JSON Schema fragments and the builder the catalogue modules declare node types with.

Every schema here is JSON Schema draft 2020-12 plus the FlowPilot extensions the compiler reads:

- ``"x-type": "file"`` — a file reference (the object below); ``"x-type": "secret"`` — a secret.
- ``"x-secret": true`` — the argument accepts a secret as well as its declared type.
- ``"x-template": true`` — a string argument that is a Jinja2 template rendered with the flow's
  names (``inputs``, ``steps``, ``vars`` …) before the node runs.
- ``"x-lazy": true`` — the argument's expression is *not* evaluated before the step runs: the node
  evaluates it once per element of ``items`` with ``item`` (the element) and ``index`` in scope
  (``core.transform``'s ``map`` and ``filter``).

The helpers take the description first so that no property can be declared without one, and
input objects default to ``additionalProperties: false`` so that a typo in ``with:`` is an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from flowpilot.stdlib.registry import Category, NodeType

Schema = dict[str, Any]

# --------------------------------------------------------------------------------------------
# Scalars
# --------------------------------------------------------------------------------------------


def _with(schema: Schema, description: str, extra: Mapping[str, Any]) -> Schema:
    schema["description"] = description
    schema.update(extra)
    return schema


def string(description: str, **extra: Any) -> Schema:
    return _with({"type": "string"}, description, extra)


def template(description: str, **extra: Any) -> Schema:
    """A Jinja2 template field (prompts, message bodies, subjects)."""
    return _with({"type": "string", "x-template": True}, description, extra)


def secret_string(description: str, **extra: Any) -> Schema:
    """A string that may also be given as a secret (``${{ secrets.NAME }}``)."""
    return _with({"type": "string", "x-secret": True}, description, extra)


def integer(description: str, **extra: Any) -> Schema:
    return _with({"type": "integer"}, description, extra)


def number(description: str, **extra: Any) -> Schema:
    return _with({"type": "number"}, description, extra)


def boolean(description: str, **extra: Any) -> Schema:
    return _with({"type": "boolean"}, description, extra)


def enum(description: str, values: Sequence[Any], **extra: Any) -> Schema:
    """A closed choice; string values also carry ``type: string`` for editors."""
    schema: Schema = {"enum": list(values)}
    if all(isinstance(v, str) for v in values):
        schema = {"type": "string", **schema}
    return _with(schema, description, extra)


def any_value(description: str, **extra: Any) -> Schema:
    """Any JSON value (the schema only documents it)."""
    return _with({}, description, extra)


def uri(description: str, **extra: Any) -> Schema:
    return string(description, format="uri", **extra)


def email(description: str, **extra: Any) -> Schema:
    return string(description, format="email", **extra)


def date_time(description: str, **extra: Any) -> Schema:
    return string(description, format="date-time", **extra)


# --------------------------------------------------------------------------------------------
# Composites
# --------------------------------------------------------------------------------------------


def obj(
    description: str | None,
    properties: Mapping[str, Schema],
    required: Iterable[str] = (),
    *,
    additional: bool | Schema = False,
    **extra: Any,
) -> Schema:
    """An object; closed (``additionalProperties: false``) unless ``additional`` says otherwise."""
    schema: Schema = {"type": "object"}
    if description is not None:
        schema["description"] = description
    schema["properties"] = dict(properties)
    req = list(required)
    unknown = [r for r in req if r not in properties]
    if unknown:
        raise ValueError(f"required fields {unknown} are not declared properties")
    if req:
        schema["required"] = req
    schema["additionalProperties"] = additional
    schema.update(extra)
    return schema


def open_object(description: str, **extra: Any) -> Schema:
    """An object with arbitrary fields (user data, API payloads)."""
    return _with({"type": "object", "additionalProperties": True}, description, extra)


def string_map(description: str, *, secret: bool = False, **extra: Any) -> Schema:
    """A map of string to string (headers, labels); values may be secrets when ``secret``."""
    values: Schema = {"type": "string"}
    if secret:
        values["x-secret"] = True
    return _with({"type": "object", "additionalProperties": values}, description, extra)


def array(description: str, items: Schema, **extra: Any) -> Schema:
    return _with({"type": "array", "items": items}, description, extra)


def nullable(schema: Schema) -> Schema:
    """``schema`` or null, keeping the description on the outside."""
    inner = dict(schema)
    description = inner.pop("description", None)
    typ = inner.get("type")
    if isinstance(typ, str) and "enum" not in inner and "x-type" not in inner:
        inner["type"] = [typ, "null"]
        if description is not None:
            inner["description"] = description
        return inner
    result: Schema = {"anyOf": [inner, {"type": "null"}]}
    if description is not None:
        result["description"] = description
    return result


def one_of_types(description: str, *schemas: Schema, **extra: Any) -> Schema:
    return _with({"anyOf": list(schemas)}, description, extra)


# --------------------------------------------------------------------------------------------
# Domain fragments
# --------------------------------------------------------------------------------------------

# Mirrors ``flowpilot.compiler.types.FILE`` so the runtime validates the same shape.
FILE_PROPERTIES: Schema = {
    "id": string("Stable identifier of the file in FlowPilot's file store."),
    "name": string("File name, including its extension."),
    "mime_type": string("Media type, e.g. `application/pdf`."),
    "size": integer("Size in bytes.", minimum=0),
    "sha256": string("Hex SHA-256 digest of the content.", pattern="^[0-9a-f]{64}$"),
    "url": uri("Short-lived download URL, when the store can issue one."),
}


def file(description: str, **extra: Any) -> Schema:
    """A file reference (``{"x-type": "file"}``); the compiler types it as ``file``."""
    schema = obj(description, FILE_PROPERTIES, ["id", "name", "mime_type", "size"])
    return {"x-type": "file", **schema, **extra}


def file_list(description: str, **extra: Any) -> Schema:
    return array(description, file("A file."), **extra)


DURATION_PATTERN = (
    r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d)"
    r"|P(?=\d|T\d)(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?)$"
)


def duration(description: str, **extra: Any) -> Schema:
    """A DSL duration: ``250ms``, ``30s``, ``5m``, ``2h``, ``3d`` or ISO-8601 (``PT5M``)."""
    return string(description, pattern=DURATION_PATTERN, **extra)


def timeout_arg(default: str, what: str = "request") -> Schema:
    return duration(
        f"Time limit for one {what} (`30s`, `2m` …). The step's own `timeout` still bounds the "
        "whole step, retries included.",
        default=default,
    )


def connection(kind: str) -> Schema:
    kinds = " or ".join(f"`{k}`" for k in kind.split("|"))
    return string(
        f"Name of the stored {kinds} credential to use. Defaults to the organization's default "
        "credential of that kind.",
        minLength=1,
        examples=["default"],
    )


def email_list(description: str, **extra: Any) -> Schema:
    """One address, or a list of them."""
    return one_of_types(
        description,
        {"type": "string", "format": "email"},
        {"type": "array", "items": {"type": "string", "format": "email"}, "minItems": 1},
        **extra,
    )


def json_schema_arg(description: str, **extra: Any) -> Schema:
    """An argument whose value is itself a JSON Schema (draft 2020-12)."""
    return open_object(description, examples=[{"type": "object", "properties": {}}], **extra)


PAGE_RANGE_PATTERN = r"^\s*\d+(\s*-\s*\d*)?(\s*,\s*\d+(\s*-\s*\d*)?)*\s*$"


def page_range(description: str, **extra: Any) -> Schema:
    return string(description, pattern=PAGE_RANGE_PATTERN, examples=["1-3,7", "2-"], **extra)


_AUTH_VARIANTS: list[Schema] = [
    obj(
        "Bearer token: `Authorization: Bearer <token>`.",
        {
            "type": string("Authentication scheme.", const="bearer"),
            "token": secret_string("The bearer token."),
        },
        ["type", "token"],
    ),
    obj(
        "HTTP Basic authentication.",
        {
            "type": string("Authentication scheme.", const="basic"),
            "username": string("User name."),
            "password": secret_string("Password."),
        },
        ["type", "username", "password"],
    ),
    obj(
        "An API key sent in a header (or a query parameter).",
        {
            "type": string("Authentication scheme.", const="api_key"),
            "header": string("Header carrying the key.", default="X-API-Key"),
            "query_param": string("Send the key as this query parameter instead of a header."),
            "value": secret_string("The API key."),
        },
        ["type", "value"],
    ),
]

# The variants decide validity (`oneOf`, tagged with `const` so that a literal tag type-checks
# even when other fields are expressions); the merged `properties` beside them let tools that
# only read `properties` (secret-flow checks, completion) see every field of every variant.
HTTP_AUTH: Schema = obj(
    "Authentication to add to the request. Prefer `${{ secrets.NAME }}` for the secret parts.",
    {
        "type": enum("Authentication scheme.", ["bearer", "basic", "api_key"]),
        **{
            k: v
            for variant in _AUTH_VARIANTS
            for k, v in variant["properties"].items()
            if k != "type"
        },
    },
    ["type"],
    oneOf=_AUTH_VARIANTS,
)

HEADERS = string_map(
    "Extra request headers; values may be secrets.", secret=True, examples=[{"X-Tenant": "acme"}]
)

# Gemini (google-genai) arguments shared by every `ai.*` node.
DEFAULT_MODEL = "gemini-2.5-flash"
GEMINI_MODELS = ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite"]


def ai_common(temperature: float = 0.2) -> dict[str, Schema]:
    return {
        "model": string(
            "Gemini model to call.", default=DEFAULT_MODEL, examples=GEMINI_MODELS, minLength=1
        ),
        "temperature": number(
            "Sampling temperature: 0 is most deterministic, 2 most creative.",
            minimum=0,
            maximum=2,
            default=temperature,
        ),
        "max_output_tokens": integer(
            "Upper bound on generated tokens; the model's own limit applies when omitted.",
            minimum=1,
            maximum=65536,
        ),
        "connection": connection("gemini"),
    }


TOKENS = obj(
    "Token usage reported by the model (for cost tracking).",
    {
        "input": integer("Prompt tokens.", minimum=0),
        "output": integer("Generated tokens.", minimum=0),
    },
    ["input", "output"],
)

# --------------------------------------------------------------------------------------------
# Node type builder
# --------------------------------------------------------------------------------------------


def node_type(
    name: str,
    *,
    category: Category,
    summary: str,
    description: str,
    inputs: Mapping[str, Schema],
    output: Schema,
    example: str,
    required: Iterable[str] = (),
    version: int = 1,
    side_effects: bool = False,
    credential: str | None = None,
    output_from: str | None = None,
    pure: bool = False,
) -> NodeType:
    """Declare a node type.

    ``inputs`` are the argument schemas (an input object closed to unknown keys is built from
    them); ``example`` is a YAML step list, appended to the description and parsed into
    ``examples`` so tests, the LSP and the docs use the very same snippet.
    """
    example = example.strip("\n")
    steps = yaml.load(example, Loader=yaml.CSafeLoader)
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        raise ValueError(f"{name}: the example must be a YAML list of steps")
    text = f"{description.strip()}\n\n**Example**\n\n```yaml\n{example}\n```"
    return NodeType(
        name=name,
        version=version,
        category=category,
        summary=summary,
        description=text,
        inputs=obj(None, inputs, required),
        output=output,
        side_effects=side_effects,
        credential=credential,
        output_from=output_from,
        pure=pure,
        examples=tuple(steps),
    )
