"""``http.*``: outbound HTTP requests and GraphQL calls."""

from __future__ import annotations

from flowpilot.stdlib.catalog._schemas import (
    HEADERS,
    HTTP_AUTH,
    any_value,
    array,
    boolean,
    connection,
    enum,
    file,
    integer,
    node_type,
    nullable,
    number,
    obj,
    one_of_types,
    open_object,
    string,
    string_map,
    timeout_arg,
    uri,
)
from flowpilot.stdlib.registry import Category, NodeType

_STATUS_PATTERN = {"type": "string", "pattern": "^[1-5]xx$"}
_STATUS_CODE = {"type": "integer", "minimum": 100, "maximum": 599}

REQUEST = node_type(
    "http.request",
    category=Category.ACTION,
    summary="Send an HTTP request",
    description="""
Sends one HTTP request and returns the response. Give at most one body: `json`, `form`, `body`
(raw text), or `files` (multipart, which may be combined with `form`).

Authentication comes from `auth` inline, or from a stored `http` credential named by
`connection` (its headers and auth are added); without either the request is anonymous.
A response whose status is not in `expected_status` (by default any `2xx`) fails the step with
error type `http_status`, which `retry` retries for 408, 425, 429 and 5xx only. Requests other
than GET/HEAD/OPTIONS carry an `Idempotency-Key` header that is stable across redeliveries of
the same attempt (an explicit `idempotency_key` is sent whatever the method). Credentials do not
follow a redirect to another origin. Error types and the `http` credential's keys:
docs/credentials.md.

Output: `{status, ok, headers, json, text, file, url, elapsed_ms}` — `json` is set when the
response is JSON, `file` when `response_type` is `bytes` (not available yet: nodes cannot store
files in this release, so `bytes` fails before the request is sent).
""",
    inputs={
        "method": enum(
            "HTTP method.",
            ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
            default="GET",
        ),
        "url": uri("Absolute URL, including any query string."),
        "headers": HEADERS,
        "query": obj(
            "Query-string parameters, added to those already in `url`.",
            {},
            additional={"type": ["string", "number", "boolean", "array"]},
        ),
        "json": any_value("Body sent as JSON (`Content-Type: application/json`)."),
        "form": string_map("Body sent URL-encoded, or as the text fields of a multipart body."),
        "body": string("Raw body, sent as-is; set `Content-Type` in `headers`."),
        "files": obj(
            "Files sent as a multipart/form-data body, by field name.",
            {},
            additional=file("A file to upload."),
        ),
        "auth": HTTP_AUTH,
        "connection": connection("http"),
        "timeout": timeout_arg("30s"),
        "follow_redirects": boolean("Follow 3xx redirects.", default=True),
        "verify_tls": boolean(
            "Verify the server's TLS certificate. Turn off only for internal test hosts.",
            default=True,
        ),
        "expected_status": array(
            "Statuses that count as success: codes (`404`) or classes (`2xx`).",
            one_of_types("A status code or class.", _STATUS_CODE, _STATUS_PATTERN),
            default=["2xx"],
            minItems=1,
        ),
        "response_type": enum(
            "How to read the body: `auto` parses JSON when the response says it is JSON.",
            ["auto", "json", "text", "bytes"],
            default="auto",
        ),
        "max_response_bytes": integer(
            "Fail when the response body is larger than this.",
            minimum=1,
            default=50 * 1024 * 1024,
        ),
        "idempotency_key": string(
            "Overrides the generated `Idempotency-Key` header value.", minLength=1
        ),
    },
    required=["url"],
    output=obj(
        "The response.",
        {
            "status": integer("HTTP status code.", minimum=100, maximum=599),
            "ok": boolean("Whether `status` is in `expected_status`."),
            "headers": string_map("Response headers, names lower-cased."),
            "json": any_value("Parsed JSON body, or null when the body is not JSON."),
            "text": nullable(string("Body as text (null for `bytes`).")),
            "file": nullable(file("The body stored as a file (`response_type: bytes`).")),
            "url": uri("Final URL, after redirects."),
            "elapsed_ms": number("Time from sending to the full response, in ms.", minimum=0),
        },
        ["status", "ok", "headers", "json", "text", "file", "url", "elapsed_ms"],
    ),
    side_effects=True,
    credential="http",
    example="""
- id: create_order
  uses: http.request
  with:
    method: POST
    url: https://erp.example.com/api/orders
    auth: { type: bearer, token: "${{ secrets.ERP_TOKEN }}" }
    json: { customer: "${{ inputs.customer_id }}", lines: "${{ steps.fields.output.items }}" }
    expected_status: [200, 201]
  retry: { max_attempts: 5, backoff: exponential, delay: 1s }
""",
)

_GRAPHQL_ERROR = obj(
    "A GraphQL error.",
    {
        "message": string("Error message."),
        "path": array("Path of the field that failed.", {"type": ["string", "integer"]}),
        "locations": array(
            "Positions in the query.",
            obj(
                "A position.",
                {"line": integer("Line, 1-based."), "column": integer("Column, 1-based.")},
            ),
        ),
        "extensions": open_object("Server-specific details, e.g. an error code."),
    },
    ["message"],
)

GRAPHQL = node_type(
    "http.graphql",
    category=Category.ACTION,
    summary="Run a GraphQL query or mutation",
    description="""
POSTs `query` and `variables` to a GraphQL endpoint. By default a response carrying `errors`
fails the step (error type `graphql`); set `fail_on_errors: false` to inspect partial data.

Output: `{data, errors, status}`.
""",
    inputs={
        "url": uri("GraphQL endpoint."),
        "query": string("The GraphQL document.", minLength=1),
        "variables": open_object("Values of the operation's variables."),
        "operation_name": string("Operation to run when `query` defines several."),
        "headers": HEADERS,
        "auth": HTTP_AUTH,
        "connection": connection("http"),
        "timeout": timeout_arg("30s"),
        "fail_on_errors": boolean("Fail the step when the response has `errors`.", default=True),
    },
    required=["url", "query"],
    output=obj(
        "The GraphQL response.",
        {
            "data": any_value("The `data` member; null when the operation failed entirely."),
            "errors": array("The `errors` member (empty on success).", _GRAPHQL_ERROR),
            "status": integer("HTTP status code.", minimum=100, maximum=599),
        },
        ["data", "errors", "status"],
    ),
    side_effects=True,
    credential="http",
    example="""
- id: repo
  uses: http.graphql
  with:
    url: https://api.github.com/graphql
    auth: { type: bearer, token: "${{ secrets.GITHUB_TOKEN }}" }
    query: |
      query($owner: String!, $name: String!) {
        repository(owner: $owner, name: $name) { stargazerCount }
      }
    variables: { owner: acme, name: platform }
""",
)

NODE_TYPES: list[NodeType] = [REQUEST, GRAPHQL]
