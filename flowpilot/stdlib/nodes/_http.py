"""HTTP plumbing shared by the nodes that call web services (``http.*``, ``chat.*``, ``slack.*``).

One pooled ``httpx.Client`` per process and TLS mode serves every worker thread (httpx clients
are thread-safe). It never stores cookies: it is shared by every organization's flows, so a
cookie set for one must not ride along on another's request. Failures become
:class:`~flowpilot.stdlib.errors.NodeError` with the types flows match in ``retry_on``:
``timeout``, ``connection``, ``tls_error``, ``http_status`` (with ``data.status``) and
``response_too_large``. Messages and error data never contain the secrets a node passes in
``secrets`` (tokens, passwords, webhook URLs).
"""

from __future__ import annotations

import base64
import math
import re
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flowpilot import __version__
from flowpilot.stdlib.errors import InvalidNodeInput, NodeError

if TYPE_CHECKING:
    import httpx

USER_AGENT = f"FlowPilot/{__version__}"
ERROR_BODY_CHARS = 1000
_ERROR_BODY_BYTES = 16 * 1024

_clients: dict[bool, httpx.Client] = {}
_clients_lock = threading.Lock()


def shared_client(verify_tls: bool = True) -> httpx.Client:
    """The process-wide client for ``verify_tls`` (TLS verification is fixed per client)."""
    client = _clients.get(verify_tls)
    if client is None:
        with _clients_lock:
            client = _clients.get(verify_tls)
            if client is None:
                client = _clients[verify_tls] = _new_client(verify_tls)
    return client


def _new_client(verify_tls: bool) -> httpx.Client:
    import httpx

    class NoCookies(httpx.Cookies):
        """A jar that never takes a cookie, so none is ever sent."""

        def __init__(self) -> None:
            super().__init__()

        def extract_cookies(self, response: httpx.Response) -> None:
            return None

        def set_cookie_header(self, request: httpx.Request) -> None:
            return None

    client = httpx.Client(
        verify=verify_tls,
        headers={"User-Agent": USER_AGENT},
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=40),
    )
    # httpx offers no cookie-less client: it reads every response's Set-Cookie into the
    # client's jar, through urllib's cookie machinery (a tenth of a request's cost), and the
    # property setter would wrap a jar of ours in a plain one, hence the attribute.
    client._cookies = NoCookies()
    return client


# --------------------------------------------------------------------------------------------
# Durations and secrets
# --------------------------------------------------------------------------------------------

_SHORT_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: str) -> float:
    """Seconds in a duration argument (``30s``, ``1.5m``, ``PT2M``); the schema checked it."""
    from flowpilot.durations import parse_duration

    match = _SHORT_DURATION.fullmatch(text)
    if match:
        return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    ms = parse_duration(text)
    if ms is None:
        raise InvalidNodeInput(f"invalid duration {text!r}", field="with.timeout")
    return ms / 1000


def secret_variants(*secrets: str | None) -> tuple[str, ...]:
    """The secrets and the spellings they take on the wire (URL-encoded), longest first."""
    found: set[str] = set()
    for secret in secrets:
        if secret and len(secret) >= 3:
            found.update((secret, quote(secret, safe=""), quote(secret, safe="/:")))
    return tuple(sorted(found, key=len, reverse=True))


def webhook_secrets(url: str) -> tuple[str, ...]:
    """A webhook URL is a secret, and so are the parts that carry its token on their own: the
    path (Slack, Discord) and the query's long values (the `sig` of Teams Workflows URLs)."""
    from urllib.parse import parse_qsl, urlsplit

    parts = urlsplit(url)
    last = parts.path.rpartition("/")[2]
    long_values = [v for _, v in parse_qsl(parts.query) if len(v) >= 16]
    return secret_variants(
        url,
        parts.path if len(parts.path) >= 8 else None,
        last if len(last) >= 16 else None,
        *long_values,
    )


