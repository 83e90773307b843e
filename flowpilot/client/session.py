"""What the sync and async transports share: the credentials with their tokens, the retry
policy, timeouts and URLs. Nothing here does I/O."""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from flowpilot import __version__
from flowpilot.client import endpoints
from flowpilot.client.endpoints import Call
from flowpilot.client.errors import (
    ConnectionFailed,
    FlowPilotError,
    Unauthorized,
    WaitTimeout,
    error_class,
    error_from_close,
)
from flowpilot.client.models import TokenPair

USER_AGENT = f"flowpilot-client/{__version__}"
#: Largest event message accepted from a live stream (events carry step data).
MAX_EVENT_BYTES = 16 * 1024 * 1024
SERVER_URL_ENV = "FLOWPILOT_SERVER_URL"
API_KEY_ENV = "FLOWPILOT_API_KEY"
API_KEY_PREFIX = "fp_"

#: Answers a proxy or an overloaded server gives when a later try may succeed.
RETRY_STATUSES = frozenset({502, 503, 504})
#: The longest ``Retry-After`` the client honours; a longer one fails at once.
MAX_RETRY_AFTER = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    """When and how often a failed request is sent again.

    Only idempotent requests are retried (GET, PUT, DELETE, and the POSTs whose repeat does
    nothing more: validate, compile, publish, rollback …); starting an execution, creating a
    workflow or refreshing a token never is. A broken live stream reconnects under the same
    policy, resuming after the last event it received.
    """

    #: Retries after the first try (so ``retries + 1`` tries at most).
    retries: int = 3
    #: Seconds before the first retry; each next one waits twice as long (with jitter).
    backoff: float = 0.25
    #: The longest wait between two tries.
    max_backoff: float = 5.0

    def delay(self, retry: int, retry_after: str | None = None) -> float:
        """Seconds to sleep before retry number ``retry`` (1-based)."""
        wait = min(self.max_backoff, self.backoff * 2 ** (retry - 1)) * (0.5 + random.random() / 2)
        if retry_after:
            # An HTTP date is not worth parsing for a wait this short: ignored.
            with contextlib.suppress(ValueError):
                wait = max(wait, min(float(retry_after), MAX_RETRY_AFTER))
        return wait


NO_RETRIES = RetryPolicy(retries=0)

#: ``on_tokens`` callback: called with every new token pair (after login or refresh), so an
#: application can store the rotated refresh token.
TokenListener = Callable[[TokenPair], None]


