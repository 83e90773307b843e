"""The client's exceptions: one hierarchy, built from the server's RFC 9457 problems.

Every error the API answers is a :class:`FlowPilotError` carrying the problem's ``status``,
stable ``code``, ``detail``, ``errors`` (one per field at fault) and the ``request_id`` to
quote; a subclass per status lets callers catch what they can handle::

    try:
        client.workflows.create(source)
    except ValidationFailed as exc:      # 422
        for d in exc.diagnostics:
            print(d.line, d.column, d.code, d.message)
    except Conflict as exc:              # 409
        print(exc.code, exc.extra.get("workflow_id"))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    import httpx

    from flowpilot.client.models import Diagnostic

#: The members every problem has; anything else (``diagnostics``, ``permission``,
#: ``workflow_id``, ``head_number`` …) lands in :attr:`FlowPilotError.extra`.
_PROBLEM_MEMBERS = {"type", "title", "status", "detail", "code", "instance", "request_id", "errors"}


@dataclass(frozen=True)
class FieldError:
    """One field at fault: ``field`` is a dotted path into the body, query (``query.limit``)
    or path (``path.ref``); ``message`` says what is wrong with it."""

    field: str
    message: str


class FlowPilotError(Exception):
    """An error answered by the server (or met on the way to it).

    Attributes:
        status: The HTTP status (None when no answer came: see :class:`ConnectionFailed`).
        code: The problem's stable code to branch on (``workflow_not_found``,
            ``stale_parent``, ``token_expired`` …).
        detail: The human explanation.
        errors: The fields at fault, for bad input.
        request_id: The server's request id; quote it when reporting a problem.
        extra: The problem's other members (``diagnostics``, ``permission`` …).
    """

    status: int | None = None
    default_code = "error"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        code: str | None = None,
        title: str = "",
        errors: list[FieldError] | None = None,
        request_id: str | None = None,
        instance: str | None = None,
        type: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        self.code = code or self.default_code
        self.title = title
        self.errors = errors or []
        self.request_id = request_id
        self.instance = instance
        self.type = type
        self.extra = extra or {}

    def __str__(self) -> str:
        head = f"{self.status} {self.code}" if self.status else self.code
        text = f"{head}: {self.detail}"
        if self.errors:
            text += " [" + "; ".join(f"{e.field}: {e.message}" for e in self.errors) + "]"
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text


class BadRequest(FlowPilotError):
    """400: malformed or mistyped input, an unknown field, a bad cursor."""

    status, default_code = 400, "bad_request"


class Unauthorized(FlowPilotError):
    """401: no credentials, or a bad, expired or revoked token or key."""

    status, default_code = 401, "unauthorized"


class Forbidden(FlowPilotError):
    """403: authenticated, but the role or the key's scopes do not allow it."""

    status, default_code = 403, "forbidden"

    @property
    def permission(self) -> str | None:
        """The permission that was needed (``workflows:publish`` …), when the server says."""
        return self.extra.get("permission")


class NotFound(FlowPilotError):
    """404: no such resource in your organization."""

    status, default_code = 404, "not_found"


class Conflict(FlowPilotError):
    """409: a stale parent version, a taken name, a finished execution …"""

    status, default_code = 409, "conflict"


class PayloadTooLarge(FlowPilotError):
    """413: the body is larger than the server accepts."""

    status, default_code = 413, "payload_too_large"


class UnsupportedMediaType(FlowPilotError):
    """415: a body of a type the endpoint does not read."""

    status, default_code = 415, "unsupported_media_type"


class ValidationFailed(FlowPilotError):
    """422: well-formed but wrong: a flow with errors, inputs that do not match the flow."""

    status, default_code = 422, "invalid"

    @property
    def diagnostics(self) -> list[Diagnostic]:
        """The compiler's diagnostics of a flow with errors (``flow_has_errors``)."""
        from flowpilot.client.models import Diagnostic

        return msgspec.convert(self.extra.get("diagnostics") or [], list[Diagnostic])


class RateLimited(FlowPilotError):
    """429: too many requests."""

    status, default_code = 429, "too_many_requests"


class ServerError(FlowPilotError):
    """5xx: the server failed; ``request_id`` finds the cause in its log."""

    status, default_code = 500, "internal"


class ServiceUnavailable(ServerError):
    """503: the server (or its database) cannot answer now; retrying later may work."""

    status, default_code = 503, "unavailable"


class ConnectionFailed(FlowPilotError):
    """The server could not be reached, or the connection broke, after every retry."""

    default_code = "connection_failed"


class UnexpectedResponse(FlowPilotError):
    """The server answered something this client cannot read (a version mismatch, or a proxy
    answering in the server's place)."""

    default_code = "unexpected_response"


class WaitTimeout(FlowPilotError, TimeoutError):
    """Waiting for an execution to finish took longer than the timeout given."""

    default_code = "wait_timeout"


_BY_STATUS: dict[int, type[FlowPilotError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: ValidationFailed,
    429: RateLimited,
    503: ServiceUnavailable,
}


def error_class(status: int) -> type[FlowPilotError]:
    """The exception class for an HTTP status."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return BadRequest if 400 <= status < 500 else UnexpectedResponse


def error_from_response(response: httpx.Response) -> FlowPilotError:
    """The exception for an error response: its problem details when it has them, else the
    status and the start of the body (a proxy's HTML page, say)."""
    status = response.status_code
    cls = error_class(status)
    request_id = response.headers.get("x-request-id")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "detail" not in body:
        text = response.text.strip()[:200] or response.reason_phrase
        return cls(
            f"HTTP {status} from {response.request.method} {response.request.url.path}: {text}",
            status=status,
            code=f"http_{status}",
            request_id=request_id,
        )
    errors = [
        FieldError(str(item.get("field", "")), str(item.get("message", "")))
        for item in body.get("errors") or []
        if isinstance(item, dict)
    ]
    return cls(
        str(body.get("detail")),
        status=status,
        code=body.get("code"),
        title=str(body.get("title", "")),
        errors=errors,
        request_id=body.get("request_id") or request_id,
        instance=body.get("instance"),
        type=body.get("type"),
        extra={k: v for k, v in body.items() if k not in _PROBLEM_MEMBERS},
    )


#: WebSocket close codes the live streams use for refusals (4000 + the HTTP status).
_CLOSE_CODES = {4400: "bad_request", 4401: "unauthorized", 4403: "forbidden", 4404: "not_found"}


def error_from_close(code: int | None, reason: str, path: str) -> FlowPilotError:
    """The exception for a live stream the server closed with an error code."""
    if code is not None and 4000 <= code < 5000:
        status = code - 4000
        return error_class(status)(
            reason or f"the stream {path} was refused",
            status=status,
            code=_CLOSE_CODES.get(code),
            instance=path,
        )
    if code == 1011:
        return ServerError(reason or "the stream failed on the server", instance=path)
    return ConnectionFailed(
        f"the stream {path} closed with code {code}: {reason or 'no reason given'}",
        instance=path,
    )


__all__ = [
    "BadRequest",
    "Conflict",
    "ConnectionFailed",
    "FieldError",
    "FlowPilotError",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServerError",
    "ServiceUnavailable",
    "Unauthorized",
    "UnexpectedResponse",
    "UnsupportedMediaType",
    "ValidationFailed",
    "WaitTimeout",
    "error_class",
    "error_from_close",
    "error_from_response",
]
