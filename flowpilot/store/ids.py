"""UUIDv7 keys: time-ordered, so indexes stay append-mostly and partitions can be ranges of ids."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, datetime

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> uuid.UUID:
    """A new UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then a 12-bit counter that keeps ids
    made in the same millisecond by this process ordered, then 62 random bits."""
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            _counter += 1
            if _counter > 0xFFF:  # 4,096 ids in one millisecond: borrow the next one
                _last_ms += 1
                _counter = 0
            ms = _last_ms
        else:
            _last_ms = ms
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF
        counter = _counter
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | rand
    return uuid.UUID(int=value)


def uuid7_floor(moment: datetime) -> uuid.UUID:
    """The smallest UUIDv7 of ``moment``'s millisecond: the bound of a range partition."""
    ms = int(moment.timestamp() * 1000)
    return uuid.UUID(int=ms << 80)


def uuid7_time(value: uuid.UUID | str) -> datetime:
    """When a UUIDv7 was made."""
    as_int = (value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))).int
    return datetime.fromtimestamp((as_int >> 80) / 1000, UTC)
