"""ASGI middleware: a request id on every request, response and log line; an access log; and
security headers."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from flowpilot.server.audit import request_id_var

access_log = logging.getLogger("flowpilot.access")

_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
# The interactive API docs load their script and styles from a CDN.
_DOCS_CSP = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net "
    b"https://unpkg.com; style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net "
    b"https://unpkg.com https://fonts.googleapis.com; img-src 'self' data: https:; "
    b"font-src 'self' https://fonts.gstatic.com; frame-ancestors 'none'"
)
_API_CSP = b"default-src 'none'; frame-ancestors 'none'"


def request_id_middleware(security_headers: bool = True) -> Any:
    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] not in ("http", "websocket"):
                await app(scope, receive, send)
                return
            given = None
            for name, value in scope.get("headers", ()):
                if name == b"x-request-id":
                    given = value.decode("latin-1")
                    break
            request_id = given if given and _VALID_ID.match(given) else uuid.uuid4().hex
            scope.setdefault("state", {})["request_id"] = request_id
            token = request_id_var.set(request_id)
            started = time.perf_counter()
            status = 0
            path: str = scope.get("path", "")

            async def send_with_id(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    headers = list(message.get("headers", ()))
                    headers.append((b"x-request-id", request_id.encode()))
                    if security_headers:
                        headers.extend(SECURITY_HEADERS)
                        docs = path.startswith("/api/schema") or path == "/api/docs"
                        headers.append(
                            (b"content-security-policy", _DOCS_CSP if docs else _API_CSP)
                        )
                    message = {**message, "headers": headers}
                await send(message)

            try:
                await app(scope, receive, send_with_id)
            finally:
                if scope["type"] == "http" and access_log.isEnabledFor(logging.INFO):
                    access_log.info(
                        "%s %s %s",
                        scope.get("method"),
                        path,
                        status,
                        extra={
                            "method": scope.get("method"),
                            "path": path,
                            "status": status,
                            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                        },
                    )
                request_id_var.reset(token)

        return middleware

    return factory
