"""JSON text for what the runtime stores: msgspec's encoder, with the standard library's as the
fallback for what msgspec refuses (dicts with non-string keys of other kinds).

Every transition serialises the execution's state and the rows it writes, and sizes outputs
against the payload limits; msgspec does this several times faster than :mod:`json`. The text is
compact UTF-8 JSON either way. One difference is deliberate: a NaN or infinite float becomes
``null`` (PostgreSQL's jsonb refuses them, so the standard library's ``NaN`` could only fail the
write).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def dumps(value: Any) -> str:
    """Compact JSON text of ``value``."""
    try:
        return _encode(value).decode()
    except (TypeError, OverflowError, msgspec.EncodeError):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | bytes) -> Any:
    """The value of JSON text."""
    return _decode(text)