class Credentials:
    """Who the client is: an API key, or a user's tokens (with the email and password to log
    in again when they run out).

    Token renewal is serialized and counted: each new access token bumps
    :attr:`generation`. A request that got 401 with generation ``g`` renews only if the
    generation is still ``g``; otherwise another request renewed meanwhile and it simply
    resends. So a burst of requests with an expired token refreshes once — presenting a
    refresh token twice would make the server log the whole session out.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        api_key_header: str = "Authorization",
        access_token: str | None = None,
        refresh_token: str | None = None,
        email: str | None = None,
        password: str | None = None,
        organization: str | None = None,
        on_tokens: TokenListener | None = None,
    ) -> None:
        if api_key is not None and not api_key.startswith(API_KEY_PREFIX):
            raise ValueError(f"an API key starts with '{API_KEY_PREFIX}'")
        if (email is None) != (password is None):
            raise ValueError("give both email and password, or neither")
        self.api_key = api_key
        self.api_key_header = api_key_header
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.email = email
        self.password = password
        self.organization = organization
        self.on_tokens = on_tokens
        self.generation = 0
        self.lock = threading.Lock()

    @classmethod
    def from_env(cls) -> Credentials:
        return cls(api_key=os.environ.get(API_KEY_ENV) or None)

    @classmethod
    def given(cls, *, api_key: str | None = None, **others: Any) -> Credentials:
        """The credentials a client was given; with none at all, the API key from the
        environment (``FLOWPILOT_API_KEY``)."""
        if api_key is None and not any(
            others.get(k) for k in ("email", "access_token", "refresh_token")
        ):
            api_key = cls.from_env().api_key
        return cls(api_key=api_key, **others)

    def logged_in(self, email: str, password: str, pair: TokenPair) -> None:
        """Act as the user who just logged in (replacing any API key), keeping the password
        to log in again when the session runs out."""
        self.api_key = None
        self.email, self.password = email, password
        self.accept(pair)

    def headers(self) -> dict[str, str]:
        if self.api_key is not None:
            if self.api_key_header.lower() == "authorization":
                return {"Authorization": f"Bearer {self.api_key}"}
            return {self.api_key_header: self.api_key}
        if self.access_token is not None:
            return {"Authorization": f"Bearer {self.access_token}"}
        return {}

    @property
    def needs_token(self) -> bool:
        """No access token yet, but a refresh token or a password to get one: get it before
        the first call."""
        return self.api_key is None and self.access_token is None and self.renewable

    @property
    def renewable(self) -> bool:
        """Whether a 401 can be answered by getting a new access token."""
        return self.api_key is None and (
            self.refresh_token is not None or self.password is not None
        )

    def login_call(self) -> Call[TokenPair]:
        assert self.email is not None and self.password is not None
        return endpoints.login(self.email, self.password, self.organization)

    def renewal(self) -> Call[TokenPair]:
        """The call that gets the next access token: a refresh, else a new login."""
        if self.refresh_token is not None:
            return endpoints.refresh(self.refresh_token)
        if self.password is not None:
            return self.login_call()
        raise Unauthorized(
            "the access token was refused and there is no refresh token or password to get "
            "another one",
            code="token_expired",
        )

    def renewal_failed(self, call: Call[TokenPair]) -> bool:
        """After a renewal answered 401: forget the refresh token it spent; True when a
        login with the password may still work."""
        if call.path.endswith("/auth/refresh"):
            self.refresh_token = None
            return self.password is not None
        return False

    def accept(self, pair: TokenPair) -> None:
        self.access_token = pair.access_token
        self.refresh_token = pair.refresh_token
        if pair.organization is not None:
            # Renewals (and re-logins) act in the same organization.
            self.organization = str(pair.organization.id)
        self.generation += 1
        if self.on_tokens is not None:
            self.on_tokens(pair)

    def forget(self) -> None:
        self.access_token = None
        self.refresh_token = None
        self.password = None
        self.generation += 1


def base_url_of(url: str | None) -> str:
    """The server's root URL: from the argument or ``FLOWPILOT_SERVER_URL``; a trailing
    ``/api/v1`` is dropped, so either form works."""
    url = url or os.environ.get(SERVER_URL_ENV)
    if not url:
        raise ValueError(f"no server URL: pass base_url or set {SERVER_URL_ENV}")
    url = url.rstrip("/")
    if url.endswith(endpoints.API):
        url = url[: -len(endpoints.API)]
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"the server URL must start with http:// or https://, not {url!r}")
    return url


def websocket_url(base_url: str, path: str, after: int | None) -> str:
    url = "ws" + base_url.removeprefix("http") + path
    return url + ("?" + urlencode({"after": after}) if after is not None else "")


def timeout_of(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    return timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)


def request_timeout(base: httpx.Timeout, call: Call[object]) -> httpx.Timeout:
    """The call's timeout: a request the server may hold ``wait`` seconds gets that much
    longer to answer."""
    if not call.wait or base.read is None:
        return base
    return httpx.Timeout(
        connect=base.connect, read=base.read + call.wait, write=base.write, pool=base.pool
    )


def retryable_status(call: Call[object], status: int) -> bool:
    return call.idempotent and status in RETRY_STATUSES


def remaining(deadline: float | None, path: str) -> float | None:
    """Seconds left before ``deadline`` (a ``time.monotonic()``); WaitTimeout once past."""
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise WaitTimeout(f"gave up waiting on {path}", instance=path)
    return left


def connection_failed(
    base_url: str, call: Call[Any], exc: Exception, tries: int
) -> ConnectionFailed:
    what = str(exc) or type(exc).__name__
    attempts = f" after {tries + 1} tries" if tries else ""
    return ConnectionFailed(
        f"{call.method} {base_url}{call.path} failed{attempts}: {what}", instance=call.path
    )


def stream_lost(
    path: str, code: int | None, reason: str, after: int | None, tries: int
) -> FlowPilotError:
    """The error for a live stream that broke and could not be resumed."""
    error = error_from_close(code, reason, path)
    if isinstance(error, ConnectionFailed):
        resume = f"; resume with after={after}" if after is not None else ""
        error = ConnectionFailed(
            f"lost the stream {path} ({reason}) and could not reconnect in {tries} tries" + resume,
            instance=path,
        )
    return error


def is_uuid(value: Any) -> bool:
    if isinstance(value, uuid.UUID):
        return True
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


class StreamResume:
    """The bookkeeping of one live stream across reconnections: the last event id received
    (the next connection resumes after it) and what to do when a connection ends."""

    DONE = "done"
    RENEW = "renew"

    def __init__(
        self, path: str, after: int | None, retry: RetryPolicy, credentials: Credentials
    ) -> None:
        self.path = path
        self.after = after
        self.retry = retry
        self.credentials = credentials
        self.failures = 0
        self.renewed = False

    def url(self, base_url: str) -> str:
        return websocket_url(base_url, self.path, self.after)

    def received(self, event_id: int) -> None:
        self.after = event_id
        self.failures = 0
        self.renewed = False

    def refused(self, status: int) -> str:
        """The handshake was answered with an HTTP status: a reason to reconnect when it is
        passing (502, 503, 504), else the error."""
        if status not in RETRY_STATUSES:
            raise error_class(status)(
                f"the stream {self.path} was refused with HTTP {status}",
                status=status,
                instance=self.path,
            )
        return f"HTTP {status}"

    def ended(self, code: int | None, reason: str) -> str | float:
        """After a connection ended with close ``code`` (None: it broke or never opened):
        :attr:`DONE`, :attr:`RENEW` (get a new access token, then reconnect), or the
        seconds to wait before reconnecting. Raises when the stream cannot go on."""
        if code == 1000:
            return self.DONE
        if code == 4401 and self.credentials.renewable and not self.renewed:
            self.renewed = True
            return self.RENEW
        if code is not None and 4000 <= code < 5000:
            raise error_from_close(code, reason, self.path)
        self.failures += 1
        if self.failures > self.retry.retries:
            raise stream_lost(self.path, code, reason, self.after, self.failures)
        return self.retry.delay(self.failures)
