"""Health, readiness, request ids, JSON logs, security headers, and problem details for unknown
routes and for bad input of every kind."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import TestClient

from flowpilot.runtime.service import Dispatcher, Runtime
from flowpilot.server.app import create_app
from flowpilot.server.config import Settings
from flowpilot.server.ops.logs import JsonFormatter
from tests.server.conftest import LiveServer, Member, assert_problem
from tests.server.triggers_support import publish


def test_healthz_and_readyz_answer(live: LiveServer) -> None:
    with live.client() as client:
        assert client.get("/healthz").json() == {"status": "ok", "checks": {}}
        ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_every_response_carries_a_request_id_and_security_headers(live: LiveServer) -> None:
    with live.client() as client:
        response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        generated = client.get("/healthz")
        hostile = client.get("/healthz", headers={"X-Request-ID": "bad id; drop"})
    assert response.headers["x-request-id"] == "abc-123"
    assert len(generated.headers["x-request-id"]) == 32
    assert hostile.headers["x-request-id"] != "bad id; drop"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_unknown_route_and_method_are_problems(live: LiveServer) -> None:
    with live.client() as client:
        assert_problem(client.get("/api/v1/nope"), 404, "not_found")
        assert_problem(client.delete("/healthz"), 405, "method_not_allowed")


def test_endpoints_need_credentials(live: LiveServer, owner: Member) -> None:
    with live.client() as anonymous:
        body = assert_problem(anonymous.get("/api/v1/workflows"), 401, "unauthorized")
    assert "bearer" in body["detail"]
    with live.client("not-a-token") as bad:
        assert_problem(bad.get("/api/v1/workflows"), 401, "invalid_token")


def test_openapi_document_is_served(live: LiveServer) -> None:
    with live.client() as client:
        document = client.get("/api/schema/openapi.json").json()
        docs = client.get("/api/docs", follow_redirects=False)
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] == "FlowPilot API"
    assert docs.status_code in (301, 302, 307, 308)


def test_bad_input_is_a_4xx_naming_the_field(live: LiveServer, owner: Member) -> None:
    client = owner.client
    as_json = {"Content-Type": "application/json"}
    malformed = client.post("/api/v1/workflows", content=b'{"source": ', headers=as_json)
    body = assert_problem(malformed, 400, "malformed_body")
    assert body["errors"][0]["field"] == "body" and "not valid JSON" in body["detail"]
    not_utf8 = client.post("/api/v1/events", content=b'{"type": "\xff"}', headers=as_json)
    assert assert_problem(not_utf8, 400, "malformed_body")["errors"][0]["field"] == "body"

    missing = assert_problem(client.post("/api/v1/events", headers=as_json), 400)
    assert missing["errors"] == [{"field": "body", "message": "a request body is required"}]
    not_an_object = assert_problem(client.post("/api/v1/events", json=[1]), 400)
    assert not_an_object["errors"][0]["field"] == "body"
    field_not_an_object = client.post("/api/v1/events", json={"type": "a", "data": [1]})
    assert assert_problem(field_not_an_object, 400)["errors"][0]["field"] == "data"
    wrong_query = assert_problem(client.get("/api/v1/executions?limit=ten&status=done"), 400)
    assert {e["field"] for e in wrong_query["errors"]} == {"query.limit", "query.status"}

    limit = live.settings.max_body_bytes
    oversized = client.post("/api/v1/events", content=b" " * (limit + 1), headers=as_json)
    too_large = assert_problem(oversized, 413, "payload_too_large")
    assert too_large["errors"] == [{"field": "body", "message": f"larger than {limit} bytes"}]
    assert too_large["limit"] == limit and str(limit) in too_large["detail"]
    assert client.get("/api/v1/events").json()["items"] == []  # nothing half-written


class _UnreachableRedis:
    def ping(self) -> None:
        raise ConnectionError("connection refused")


class _RedisBroker:
    client = _UnreachableRedis()


class _Dispatcher(Dispatcher):
    broker = _RedisBroker()


def offline_app(**settings: Any) -> TestClient[Litestar]:
    """The app in-process, on a database and a broker that do not answer (port 1 on the
    loopback interface: nothing listens, a connection is refused at once)."""
    unreachable = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    runtime = Runtime(db=unreachable, dispatcher=_Dispatcher())
    app = create_app(Settings(secret_key="offline-" + "k" * 32, **settings), runtime=runtime)
    return TestClient(app)


def test_readyz_is_503_naming_what_does_not_answer() -> None:
    with offline_app() as client:
        response = client.get("/readyz")
        alive = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {
            "database": "unavailable: OperationalError",
            "broker": "unavailable: ConnectionError",
        },
    }
    assert alive.status_code == 200  # liveness does not depend on the database


def test_log_lines_are_json_with_the_request_id_even_on_worker_threads(
    live: LiveServer, owner: Member
) -> None:
    source = """
flow: unsigned
triggers:
  - { id: in, type: webhook, auth: token, secret: "${{ secrets.NEVER_SET_OPS }}" }
steps:
  - { id: a, set: { x: 1 } }
"""
    publish(live, owner.org_id, source)
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("flowpilot")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with live.client() as client:
            response = client.post(
                f"/hooks/{owner.org_slug}/unsigned/in",
                json={},
                headers={"X-Request-ID": "trace-42", "X-FlowPilot-Token": "t"},
            )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert_problem(response, 503, "webhook_secret_missing")
    entries = [json.loads(line) for line in lines.getvalue().splitlines()]
    mine = [e for e in entries if e.get("request_id") == "trace-42"]
    # The warning is written on a webhook thread, the access line by the server's loop.
    assert {e["logger"] for e in mine} >= {"flowpilot.triggers", "flowpilot.access"}
    access = next(e for e in mine if e["logger"] == "flowpilot.access")
    assert access["status"] == 503 and access["path"] == f"/hooks/{owner.org_slug}/unsigned/in"
    assert {"ts", "level", "message", "method", "duration_ms"} <= access.keys()


def test_cors_and_security_headers_follow_the_settings() -> None:
    origin = {"Origin": "https://app.example.com"}
    preflight = {
        **origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    with offline_app(cors_origins=["https://app.example.com"]) as client:
        allowed = client.options("/api/v1/workflows", headers=preflight)
        simple = client.get("/healthz", headers=origin)
        stranger = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert allowed.status_code in (200, 204)
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert simple.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-origin" not in stranger.headers

    with offline_app() as client:  # the default: no CORS, security headers on
        default = client.get("/healthz", headers=origin)
    assert "access-control-allow-origin" not in default.headers
    assert default.headers["x-frame-options"] == "DENY"

    with offline_app(security_headers=False) as client:  # a proxy sets them instead
        bare = client.get("/healthz")
    assert "x-frame-options" not in bare.headers
    assert "content-security-policy" not in bare.headers
    assert bare.headers["x-request-id"]