def basic_credentials(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


# --------------------------------------------------------------------------------------------
# Sending
# --------------------------------------------------------------------------------------------


MAX_REDIRECTS = 20


@contextmanager
def open_response(
    client: httpx.Client,
    request: httpx.Request,
    *,
    what: str,
    follow_redirects: bool = True,
    secrets: tuple[str, ...] = (),
    private_headers: Iterable[str] = (),
) -> Iterator[httpx.Response]:
    """Send ``request`` and yield the streamed response, mapping transport failures.

    ``what`` names the call in messages (``POST https://api.example.com/orders``, ``Slack
    webhook``); it must not contain secrets. Redirects are followed here rather than by httpx,
    which only drops ``Authorization`` when a redirect leaves the origin: ``private_headers``
    (API keys, credential headers) are dropped too.
    """
    import httpx

    private = tuple(private_headers)
    response: httpx.Response | None = None
    try:
        response = client.send(request, stream=True, follow_redirects=False)
        for _ in range(MAX_REDIRECTS):
            if not follow_redirects or response.next_request is None:
                break
            following = response.next_request
            if _origin(following.url) != _origin(request.url):
                for name in private:
                    following.headers.pop(name, None)
            response.close()
            response = client.send(following, stream=True, follow_redirects=False)
        else:
            if response.next_request is not None:
                raise NodeError(
                    f"{what}: more than {MAX_REDIRECTS} redirects",
                    type="http_redirects",
                    retryable=False,
                )
        yield response
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise transport_error(exc, what, secrets) from None
    finally:
        if response is not None:
            response.close()


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


def transport_error(exc: Exception, what: str, secrets: tuple[str, ...]) -> NodeError:
    """A NodeError for a failure below HTTP (no response, or the body was cut off)."""
    import ssl

    import httpx

    reason = redact(_reason(exc), secrets)
    if isinstance(exc, httpx.TimeoutException):
        return NodeError(f"{what}: timed out ({reason})", type="timeout")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return InvalidNodeInput(f"{what}: {reason}", field="with.url")
    if _caused_by(exc, ssl.SSLCertVerificationError):
        return NodeError(
            f"{what}: the server's TLS certificate is not trusted ({reason})",
            type="tls_error",
            retryable=False,
        )
    return NodeError(f"{what}: connection failed ({reason})", type="connection")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    cause = exc.__cause__ or exc.__context__
    while not text and cause is not None:
        text = str(cause).strip()
        cause = cause.__cause__ or cause.__context__
    return text or type(exc).__name__


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def read_body(
    response: httpx.Response,
    *,
    limit: int,
    deadline: float,
    what: str,
) -> bytes:
    """The (decoded) body, failing once it grows past ``limit`` bytes or the deadline passes."""
    declared = response.headers.get("content-length", "")
    if (
        declared.isdigit()
        and int(declared) > limit
        and not response.headers.get("content-encoding")
    ):
        raise _too_large(what, limit, response.status_code)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise _too_large(what, limit, response.status_code)
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise NodeError(f"{what}: timed out while reading the response", type="timeout")
    return b"".join(chunks)


def _too_large(what: str, limit: int, status: int) -> NodeError:
    return NodeError(
        f"{what}: the response body is larger than max_response_bytes ({limit} bytes)",
        type="response_too_large",
        retryable=False,
        data={"status": status, "limit": limit},
    )


def status_is_retryable(status: int) -> bool:
    """408, 425, 429 and 5xx may succeed later; other statuses will not."""
    return status in (408, 425, 429) or status >= 500


def status_error(
    response: httpx.Response,
    *,
    what: str,
    secrets: tuple[str, ...] = (),
    body: bytes | None = None,
) -> NodeError:
    """``http_status`` error for an unexpected status; reads (a bounded part of) the body."""
    if body is None:
        body = _read_some(response)
    text = redact(decode_text(response, body), secrets)
    status = response.status_code
    retryable = status_is_retryable(status)
    reason = response.reason_phrase or "unexpected status"
    return NodeError(
        redact(f"{what}: HTTP {status} {reason}", secrets),
        type="http_status",
        retryable=retryable,
        retry_after=retry_after_seconds(response.headers.get("retry-after")) if retryable else None,
        data={"status": status, "body": text[:ERROR_BODY_CHARS]},
    )


def _read_some(response: httpx.Response) -> bytes:
    import httpx

    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= _ERROR_BODY_BYTES:
                break
    except httpx.HTTPError:
        pass  # the status is what matters; a cut-off error body is still worth showing
    return b"".join(chunks)[:_ERROR_BODY_BYTES]


def decode_text(response: httpx.Response, body: bytes) -> str:
    import codecs

    encoding = response.charset_encoding or "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        encoding = "utf-8"
    return body.decode(encoding, errors="replace")


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def is_json_media_type(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media in ("application/json", "text/json") or media.endswith("+json")


def post_json(
    ctx: Any,
    url: str,
    payload: Any,
    *,
    what: str,
    secrets: tuple[str, ...],
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    timeout: float = 30.0,
    max_bytes: int = 1024 * 1024,
) -> tuple[httpx.Response, bytes]:
    """POST ``payload`` as JSON; return the response and its body, or raise for non-2xx."""
    import httpx

    seconds = ctx.remaining(timeout)
    client = shared_client()
    request_headers = {"Idempotency-Key": ctx.idempotency_key, **(headers or {})}
    try:
        request = client.build_request(
            "POST",
            url,
            json=payload,
            params=params,
            headers=request_headers,
            timeout=httpx.Timeout(seconds),
        )
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise transport_error(exc, what, secrets) from None
    deadline = time.monotonic() + seconds
    with open_response(client, request, what=what, secrets=secrets) as response:
        if not 200 <= response.status_code < 300:
            raise status_error(response, what=what, secrets=secrets)
        body = read_body(response, limit=max_bytes, deadline=deadline, what=what)
    return response, body
