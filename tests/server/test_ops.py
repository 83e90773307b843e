"""Health, readiness, request ids, security headers and problem details for unknown routes."""

from __future__ import annotations

from tests.server.conftest import LiveServer, Member, assert_problem


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
