"""``http.request`` and ``http.graphql``.

A stored ``http`` credential (named by ``connection``) may hold ``headers`` (a string map) and
``auth`` (the same shape as the ``auth`` argument); the step's own ``headers`` and ``auth``
override them.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowpilot.stdlib.context import NodeContext
from flowpilot.stdlib.errors import InvalidNodeInput, NodeError
from flowpilot.stdlib.nodes._http import (
    basic_credentials,
    decode_text,
    duration_seconds,
    is_json_media_type,
    open_response,
    read_body,
    redact,
    secret_variants,
    shared_client,
    status_error,
    status_is_retryable,
    transport_error,
)

if TYPE_CHECKING:
    import httpx

_NO_IDEMPOTENCY_KEY = frozenset({"GET", "HEAD", "OPTIONS"})
_BODY_ARGUMENTS = ("json", "form", "body", "files")
_SENSITIVE_HEADER = re.compile(
    r"auth|token|key|secret|passw|cookie|session|signature|credential", re.I
)


class _Prepared:
    """Headers, query parameters and the secrets to keep out of messages, for one request."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.params: list[tuple[str, Any]] = []
        self.secrets: list[str] = []
        self.secret_param: str | None = None
        self.private_headers: list[str] = []


def _prepare_auth(ctx: NodeContext, args: Mapping[str, Any], url: httpx.URL) -> _Prepared:
    import httpx

    prepared = _Prepared()
    credential: Mapping[str, Any] = {}
    if args.get("connection"):
        credential = ctx.credential("http", args["connection"])
    try:
        headers = httpx.Headers(credential.get("headers") or {})
        prepared.secrets += headers.values()
        headers.update(args.get("headers") or {})
    except UnicodeEncodeError:
        raise InvalidNodeInput(
            "header names and values must be ASCII text (encode other text first, e.g. "
            "with urlencode)",
            field="with.headers",
        ) from None
    # Header values may be secrets; redact those whose names say so (redacting every value
    # would also blank out `application/json` in the error bodies people read).
    sensitive = [k for k in headers if _SENSITIVE_HEADER.search(k)]
    prepared.secrets += [headers[k] for k in sensitive]
    prepared.private_headers += sensitive + list(credential.get("headers") or {})
    if url.userinfo:
        prepared.secrets.append(url.password or "")
    auth = args.get("auth") or credential.get("auth")
    if auth:
        kind = auth.get("type")
        if kind == "bearer":
            headers["Authorization"] = f"Bearer {auth['token']}"
            prepared.secrets.append(auth["token"])
        elif kind == "basic":
            encoded = basic_credentials(auth["username"], auth["password"])
            headers["Authorization"] = f"Basic {encoded}"
            prepared.secrets += [auth["password"], encoded]
        elif kind == "api_key":
            prepared.secrets.append(auth["value"])
            if auth.get("query_param"):
                prepared.params.append((auth["query_param"], auth["value"]))
                prepared.secret_param = auth["query_param"]
            else:
                headers[auth.get("header") or "X-API-Key"] = auth["value"]
                prepared.private_headers.append(auth.get("header") or "X-API-Key")
        else:
            raise InvalidNodeInput(f"unknown auth type {kind!r}", field="with.auth.type")
    # `raw` keeps the names as written; some servers still care about header case.
    prepared.headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers.raw}
    return prepared


def _query(args: Mapping[str, Any]) -> list[tuple[str, Any]]:
    params: list[tuple[str, Any]] = []
    for name, value in (args.get("query") or {}).items():
        for one in value if isinstance(value, list) else [value]:
            params.append((name, _query_value(one)))
    return params


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _status_matches(status: int, expected: list[int | str]) -> bool:
    for item in expected:
        if isinstance(item, int) and status == item:
            return True
        if isinstance(item, str) and str(status)[0] == item[0]:
            return True
    return False


def _url(text: str) -> httpx.URL:
    import httpx

    try:
        return httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise InvalidNodeInput(f"invalid url: {exc}", field="with.url") from None


