"""``core.datetime``: parse, shift, format and compare instants.

Shifts by days, weeks, months and years are calendar arithmetic on the wall clock of
``timezone`` (``+1 day`` across a DST change keeps the local time; Jan 31 ``+1 month`` is the
last day of February); hours, minutes and seconds are elapsed time.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from flowpilot.stdlib.context import NodeContext
from flowpilot.stdlib.errors import InvalidNodeInput, NodeError

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SHORT = re.compile(r"(-?)(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_ISO = re.compile(
    r"(-?)P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
    r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:[.,]\d+)?)S)?)?"
)
_TIMESTAMP = re.compile(r"-?\d+(?:\.\d+)?")


def core_datetime(ctx: NodeContext, args: dict[str, Any]) -> dict[str, Any]:
    zone = _zone(args.get("timezone", "UTC"))
    operation = args.get("operation", "now")
    now = datetime.now(UTC)
    if operation == "now":
        instant = now
    elif "value" in args:
        instant = _parse(args["value"], args.get("input_format"), zone, "with.value")
    elif operation in ("parse", "format"):
        raise InvalidNodeInput(f"core.datetime: `{operation}` needs `value`", field="with.value")
    else:
        instant = now
    seconds = None
    if operation == "add":
        if "add" not in args:
            raise InvalidNodeInput("core.datetime: `add` needs the `add` amount", field="with.add")
        instant = _shift(instant, _amount(args["add"]), zone)
    elif operation == "diff":
        if "other" not in args:
            raise InvalidNodeInput("core.datetime: `diff` needs `other`", field="with.other")
        other = _parse(args["other"], args.get("input_format"), zone, "with.other")
        seconds = (other - instant).total_seconds()
    local = instant.astimezone(zone)
    fmt = args.get("format", "iso")
    return {
        "iso": local.isoformat(),
        "date": local.date().isoformat(),
        "timestamp": instant.timestamp(),
        "timezone": str(zone),
        "weekday": _WEEKDAYS[local.weekday()],
        "formatted": local.isoformat() if fmt == "iso" else local.strftime(fmt),
        "seconds": seconds,
    }


def _zone(name: str) -> tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidNodeInput(
            f"core.datetime: unknown time zone {name!r} (use an IANA name such as "
            "'Europe/Berlin' or 'UTC')",
            field="with.timezone",
        ) from None


def _parse(value: Any, input_format: str | None, zone: tzinfo, field: str) -> datetime:
    """An aware instant; text without an offset is read as wall time in ``zone``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_timestamp(value, field)
    text = str(value).strip()
    parsed: datetime | None = None
    if input_format:
        try:
            parsed = datetime.strptime(text, input_format)
        except ValueError as exc:
            raise _unreadable(value, field, str(exc)) from None
    elif _TIMESTAMP.fullmatch(text):
        return _from_timestamp(float(text), field)
    else:
        parsed = _parse_text(text)
        if parsed is None:
            raise _unreadable(value, field, "expected ISO-8601, RFC 2822 or a Unix timestamp")
    if parsed.tzinfo is None:
        parsed = _localize(parsed, zone)
    return parsed


def _from_timestamp(value: float, field: str) -> datetime:
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise _unreadable(value, field, "the timestamp is out of range") from None


def _parse_text(text: str) -> datetime | None:
    from email.utils import parsedate_to_datetime

    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def _unreadable(value: Any, field: str, why: str) -> NodeError:
    shown = str(value) if len(str(value)) <= 80 else str(value)[:80] + "…"
    return NodeError(
        f"core.datetime: cannot read {shown!r} as a date/time ({why})",
        type="invalid_input",
        retryable=False,
        data={"field": field},
    )


def _localize(wall: datetime, zone: tzinfo) -> datetime:
    """Attach ``zone`` to a wall time, normalised through UTC (times in a DST gap move on)."""
    return wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)


class _Amount:
    def __init__(self) -> None:
        self.years = self.months = self.days = 0
        self.seconds = 0.0


def _amount(add: Any) -> _Amount:
    amount = _Amount()
    if isinstance(add, dict):
        amount.years = add.get("years", 0)
        amount.months = add.get("months", 0)
        amount.days = add.get("days", 0) + 7 * add.get("weeks", 0)
        amount.seconds = add.get("hours", 0) * 3600 + add.get("minutes", 0) * 60
        amount.seconds += add.get("seconds", 0)
        return amount
    match = _SHORT.fullmatch(add)
    if match:
        sign = -1 if match.group(1) else 1
        number, unit = float(match.group(2)), match.group(3)
        if unit == "d" and number.is_integer():
            amount.days = sign * int(number)
        else:
            scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
            amount.seconds = sign * number * scale
        return amount
    match = _ISO.fullmatch(add)
    if not match or add.rstrip("T").endswith("P"):
        raise InvalidNodeInput(
            f"core.datetime: cannot read {add!r} as an amount (`3d`, `-2h`, `PT30M`, `P1M`)",
            field="with.add",
        )
    sign = -1 if match.group(1) else 1
    years, months, weeks, days, hours, minutes, secs = match.groups()[1:]
    amount.years = sign * int(years or 0)
    amount.months = sign * int(months or 0)
    amount.days = sign * (int(days or 0) + 7 * int(weeks or 0))
    amount.seconds = sign * (
        int(hours or 0) * 3600 + int(minutes or 0) * 60 + float((secs or "0").replace(",", "."))
    )
    return amount


def _shift(instant: datetime, amount: _Amount, zone: tzinfo) -> datetime:
    local = instant.astimezone(zone)
    if amount.years or amount.months or amount.days:
        wall = local.replace(tzinfo=None)
        month_index = wall.year * 12 + (wall.month - 1) + amount.years * 12 + amount.months
        year, month = divmod(month_index, 12)
        month += 1
        if not 1 <= year <= 9999:
            raise NodeError(
                "core.datetime: the result is out of range", type="invalid_input", retryable=False
            )
        day = min(wall.day, calendar.monthrange(year, month)[1])
        wall = wall.replace(year=year, month=month, day=day) + timedelta(days=amount.days)
        local = _localize(wall, zone)
    return (local.astimezone(UTC) + timedelta(seconds=amount.seconds)).astimezone(UTC)
