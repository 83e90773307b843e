"""Durations as written in flows: ``250ms``, ``30s``, ``5m``, ``2h``, ``3d`` or ISO-8601 ``PT5M``.

Both syntaxes (YAML and text) and the compiler read durations through :func:`parse_duration`,
so one rule decides what is a valid duration everywhere.
"""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = ["DURATION_PATTERN", "format_duration_ms", "parse_duration"]

_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}

#: A short duration (``<integer><unit>``) or an ISO-8601 duration limited to days, hours, minutes
#: and (fractional) seconds. Text-form grammars reuse this pattern for their DURATION token.
DURATION_PATTERN = (
    r"[0-9]+(?:ms|s|m|h|d)"
    r"|P(?=[0-9]|T[0-9])(?:[0-9]+D)?(?:T(?=[0-9])(?:[0-9]+H)?(?:[0-9]+M)?(?:[0-9]+(?:[.,][0-9]+)?S)?)?"
)

_SHORT = re.compile(r"([0-9]+)(ms|s|m|h|d)")
_ISO = re.compile(
    r"P(?=[0-9]|T[0-9])(?:([0-9]+)D)?(?:T(?=[0-9])(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+(?:[.,][0-9]+)?)S)?)?"
)


def parse_duration(text: str) -> int | None:
    """The length of ``text`` in milliseconds, or None when it is not a valid duration.

    Accepted: ``<integer><unit>`` with unit ``ms``, ``s``, ``m``, ``h`` or ``d``; ISO-8601
    ``PnDTnHnMnS`` (any subset of the parts, seconds may be fractional, e.g. ``PT0.5S``).
    Fractions of a millisecond are rounded down. Surrounding whitespace is not accepted.
    """
    if not isinstance(text, str):
        return None
    match = _SHORT.fullmatch(text)
    if match:
        return int(match.group(1)) * _UNIT_MS[match.group(2)]
    match = _ISO.fullmatch(text)
    if not match:
        return None
    days, hours, minutes, seconds = match.groups()
    ms = 0
    if days:
        ms += int(days) * _UNIT_MS["d"]
    if hours:
        ms += int(hours) * _UNIT_MS["h"]
    if minutes:
        ms += int(minutes) * _UNIT_MS["m"]
    if seconds:
        ms += int(Decimal(seconds.replace(",", ".")) * 1000)
    return ms


def format_duration_ms(ms: int) -> str:
    """The shortest ``<integer><unit>`` spelling of ``ms`` milliseconds (``90000`` → ``90s``)."""
    for unit in ("d", "h", "m", "s"):
        size = _UNIT_MS[unit]
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"
