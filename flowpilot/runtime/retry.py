"""Retry policies as the plan carries them, and the delay before the next attempt."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

#: The longest single wait whatever the policy says (one year, Step Functions' longest
#: execution). Without ``max_delay`` an exponential backoff grows without bound and would
#: overflow a float after a few hundred attempts.
DELAY_CEILING_MS = 365 * 86_400_000


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and how soon a failed step runs again.

    Attributes:
        max_attempts: attempts in all, the first one included (1 = never retry).
        backoff: ``fixed`` (always ``delay``), ``linear`` (``delay * attempt``) or
            ``exponential`` (``delay * factor^(attempt-1)``).
        delay_ms: the base delay.
        factor: the growth factor of ``exponential``.
        max_delay_ms: upper bound of one delay, or None.
        jitter: spread each delay uniformly over [delay/2, delay] so that retries of many
            executions do not arrive together.
        retry_on: error types worth retrying (``error.type``); None retries any retryable error.
    """

    max_attempts: int = 1
    backoff: str = "exponential"
    delay_ms: int = 1000
    factor: float = 2
    max_delay_ms: int | None = None
    jitter: bool = False
    retry_on: tuple[str, ...] | None = None

    @classmethod
    def from_plan(cls, raw: dict[str, Any] | None) -> RetryPolicy:
        if not raw:
            return cls()
        retry_on = raw.get("retry_on")
        return cls(
            max_attempts=int(raw.get("max_attempts", 1)),
            backoff=raw.get("backoff", "exponential"),
            delay_ms=int(raw.get("delay_ms", 1000)),
            factor=float(raw.get("factor", 2)),
            max_delay_ms=raw.get("max_delay_ms"),
            jitter=bool(raw.get("jitter", False)),
            retry_on=tuple(retry_on) if retry_on is not None else None,
        )

    def should_retry(self, attempt: int, error_type: str, retryable: bool) -> bool:
        if attempt >= self.max_attempts or not retryable:
            return False
        return self.retry_on is None or error_type in self.retry_on

    def delay_after(
        self, attempt: int, *, retry_after_s: float | None = None, rng: random.Random | None = None
    ) -> int:
        """Milliseconds to wait after failed attempt ``attempt`` (1-based). A server's
        ``Retry-After`` wins when it asks for longer."""
        if self.backoff == "fixed":
            delay = float(self.delay_ms)
        elif self.backoff == "linear":
            delay = float(self.delay_ms * attempt)
        else:
            try:
                delay = self.delay_ms * self.factor ** (attempt - 1)
            except OverflowError:
                delay = float(DELAY_CEILING_MS)
        delay = min(delay, DELAY_CEILING_MS)
        if self.max_delay_ms is not None:
            delay = min(delay, self.max_delay_ms)
        if self.jitter:
            delay = (rng or random).uniform(delay / 2, delay)
        if retry_after_s is not None:
            delay = max(delay, retry_after_s * 1000)
        return int(delay)
