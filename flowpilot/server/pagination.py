"""Keyset pagination: an opaque cursor holds the sort key of the last item returned, so a page
costs the same however deep the client has gone and concurrent inserts never shift items."""

from __future__ import annotations

import base64
import json
from typing import Any

from flowpilot.server.errors import BadRequest, FieldError

MAX_LIMIT = 200


def encode_cursor(*values: Any) -> str:
    raw = json.dumps([str(v) if not isinstance(v, int | float) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    """The values of a cursor made by :func:`encode_cursor`, or 400 naming ``cursor``."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError:
        values = None
    if not isinstance(values, list) or len(values) != arity:
        raise BadRequest(
            "the cursor is not valid (pass back the next_cursor of a previous page)",
            code="invalid_cursor",
            errors=[FieldError("query.cursor", "not a cursor this endpoint issued")],
        )
    return values


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(
            f"limit must be between 1 and {MAX_LIMIT}",
            code="invalid_request",
            errors=[FieldError("query.limit", f"must be between 1 and {MAX_LIMIT}")],
        )
    return limit
