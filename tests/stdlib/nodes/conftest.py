"""Real local servers (HTTP, SMTP) on 127.0.0.1 and a NodeContext that records what nodes do."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest

from flowpilot.stdlib.context import NodeContext
from flowpilot.stdlib.registry import default_registry
from flowpilot.stdlib.validation import prepare_arguments

# --------------------------------------------------------------------------------------------
# Running a node the way the runtime does
# --------------------------------------------------------------------------------------------


@dataclass
class Recorder:
    """The services a NodeContext gets, backed by dicts, recording log lines."""

    credentials: dict[tuple[str, str | None], Mapping[str, Any]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    logs: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def context(self, **overrides: Any) -> NodeContext:
        def lookup(kind: str, name: str | None) -> Mapping[str, Any] | None:
            return self.credentials.get((kind, name))

        def log(level: str, message: str, fields: Mapping[str, Any]) -> None:
            self.logs.append((level, message, dict(fields)))

        return NodeContext(
            execution_id="ex-1",
            step_id="send",
            idempotency_key="ex-1:send:1",
            log_sink=log,
            credential_lookup=lookup,
            evaluator=python_evaluator,
            file_reader=lambda ref: self.files[ref["id"]],
            **overrides,
        )


def python_evaluator(value: Any, names: Mapping[str, Any]) -> Any:
    """Stands in for the runtime's expression evaluator: ``{"$py": callable}`` is called with
    the names in scope; anything else is a literal."""
    if isinstance(value, dict) and "$py" in value:
        return value["$py"](**names)
    return value


def run_node(name: str, args: dict[str, Any], ctx: NodeContext | None = None) -> Any:
    """Validate and default ``args`` like the runtime, run the node, check its output schema."""
    node_type = default_registry().get(name)
    assert node_type is not None and node_type.implemented, name
    prepared = prepare_arguments(node_type, args)
    output = node_type.require_implementation()(ctx or Recorder().context(), prepared)
    assert_output(name, output)
    return output


def assert_output(name: str, output: Any) -> None:
    schema = default_registry().get(name).output
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(output)
    json.dumps(output, allow_nan=False)  # JSON-able, no NaN/Infinity


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


# --------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    raw_header_names: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.body)


Reply = tuple[int, dict[str, str], bytes]
Route = Reply | Callable[[Received], Reply]


class RecordingServer:
    """A threaded HTTP server on 127.0.0.1 answering from a route table and recording requests."""

    def __init__(self, tls: Certificate | None = None) -> None:
        self.requests: list[Received] = []
        self.routes: dict[str, Route] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                received = Received(
                    self.command,
                    split.path,
                    parse_qs(split.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    list(self.headers.keys()),
                )
                server.requests.append(received)
                route = server.routes.get(split.path, (200, {}, b'{"ok": true}'))
                status, headers, payload = route(received) if callable(route) else route
                self.send_response(status)
                headers = {"Content-Type": "application/json", **headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                if "Content-Length" not in headers and "Transfer-Encoding" not in headers:
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.scheme = "http"
        if tls is not None:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls.cert, tls.key)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        # A short poll interval keeps shutdown (once per test) from taking half a second.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"{self.scheme}://{host}:{port}"

    def route(self, path: str, status: int = 200, body: Any = None, **headers: str) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body or {}).encode()
        self.routes[path] = (status, {k.replace("_", "-"): v for k, v in headers.items()}, payload)

    @property
    def last(self) -> Received:
        return self.requests[-1]


@contextmanager
def serving(tls: Certificate | None = None) -> Iterator[RecordingServer]:
    server = RecordingServer(tls)
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


@pytest.fixture
def http_server() -> Iterator[RecordingServer]:
    with serving() as server:
        yield server


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------------------------
# TLS
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    @property
    def pem(self) -> str:
        return self.cert.read_text()


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return Certificate(cert, key)
