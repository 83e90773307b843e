"""Base structs shared by every domain's schemas."""

from __future__ import annotations

import msgspec


class Input(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A request body: unknown fields are a 400 naming the field, not silently dropped."""


class Output(msgspec.Struct, kw_only=True, omit_defaults=False):
    """A response body."""
