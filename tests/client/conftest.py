"""The client's tests run against the real server of tests/server (its ``live`` fixture:
the app under uvicorn on a fresh database), through API keys and users made there."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from flowpilot.client import FlowPilot, RetryPolicy
from tests.server import conftest as server
from tests.server.conftest import LiveServer, Member

# The server's fixtures, for the tests here: one live server per test module.
live = server.live
make_member = server.make_member
owner = server.owner

#: Retries without the production back-off, so tests of failures stay fast.
FAST_RETRY = RetryPolicy(retries=3, backoff=0.01, max_backoff=0.05)


def make_api_key(member: Member, role: str = "admin", scopes: list[str] | None = None) -> str:
    """A new API key of ``member``'s organization."""
    response = member.client.post(
        "/api/v1/api-keys",
        json={"name": f"client tests {role}", "role": role, "scopes": scopes or []},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


@pytest.fixture
def api_key(owner: Member) -> str:
    return make_api_key(owner)


@pytest.fixture
def connect(live: LiveServer) -> Iterator[Callable[..., FlowPilot]]:
    """Clients of the live server (closed after the test); arguments as for FlowPilot."""
    made: list[FlowPilot] = []

    def make(**kwargs: object) -> FlowPilot:
        kwargs.setdefault("retry", FAST_RETRY)
        client = FlowPilot(live.url, **kwargs)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(connect: Callable[..., FlowPilot], api_key: str) -> FlowPilot:
    """A client authenticated with an admin API key of a fresh organization."""
    return connect(api_key=api_key)


class Faults:
    """Faults to inject before requests reach the server, in order: ``"503"`` answers 503
    (with ``Retry-After: 0``), ``"connect"`` fails as a refused connection. Every request the
    client makes is recorded (method, path and headers), whether it failed or went through."""

    def __init__(self, *faults: str) -> None:
        self.pending = list(faults)
        self.seen: list[httpx.Request] = []

    def inject(self, request: httpx.Request) -> httpx.Response | None:
        self.seen.append(request)
        if not self.pending:
            return None
        fault = self.pending.pop(0)
        if fault == "connect":
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        problem = {"status": 503, "code": "unavailable", "detail": "the database is unreachable"}
        return httpx.Response(503, headers={"Retry-After": "0"}, json=problem, request=request)

    @property
    def requests(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.seen]


class FaultyTransport(httpx.BaseTransport):
    """The real HTTP transport behind :class:`Faults`."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.faults.inject(request) or self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class AsyncFaultyTransport(httpx.AsyncBaseTransport):
    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self.faults.inject(request) or await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class CuttableProxy:
    """A TCP relay to the live server whose open connections can be cut at once, the way a
    flaky network or a restarted load balancer drops them."""

    def __init__(self, target: str) -> None:
        self._target = ("127.0.0.1", int(target.rsplit(":", 1)[1]))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.connections = 0
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            with self._lock:
                self.connections += 1
                self._open += [downstream, upstream]
            for source, sink in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        """Drop every open connection (no WebSocket close frame: the client sees 1006)."""
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def close(self) -> None:
        self._listener.close()
        self.cut()


@pytest.fixture
def proxy(live: LiveServer) -> Iterator[CuttableProxy]:
    relay = CuttableProxy(live.url)
    yield relay
    relay.close()
