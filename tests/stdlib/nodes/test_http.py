"""``http.request`` and ``http.graphql`` against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from flowpilot.stdlib.errors import CredentialMissing, InvalidNodeInput, NodeError

from .conftest import Certificate, Received, Recorder, RecordingServer, run_node, serving

TOKEN = "tok-9f8e7d6c5b4a"


def test_get_merges_query_parses_json_and_sends_no_idempotency_key(
    http_server: RecordingServer,
) -> None:
    http_server.route("/orders", body={"orders": [{"id": 1}]}, X_Total="1")
    out = run_node(
        "http.request",
        {"url": f"{http_server.url}/orders?status=open",
         "query": {"page": 2, "tag": ["a", "b"], "full": True}},
    )  # fmt: skip
    seen = http_server.last
    assert seen.method == "GET"
    assert seen.query == {"status": ["open"], "page": ["2"], "tag": ["a", "b"], "full": ["true"]}
    assert "idempotency-key" not in seen.headers
    assert seen.headers["user-agent"].startswith("FlowPilot/")
    assert out["status"] == 200 and out["ok"] is True
    assert out["json"] == {"orders": [{"id": 1}]}
    assert out["text"] == '{"orders": [{"id": 1}]}'
    assert out["headers"]["x-total"] == "1" and out["file"] is None
    assert out["url"].startswith(f"{http_server.url}/orders?status=open")
    assert out["elapsed_ms"] > 0


def test_post_json_with_bearer_token_carries_the_idempotency_key(
    http_server: RecordingServer, recorder: Recorder
) -> None:
    http_server.route("/api/orders", status=201, body={"id": "o-1"})
    args = {
        "method": "POST",
        "url": f"{http_server.url}/api/orders",
        "auth": {"type": "bearer", "token": TOKEN},
        "json": {"customer": "c-1", "lines": [1, 2]},
        "expected_status": [200, 201],
    }
    out = run_node("http.request", args, recorder.context(attempt=2))
    seen = http_server.last
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["content-type"] == "application/json"
    assert "Idempotency-Key" in seen.raw_header_names  # names keep the case they are written in
    assert seen.headers["idempotency-key"] == "ex-1:send:1"
    assert seen.json() == {"customer": "c-1", "lines": [1, 2]}
    assert out["status"] == 201 and out["json"] == {"id": "o-1"}
    run_node("http.request", {**args, "idempotency_key": "order-c-1"})
    assert http_server.last.headers["idempotency-key"] == "order-c-1"
    # Given explicitly, the key goes out even on a GET.
    run_node("http.request", {"url": http_server.url, "idempotency_key": "poll-1"})
    assert http_server.last.headers["idempotency-key"] == "poll-1"


def test_form_raw_and_multipart_bodies(http_server: RecordingServer, recorder: Recorder) -> None:
    url = f"{http_server.url}/in"
    run_node("http.request", {"method": "POST", "url": url, "form": {"a": "1", "b": "x y"}})
    assert http_server.last.body == b"a=1&b=x+y"
    assert http_server.last.headers["content-type"] == "application/x-www-form-urlencoded"

    run_node(
        "http.request",
        {"method": "PUT", "url": url, "body": "<x/>", "headers": {"Content-Type": "text/xml"}},
    )
    assert (
        http_server.last.body == b"<x/>" and http_server.last.headers["content-type"] == "text/xml"
    )

    recorder.files["f1"] = b"%PDF-1.7 fake"
    ref = {"id": "f1", "name": "invoice.pdf", "mime_type": "application/pdf", "size": 13}
    run_node(
        "http.request",
        {"method": "POST", "url": url, "files": {"document": ref}, "form": {"kind": "invoice"}},
        recorder.context(),
    )
    seen = http_server.last
    assert seen.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="document"; filename="invoice.pdf"' in seen.body
    assert b"Content-Type: application/pdf" in seen.body and b"%PDF-1.7 fake" in seen.body
    assert b'name="kind"' in seen.body


def test_bad_input_is_refused_before_anything_is_sent(http_server: RecordingServer) -> None:
    with pytest.raises(InvalidNodeInput, match="at most one body"):
        run_node("http.request", {"url": http_server.url, "json": {}, "body": "x"})
    with pytest.raises(InvalidNodeInput, match="ASCII") as info:
        run_node("http.request", {"url": http_server.url, "headers": {"X-Name": "Zoë"}})
    assert info.value.field == "with.headers"
    assert http_server.requests == []


def test_basic_and_api_key_auth(http_server: RecordingServer) -> None:
    run_node(
        "http.request",
        {"url": http_server.url, "auth": {"type": "basic", "username": "u", "password": "p@ss"}},
    )
    expected = base64.b64encode(b"u:p@ss").decode()
    assert http_server.last.headers["authorization"] == f"Basic {expected}"

    run_node("http.request", {"url": http_server.url, "auth": {"type": "api_key", "value": TOKEN}})
    assert http_server.last.headers["x-api-key"] == TOKEN

    out = run_node(
        "http.request",
        {"url": f"{http_server.url}/q?a=1",
         "auth": {"type": "api_key", "value": TOKEN, "query_param": "key"}},
    )  # fmt: skip
    assert http_server.last.query == {"a": ["1"], "key": [TOKEN]}
    assert TOKEN not in out["url"]  # outputs are stored and shown

    host = http_server.url.removeprefix("http://")
    out = run_node("http.request", {"url": f"http://u:{TOKEN}@{host}/in-url"})
    assert (
        http_server.last.headers["authorization"]
        == "Basic " + base64.b64encode(f"u:{TOKEN}".encode()).decode()
    )
    assert out["url"] == f"{http_server.url}/in-url"


def test_connection_credential_adds_headers_and_auth(
    http_server: RecordingServer, recorder: Recorder
) -> None:
    recorder.credentials[("http", "erp")] = {
        "headers": {"X-Tenant": "acme", "X-Env": "prod"},
        "auth": {"type": "bearer", "token": TOKEN},
    }
    run_node(
        "http.request",
        {"url": http_server.url, "connection": "erp", "headers": {"X-Env": "test"}},
        recorder.context(),
    )
    headers = http_server.last.headers
    assert headers["x-tenant"] == "acme" and headers["x-env"] == "test"
    assert headers["authorization"] == f"Bearer {TOKEN}"
    with pytest.raises(CredentialMissing):
        run_node("http.request", {"url": http_server.url, "connection": "nope"}, recorder.context())


def test_expected_status_accepts_listed_codes(http_server: RecordingServer) -> None:
    http_server.route("/missing", status=404, body={"error": "no such order"})
    out = run_node(
        "http.request", {"url": f"{http_server.url}/missing", "expected_status": ["2xx", 404]}
    )
    assert out["status"] == 404 and out["ok"] is True and out["json"] == {"error": "no such order"}


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(500, True), (502, True), (408, True), (425, True), (404, False), (400, False), (401, False)],
)
def test_unexpected_status_is_an_http_status_error(
    http_server: RecordingServer, status: int, retryable: bool
) -> None:
    http_server.route("/x", status=status, body={"detail": "nope", "echo": TOKEN})
    with pytest.raises(NodeError) as info:
        run_node(
            "http.request",
            {"url": f"{http_server.url}/x?k={TOKEN}", "headers": {"Authorization": TOKEN}},
        )
    error = info.value
    assert error.type == "http_status" and error.retryable is retryable
    assert error.data["status"] == status and '"detail": "nope"' in error.data["body"]
    assert f"GET {http_server.url}/x: HTTP {status}" in error.message
    assert TOKEN not in error.message and TOKEN not in json.dumps(error.data)


def test_retry_after_seconds_and_http_date(http_server: RecordingServer) -> None:
    http_server.route("/busy", status=429, body={}, Retry_After="7")
    with pytest.raises(NodeError) as info:
        run_node("http.request", {"url": f"{http_server.url}/busy"})
    assert info.value.retryable and info.value.retry_after == 7

    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    http_server.route("/down", status=503, body={}, Retry_After=later)
    with pytest.raises(NodeError) as info:
        run_node("http.request", {"url": f"{http_server.url}/down"})
    assert 100 < info.value.retry_after <= 120

    http_server.route("/gone", status=404, body={}, Retry_After="7")
    with pytest.raises(NodeError) as info:
        run_node("http.request", {"url": f"{http_server.url}/gone"})
    assert info.value.retry_after is None


def test_unreachable_host_is_a_retryable_connection_error(closed_port: int) -> None:
    with pytest.raises(NodeError) as info:
        run_node("http.request", {"url": f"http://127.0.0.1:{closed_port}/x", "method": "POST"})
    assert info.value.type == "connection" and info.value.retryable
    assert f"POST http://127.0.0.1:{closed_port}/x: connection failed" in info.value.message
    with pytest.raises(NodeError) as info:
        run_node("http.request", {"url": f"http://u:{TOKEN}@127.0.0.1:{closed_port}/x?k={TOKEN}"})
    assert TOKEN not in info.value.message


def _slow(received: Received) -> tuple[int, dict[str, str], bytes]:
    time.sleep(1.5)
    return 200, {}, b"{}"


def test_slow_server_times_out(http_server: RecordingServer, recorder: Recorder) -> None:
    http_server.routes["/slow"] = _slow
    started = time.monotonic()
    with pytest.raises(NodeError) as info:
        run_node("http.request", {"url": f"{http_server.url}/slow", "timeout": "200ms"})
    assert info.value.type == "timeout" and info.value.retryable
    assert time.monotonic() - started < 1.2

    # The step's deadline wins over a longer `timeout` argument.
    ctx = recorder.context(deadline=time.monotonic() + 0.2)
    with pytest.raises(NodeError) as info:
        run_node("http.request", {"url": f"{http_server.url}/slow", "timeout": "1m"}, ctx)
    assert info.value.type == "timeout"


def test_response_type_json_with_a_body_that_is_not_json(http_server: RecordingServer) -> None:
    http_server.route("/html", body=b"<html>oops</html>", Content_Type="text/html")
    with pytest.raises(NodeError) as info:
        run_node("http.request", {"url": f"{http_server.url}/html", "response_type": "json"})
    assert info.value.type == "invalid_response" and not info.value.retryable
    assert "not JSON" in info.value.message and "text/html" in info.value.message
    # `auto` only parses what says it is JSON, and never fails on it
    out = run_node("http.request", {"url": f"{http_server.url}/html"})
    assert out["json"] is None and out["text"] == "<html>oops</html>"
    http_server.route("/liar", body=b"not json")
    assert run_node("http.request", {"url": f"{http_server.url}/liar"})["json"] is None
    out = run_node("http.request", {"url": f"{http_server.url}/liar", "response_type": "text"})
    assert out["json"] is None and out["text"] == "not json"


def test_oversize_response_fails_whether_declared_or_streamed(http_server: RecordingServer) -> None:
    http_server.route("/big", body=b"x" * 5000, Content_Type="text/plain")
    chunked = b"".join(b"400\r\n" + b"y" * 1024 + b"\r\n" for _ in range(5)) + b"0\r\n\r\n"
    http_server.route(
        "/stream", body=chunked, Content_Type="text/plain", Transfer_Encoding="chunked"
    )
    for path in ("/big", "/stream"):
        with pytest.raises(NodeError) as info:
            run_node(
                "http.request", {"url": f"{http_server.url}{path}", "max_response_bytes": 4096}
            )
        assert info.value.type == "response_too_large" and not info.value.retryable
        assert "4096" in info.value.message
    out = run_node("http.request", {"url": f"{http_server.url}/stream", "max_response_bytes": 5120})
    assert out["text"] == "y" * 5120


def test_redirects_followed_or_reported(http_server: RecordingServer) -> None:
    http_server.route("/old", status=302, body=b"", Location="/new")
    http_server.route("/new", body={"here": True})
    out = run_node("http.request", {"url": f"{http_server.url}/old"})
    assert out["url"] == f"{http_server.url}/new" and out["json"] == {"here": True}
    with pytest.raises(NodeError) as info:
        run_node("http.request", {"url": f"{http_server.url}/old", "follow_redirects": False})
    assert info.value.data["status"] == 302 and not info.value.retryable
    out = run_node(
        "http.request",
        {"url": f"{http_server.url}/old", "follow_redirects": False, "expected_status": ["3xx"]},
    )
    assert out["status"] == 302 and out["headers"]["location"] == "/new"


def test_credentials_do_not_follow_a_redirect_to_another_origin(
    http_server: RecordingServer, recorder: Recorder
) -> None:
    recorder.credentials[("http", "erp")] = {"headers": {"X-Tenant-Secret": TOKEN}}
    args = {
        "connection": "erp",
        "auth": {"type": "api_key", "header": "X-Key", "value": TOKEN},
        "headers": {"X-Request-Token": TOKEN, "Accept": "application/json"},
    }
    with serving() as elsewhere:
        http_server.route("/away", status=307, body=b"", Location=f"{elsewhere.url}/landing")
        http_server.route("/here", status=302, body=b"", Location="/landing")
        run_node("http.request", {**args, "url": f"{http_server.url}/here"}, recorder.context())
        same = http_server.last.headers
        assert same["x-key"] == same["x-request-token"] == same["x-tenant-secret"] == TOKEN
        run_node("http.request", {**args, "url": f"{http_server.url}/away"}, recorder.context())
        moved = elsewhere.last.headers
        assert elsewhere.last.path == "/landing" and moved["accept"] == "application/json"
        assert TOKEN not in json.dumps(moved)


def test_redirect_loops_stop(http_server: RecordingServer) -> None:
    http_server.route("/loop", status=302, body=b"", Location="/loop")
    with pytest.raises(NodeError) as info:
        run_node("http.request", {"url": f"{http_server.url}/loop"})
    assert info.value.type == "http_redirects" and not info.value.retryable
    assert len(http_server.requests) == 21


def test_cookies_never_carry_over_between_requests(http_server: RecordingServer) -> None:
    http_server.route("/login", body={}, Set_Cookie="session=tenant-a; Path=/")
    run_node("http.request", {"url": f"{http_server.url}/login"})
    run_node("http.request", {"url": f"{http_server.url}/other"})
    assert "cookie" not in http_server.last.headers


def test_head_request_and_unsupported_scheme(http_server: RecordingServer) -> None:
    out = run_node("http.request", {"url": http_server.url, "method": "HEAD"})
    assert out["status"] == 200 and out["text"] == "" and out["json"] is None
    with pytest.raises(InvalidNodeInput):
        run_node("http.request", {"url": "ftp://127.0.0.1/file"})


def test_bytes_responses_are_refused_before_sending(http_server: RecordingServer) -> None:
    with pytest.raises(NodeError, match="file store") as info:
        run_node("http.request", {"url": http_server.url, "response_type": "bytes"})
    assert info.value.type == "unsupported" and http_server.requests == []


def test_tls_verification(self_signed: Certificate) -> None:
    with serving(tls=self_signed) as server:
        with pytest.raises(NodeError) as info:
            run_node("http.request", {"url": server.url})
        assert info.value.type == "tls_error" and not info.value.retryable
        out = run_node("http.request", {"url": server.url, "verify_tls": False})
        assert out["status"] == 200 and server.last.method == "GET"


# --------------------------------------------------------------------------------------------
# http.graphql
# --------------------------------------------------------------------------------------------


def test_graphql_posts_query_and_variables(http_server: RecordingServer) -> None:
    http_server.route("/graphql", body={"data": {"repository": {"stargazerCount": 42}}})
    out = run_node(
        "http.graphql",
        {"url": f"{http_server.url}/graphql", "query": "query($o: String!) { x }",
         "variables": {"o": "acme"}, "operation_name": "Q",
         "auth": {"type": "bearer", "token": TOKEN}},
    )  # fmt: skip
    seen = http_server.last
    assert seen.method == "POST" and seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert seen.json() == {
        "query": "query($o: String!) { x }",
        "variables": {"o": "acme"},
        "operationName": "Q",
    }
    assert seen.headers["idempotency-key"] == "ex-1:send:1"
    assert out == {"data": {"repository": {"stargazerCount": 42}}, "errors": [], "status": 200}


def test_graphql_errors_fail_the_step_unless_asked_not_to(http_server: RecordingServer) -> None:
    errors = [
        {"message": "Field 'x' missing", "path": ["repo", 0], "locations": [{"line": 1, "column": 3}],
         "extensions": {"code": "BAD"}, "extra": 1},
        {"message": "second"},
    ]  # fmt: skip
    http_server.route("/graphql", body={"data": None, "errors": errors})
    args = {"url": f"{http_server.url}/graphql", "query": "{ x }"}
    with pytest.raises(NodeError) as info:
        run_node("http.graphql", args)
    assert info.value.type == "graphql" and not info.value.retryable
    assert "Field 'x' missing (and 1 more)" in info.value.message
    out = run_node("http.graphql", {**args, "fail_on_errors": False})
    assert out["data"] is None and out["errors"][0]["extensions"] == {"code": "BAD"}
    assert "extra" not in out["errors"][0]


def test_graphql_server_failure_is_an_http_status_error(http_server: RecordingServer) -> None:
    http_server.route("/graphql", status=502, body=b"bad gateway", Content_Type="text/plain")
    with pytest.raises(NodeError) as info:
        run_node("http.graphql", {"url": f"{http_server.url}/graphql", "query": "{ x }"})
    assert info.value.type == "http_status" and info.value.retryable
