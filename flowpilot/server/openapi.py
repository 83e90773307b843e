"""The OpenAPI document says what errors look like: every operation lists the problem-details
responses it can give, with their schema, instead of Litestar's default error body."""

from __future__ import annotations

import dataclasses
from typing import Any

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec

from flowpilot.server.errors import PROBLEM_JSON
from flowpilot.server.schemas import Input


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
    405: "The method is not the one the trigger accepts",
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


def _authenticated(handler: HTTPRouteHandler) -> bool:
    """Whether the handler needs a caller (it takes the ``principal`` dependency)."""
    return "principal" in handler.parsed_fn_signature.parameters


def document_problems(app: Litestar) -> None:
    """Add the problem responses to every operation (a handler's own ``responses`` win), and
    mark the operations that need no credentials as such (``security: [{}]``)."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if not isinstance(handler, HTTPRouteHandler) or not handler.include_in_schema:
                continue
            if not _authenticated(handler):
                handler.security = [{}]
            if route.path in ("/healthz", "/readyz"):
                statuses: tuple[int, ...] = ()
            elif route.path.startswith("/hooks"):
                statuses = (400, 401, 404, 405, 409, 413, 422)
            else:
                statuses = (400, 401, 403, 404, 409, 413, 422)
            # Generated examples are random: they would make the document differ on every run.
            own: dict[Any, ResponseSpec] = {
                status: dataclasses.replace(spec, generate_examples=False)
                for status, spec in (handler.responses or {}).items()
            }
            for status in statuses:
                own.setdefault(status, _problem(status))
            handler.responses = own


def _input_names() -> set[str]:
    found: set[str] = set()
    pending = list(Input.__subclasses__())
    while pending:
        cls = pending.pop()
        found.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return found


def close_input_schemas(app: Litestar) -> None:
    """Request bodies refuse unknown fields (:class:`~flowpilot.server.schemas.Input`): say so
    in their schemas (``additionalProperties: false``), so clients and generated tests know."""
    schemas = app.openapi_schema.components.schemas or {}
    names = _input_names()
    for key, schema in schemas.items():
        if key in names or key.rsplit("_", 1)[-1] in names:
            schema.additional_properties = False
