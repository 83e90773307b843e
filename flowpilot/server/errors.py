"""One exception hierarchy, mapped to RFC 9457 problem details in one place.

Every error leaves the API as ``application/problem+json`` with a stable ``code`` clients can
branch on, the ``request_id`` of the request, and, for bad input, ``errors``: one entry per
field at fault (``field`` is a dotted path into the body, query or path).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, get_args

from litestar import Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from sqlalchemy import exc as sa_exc

log = logging.getLogger("flowpilot.server")

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:flowpilot:error:"


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class ApiError(Exception):
    """An error with an HTTP status and a stable code. Subclasses set the defaults."""

    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra


class BadRequest(ApiError):
    pass


class Unauthorized(ApiError):
    status, code, title = 401, "unauthorized", "Authentication required"


class Forbidden(ApiError):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(ApiError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(ApiError):
    status, code, title = 409, "conflict", "Conflict"


class Invalid(ApiError):
    """Well-formed input that does not make sense (a flow with errors, bad inputs…)."""

    status, code, title = 422, "invalid", "Unprocessable content"


class PayloadTooLarge(ApiError):
    status, code, title = 413, "payload_too_large", "Request body too large"


class Unavailable(ApiError):
    status, code, title = 503, "unavailable", "Service unavailable"


def invalid_fields(problems: dict[str, str], detail: str, code: str = "invalid") -> Invalid:
    """An :class:`Invalid` naming each field of ``problems`` (field → message)."""
    return Invalid(
        detail, code=code, errors=[FieldError(f, m) for f, m in sorted(problems.items())]
    )


def problem(
    request: Request[Any, Any, Any],
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
        "request_id": request.scope.get("state", {}).get("request_id"),
    }
    if errors:
        body["errors"] = [e.to_json() for e in errors]
    body.update(extra)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def handle_api_error(request: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    return problem(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
        **exc.extra,
    )


_AT = re.compile(r"\s*-\s*at `\$(?P<path>[^`]*)`")
_NAMED_FIELD = re.compile(r"(?:unknown|missing required) field `(?P<name>[^`]*)`")


def _data_is_the_body(request: Request[Any, Any, Any], exc: ValidationException) -> bool:
    """Whether an error Litestar reports at ``data`` (its name for the body) is about the body
    itself, or about a field of the body that is also called ``data``."""
    cause = str(exc.__cause__ or "")  # msgspec's message, with the full path
    if cause.endswith("at `$.data`"):
        return True
    if "at `$.data.data" in cause:
        return False
    handler = request.scope.get("route_handler")
    body = handler.parsed_fn_signature.parameters.get("data") if handler is not None else None
    if body is None:
        return True
    candidates = (body.annotation, *get_args(body.annotation))
    return not any("data" in getattr(kind, "__struct_fields__", ()) for kind in candidates)


def _field_of(item: dict[str, Any], *, data_is_the_body: bool = True) -> FieldError:
    message = str(item.get("message", "invalid value"))
    path = ""
    found = _AT.search(message)
    if found:
        path = found.group("path").lstrip(".")
        path = re.sub(r"\[(\d+)\]", r".\1", path).lstrip(".")
        message = _AT.sub("", message)
    named = _NAMED_FIELD.search(message)
    if named:  # msgspec names an unknown or missing field in its message, not in the path
        path = f"{path}.{named.group('name')}" if path else named.group("name")
    key = item.get("key")
    # Litestar gives the source as a ParamType (a str enum whose str() is "ParamType.QUERY").
    source = getattr(item.get("source"), "value", item.get("source"))
    # Litestar names the body itself ``data`` (and an error at a body field ``data`` too).
    if key == "data" and message == "'data'":  # its KeyError: there is no body at all
        key, message = None, "a request body is required"
    elif key == "data" and data_is_the_body:
        key = None
    if key and not path:
        path = str(key)
    if source in ("query", "path", "header", "cookie") and path:
        path = f"{source}.{path}"
    return FieldError(path or "body", message)


def handle_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    items = exc.extra if isinstance(exc.extra, list) else []
    whole = _data_is_the_body(request, exc)
    errors = [_field_of(item, data_is_the_body=whole) for item in items if isinstance(item, dict)]
    detail = exc.detail or "the request is not valid"
    if "decode" in detail.lower() or "json is malformed" in detail.lower():
        return problem(
            request,
            status=400,
            code="malformed_body",
            title="Malformed request body",
            detail=detail,
            errors=errors,
        )
    listed = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return problem(
        request,
        status=400,
        code="invalid_request",
        title="Invalid request",
        detail=f"the request is not valid: {listed}" if listed else detail,
        errors=errors,
    )


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    503: "unavailable",
}


def _body_limit(request: Request[Any, Any, Any]) -> int | None:
    """The body size limit of the route the request reached (None: no limit, or no route)."""
    handler = request.scope.get("route_handler")
    return handler.resolve_request_max_body_size() if handler is not None else None


def handle_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status >= 500:
        return handle_internal(request, exc)
    if status == 400 and isinstance(exc.__cause__, SerializationException):
        # Litestar could not decode the body as JSON (truncated, not JSON, not UTF-8).
        return problem(
            request,
            status=400,
            code="malformed_body",
            title="Malformed request body",
            detail=f"the request body is not valid JSON: {exc.detail}",
            errors=[FieldError("body", str(exc.detail))],
        )
    if status == 413:
        limit = _body_limit(request)
        bound = f"{limit} bytes" if limit else "the server's limit"
        return problem(
            request,
            status=413,
            code="payload_too_large",
            title="Request body too large",
            detail=f"the request body may not exceed {bound}",
            errors=[FieldError("body", f"larger than {bound}")],
            headers=exc.headers,
            limit=limit,
        )
    code = _HTTP_CODES.get(status, "error")
    detail = exc.detail or code.replace("_", " ")
    if status == 404 and detail == "Not Found":
        detail = f"no route {request.method} {request.url.path}"
    return problem(
        request,
        status=status,
        code=code,
        title=code.replace("_", " ").capitalize(),
        detail=detail,
        headers=exc.headers,
    )


def handle_database(request: Request[Any, Any, Any], exc: sa_exc.DBAPIError) -> Response[Any]:
    """Errors PostgreSQL raises on input the handlers let through (a NUL byte in text, a
    number out of range) are the client's; a lost connection is a 503; the rest are bugs."""
    if isinstance(exc, sa_exc.DataError):
        return problem(
            request,
            status=400,
            code="invalid_request",
            title="Invalid request",
            detail="a value in the request cannot be stored (a NUL character, or a number "
            "or text out of range)",
        )
    if isinstance(exc, sa_exc.IntegrityError):
        log.warning("integrity error reached the handler: %s", type(exc.orig).__name__)
        return problem(
            request,
            status=409,
            code="conflict",
            title="Conflict",
            detail="the request conflicts with the current state; read it again and retry",
        )
    if isinstance(exc, sa_exc.OperationalError) and exc.connection_invalidated:
        return problem(
            request,
            status=503,
            code="unavailable",
            title="Service unavailable",
            detail="the database is unreachable; retry shortly",
            headers={"Retry-After": "5"},
        )
    return handle_internal(request, exc)


def handle_recursion(request: Request[Any, Any, Any], exc: RecursionError) -> Response[Any]:
    """A body nested so deeply that decoding it exhausts the stack is the client's error."""
    return problem(
        request,
        status=400,
        code="too_deeply_nested",
        title="Malformed request body",
        detail="the request body is nested too deeply",
    )


def handle_internal(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A bug: log it with the request id, tell the client no more than the id."""
    log.exception("unhandled error in %s %s", request.method, request.url.path)
    return problem(
        request,
        status=500,
        code="internal",
        title="Internal server error",
        detail="an unexpected error occurred; quote the request id when reporting it",
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ApiError: handle_api_error,
    ValidationException: handle_validation,
    HTTPException: handle_http,
    sa_exc.DBAPIError: handle_database,
    RecursionError: handle_recursion,
    Exception: handle_internal,
}

__all__ = [
    "EXCEPTION_HANDLERS",
    "ApiError",
    "BadRequest",
    "Conflict",
    "FieldError",
    "Forbidden",
    "Invalid",
    "NotFound",
    "PayloadTooLarge",
    "Unauthorized",
    "Unavailable",
    "invalid_fields",
]
