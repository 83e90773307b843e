"""The OpenAPI document says what errors look like: every operation lists the problem-details
responses it can give, with their schema, instead of Litestar's default error body."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec

from flowpilot.server.errors import PROBLEM_JSON


class ProblemFieldError(msgspec.Struct):
    field: str
    message: str


class Problem(msgspec.Struct, kw_only=True):
    """An RFC 9457 problem. ``code`` is stable; other members may appear (``diagnostics`` for a
    flow with errors, ``permission`` for a 403…)."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str
    request_id: str | None
    errors: list[ProblemFieldError] | msgspec.UnsetType = msgspec.UNSET


_DESCRIPTIONS = {
    400: "Malformed body, wrong types or unknown fields (`errors` names each field)",
    401: "Missing, invalid or expired credentials",
    403: "The role or the API key's scopes do not allow this",
    404: "No such resource in the caller's organization",
    409: "Conflicts with the current state",
    413: "Request body too large",
    422: "Well-formed but invalid (`errors` names each field)",
}


def _problem(status: int) -> ResponseSpec:
    return ResponseSpec(
        data_container=Problem,
        media_type=PROBLEM_JSON,
        description=_DESCRIPTIONS.get(status, "Problem details"),
        generate_examples=False,
    )


def document_problems(app: Litestar) -> None:
    """Add the problem responses to every operation (a handler's own ``responses`` win)."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if not isinstance(handler, HTTPRouteHandler) or not handler.include_in_schema:
                continue
            public = route.path in ("/healthz", "/readyz")
            statuses = (
                ()
                if public
                else (400, 401, 403, 404, 409, 413, 422)
                if not route.path.startswith("/hooks")
                else (400, 401, 404, 409, 413, 422)
            )
            own: dict[Any, ResponseSpec] = dict(handler.responses or {})
            for status in statuses:
                own.setdefault(status, _problem(status))
            handler.responses = own