def _what(method: str, url: httpx.URL) -> str:
    """The request as shown in messages: no user info or query string (they may carry
    credentials)."""
    return f"{method} {url.scheme}://{url.netloc.decode('ascii')}{url.path}"


def _body(ctx: NodeContext, args: Mapping[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    given = [name for name in _BODY_ARGUMENTS if name in args]
    if len(given) > 1 and sorted(given) != ["files", "form"]:
        raise InvalidNodeInput(
            "http.request: give at most one body (`json`, `form`, `body` or `files`; only "
            f"`files` and `form` combine), got {', '.join(f'`{g}`' for g in given)}",
            field=f"with.{given[1]}",
        )
    lowered = {k.lower() for k in headers}
    if "json" in args:
        if "content-type" not in lowered:
            headers["Content-Type"] = "application/json"
        content = json.dumps(args["json"], ensure_ascii=False, separators=(",", ":"))
        return {"content": content.encode("utf-8")}
    if "files" in args:
        files = {
            field: (ref["name"], ctx.read_file(ref), ref.get("mime_type"))
            for field, ref in args["files"].items()
        }
        return {"files": files, "data": args.get("form") or {}}
    if "form" in args:
        return {"data": args["form"]}
    if "body" in args:
        return {"content": args["body"].encode("utf-8")}
    return {}


def http_request(ctx: NodeContext, args: dict[str, Any]) -> dict[str, Any]:
    import httpx

    if args.get("response_type") == "bytes":
        # Checked before sending: the request may have side effects.
        raise NodeError(
            "http.request: response_type `bytes` needs the file store, which this FlowPilot "
            "release does not provide to nodes yet; use `text` or `auto`",
            type="unsupported",
            retryable=False,
        )
    method = args.get("method", "GET")
    url = _url(args["url"])
    prepared = _prepare_auth(ctx, args, url)
    headers = prepared.headers
    wants_key = method not in _NO_IDEMPOTENCY_KEY or args.get("idempotency_key")
    if wants_key and "idempotency-key" not in {k.lower() for k in headers}:
        headers["Idempotency-Key"] = args.get("idempotency_key") or ctx.idempotency_key
    secrets = secret_variants(*prepared.secrets)
    seconds = ctx.remaining(duration_seconds(args.get("timeout", "30s")))
    client = shared_client(args.get("verify_tls", True))
    what = _what(method, url)
    body = _body(ctx, args, headers)
    added = _query(args) + prepared.params
    # httpx replaces the URL's query with `params`; the catalogue promises to add to it.
    params = list(url.params.multi_items()) + added if added else None
    try:
        request = client.build_request(
            method,
            url,
            params=params,
            headers=headers,
            timeout=httpx.Timeout(seconds),
            **body,
        )
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise transport_error(exc, what, secrets) from None
    started = time.monotonic()
    deadline = started + seconds
    with open_response(
        client,
        request,
        what=what,
        follow_redirects=args.get("follow_redirects", True),
        secrets=secrets,
        private_headers=prepared.private_headers,
    ) as response:
        status = response.status_code
        if not _status_matches(status, args.get("expected_status", ["2xx"])):
            raise status_error(response, what=what, secrets=secrets)
        body = read_body(
            response,
            limit=args.get("max_response_bytes", 50 * 1024 * 1024),
            deadline=deadline,
            what=what,
        )
    elapsed_ms = (time.monotonic() - started) * 1000
    text = decode_text(response, body)
    return {
        "status": status,
        "ok": True,
        "headers": dict(response.headers.items()),
        "json": _parse_json(response, text, args.get("response_type", "auto"), what, secrets),
        "text": text,
        "file": None,
        "url": _shown_url(response.url, prepared.secret_param),
        "elapsed_ms": round(elapsed_ms, 3),
    }


def _parse_json(
    response: httpx.Response, text: str, response_type: str, what: str, secrets: tuple[str, ...]
) -> Any:
    if response_type == "text" or not text.strip():
        return None
    content_type = response.headers.get("content-type")
    if response_type == "auto" and not is_json_media_type(content_type):
        return None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        if response_type == "auto":
            return None  # said it was JSON but is not: `text` still has the body
        raise NodeError(
            f"{what}: expected a JSON response but the body is not JSON ({exc}; "
            f"content-type {content_type or 'missing'})",
            type="invalid_response",
            retryable=False,
            data={"status": response.status_code, "body": redact(text, secrets)[:1000]},
        ) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _shown_url(url: httpx.URL, secret_param: str | None) -> str:
    """The final URL for the output, which is stored and shown: credentials masked."""
    if secret_param and secret_param in url.params:
        url = url.copy_set_param(secret_param, "***")
    if url.userinfo:
        url = url.copy_with(userinfo=b"")
    return str(url)


# --------------------------------------------------------------------------------------------
# GraphQL
# --------------------------------------------------------------------------------------------


def http_graphql(ctx: NodeContext, args: dict[str, Any]) -> dict[str, Any]:
    import httpx

    url = _url(args["url"])
    what = _what("POST", url)
    prepared = _prepare_auth(ctx, args, url)
    headers = {"Accept": "application/graphql-response+json, application/json", **prepared.headers}
    if "idempotency-key" not in {k.lower() for k in headers}:
        headers["Idempotency-Key"] = ctx.idempotency_key
    secrets = secret_variants(*prepared.secrets)
    seconds = ctx.remaining(duration_seconds(args.get("timeout", "30s")))
    payload: dict[str, Any] = {"query": args["query"], "variables": args.get("variables") or {}}
    if args.get("operation_name"):
        payload["operationName"] = args["operation_name"]
    client = shared_client()
    try:
        request = client.build_request(
            "POST",
            url,
            json=payload,
            params=list(url.params.multi_items()) + prepared.params if prepared.params else None,
            headers=headers,
            timeout=httpx.Timeout(seconds),
        )
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise transport_error(exc, what, secrets) from None
    deadline = time.monotonic() + seconds
    with open_response(
        client, request, what=what, secrets=secrets, private_headers=prepared.private_headers
    ) as response:
        body = read_body(response, limit=50 * 1024 * 1024, deadline=deadline, what=what)
    status = response.status_code
    document = _graphql_document(decode_text(response, body))
    if document is None and 200 <= status < 300:
        raise NodeError(
            f"{what}: the response is not a GraphQL JSON document",
            type="invalid_response",
            retryable=False,
            data={"status": status, "body": redact(decode_text(response, body), secrets)[:1000]},
        )
    if document is None or status_is_retryable(status):
        raise status_error(response, what=what, secrets=secrets, body=body)
    errors = [_graphql_error(e) for e in document.get("errors") or []]
    if errors and args.get("fail_on_errors", True):
        first = redact(errors[0]["message"], secrets)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise NodeError(
            f"{what}: GraphQL error: {first}{more}",
            type="graphql",
            retryable=False,
            data={"status": status, "errors": errors, "data": document.get("data")},
        )
    return {"data": document.get("data"), "errors": errors, "status": status}


def _graphql_document(text: str) -> dict[str, Any] | None:
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return None
    if isinstance(document, dict) and ("data" in document or "errors" in document):
        return document
    return None


def _graphql_error(error: Any) -> dict[str, Any]:
    """One ``errors`` member in the output's shape, whatever extra keys the server adds."""
    if not isinstance(error, dict):
        return {"message": str(error)}
    shaped: dict[str, Any] = {"message": str(error.get("message", "unknown error"))}
    path = error.get("path")
    if isinstance(path, list):
        shaped["path"] = [
            p if isinstance(p, int) and not isinstance(p, bool) else str(p) for p in path
        ]
    locations = error.get("locations")
    if isinstance(locations, list):
        shaped["locations"] = [
            {k: loc[k] for k in ("line", "column") if isinstance(loc.get(k), int)}
            for loc in locations
            if isinstance(loc, dict)
        ]
    if isinstance(error.get("extensions"), dict):
        shaped["extensions"] = error["extensions"]
    return shaped


IMPLEMENTATIONS = {"http.request": http_request, "http.graphql": http_graphql}
