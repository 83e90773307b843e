"""Flow source as a request body: JSON (``{"source": …}``), or the raw file with its own
media type — ``application/x-yaml`` (or ``application/yaml``, ``text/yaml``) for the YAML form,
``text/x-flowpilot`` (or ``text/plain``) for the text form — so that
``curl --data-binary @invoice.flow.yaml -H 'Content-Type: application/x-yaml'`` just works.

A raw body becomes the same request struct a JSON body would; the other fields of the struct
(``message``, ``path``, ``parent_version_id``) then come from query parameters of those names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, Schema

from flowpilot.server.errors import ApiError, BadRequest, FieldError

YAML_MEDIA_TYPES = ("application/x-yaml", "application/yaml", "text/yaml", "text/x-yaml")
TEXT_MEDIA_TYPES = ("text/x-flowpilot", "text/plain")

#: ``opt`` key of a handler listing the struct fields a raw body may take from the query.
RAW_QUERY_FIELDS = "raw_query_fields"


class UnsupportedMediaType(ApiError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


def media_type_of(request: Request[Any, Any, Any]) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


class SourceRequest(Request[Any, Any, Any]):
    """A request whose body may be the raw flow source instead of JSON."""

    async def json(self) -> Any:
        media_type = media_type_of(self)
        if media_type in ("", "application/json") or media_type.endswith("+json"):
            return await super().json()
        if media_type in YAML_MEDIA_TYPES:
            fmt = "yaml"
        elif media_type in TEXT_MEDIA_TYPES:
            fmt = "text"
        else:
            accepted = ", ".join(("application/json", *YAML_MEDIA_TYPES, *TEXT_MEDIA_TYPES))
            raise UnsupportedMediaType(
                f"a flow is sent as {accepted}; not {media_type}",
                errors=[FieldError("header.content-type", f"unsupported: {media_type}")],
            )
        try:
            source = (await self.body()).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(
                f"the flow source is not UTF-8 (byte {exc.start})",
                code="malformed_body",
                errors=[FieldError("body", "not UTF-8 text")],
            ) from None
        data: dict[str, Any] = {"source": source, "format": fmt}
        for name in self.route_handler.opt.get(RAW_QUERY_FIELDS, ()):
            if name in self.query_params:
                data[name] = self.query_params[name]
        return data


_RAW_DESCRIPTIONS = {
    "application/x-yaml": "The flow in the YAML form, as written in a .flow.yaml file.",
    "text/x-flowpilot": "The flow in the text form, as written in a .flow file.",
}


@dataclass
class SourceBodyOperation(Operation):
    """Documents the raw media types :class:`SourceRequest` accepts beside JSON."""

    def __post_init__(self) -> None:
        if self.request_body is None:
            return
        for media_type, description in _RAW_DESCRIPTIONS.items():
            self.request_body.content[media_type] = OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.STRING, description=description)
            )
