"""Accounts and sessions over real HTTP: register, log in, refresh-token rotation and reuse
detection, log out, ``GET /me``."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa

from flowpilot.server.security import sha256_hex
from flowpilot.store.ids import uuid7
from tests.server.conftest import PASSWORD, LiveServer, Member, assert_problem


def _email() -> str:
    return f"someone-{uuid.uuid4().hex[:10]}@example.com"


def register(live: LiveServer, name: str = "Ada Lovelace", email: str | None = None) -> dict:
    with live.client() as client:
        response = client.post(
            "/api/v1/auth/register",
            json={"email": email or _email(), "password": PASSWORD, "name": name},
        )
    assert response.status_code == 201, response.text
    return response.json()


def refresh(client: httpx.Client, token: str) -> httpx.Response:
    return client.post("/api/v1/auth/refresh", json={"refresh_token": token})


def test_register_creates_user_personal_org_and_a_working_session(live: LiveServer) -> None:
    name = f"Grace Hopper {uuid.uuid4().hex[:6]}"
    body = register(live, name=name)
    assert body["user"]["name"] == name and "password" not in str(body).lower()
    org = body["organization"]
    assert org["role"] == "owner" and org["name"] == name
    assert org["slug"] == name.lower().replace(" ", "-")
    assert body["token_type"] == "bearer" and body["expires_in"] == 900

    # The same name again gets a slug of its own.
    assert register(live, name=name)["organization"]["slug"] == org["slug"] + "-2"

    with live.client(body["access_token"]) as client:
        me = client.get("/api/v1/me").json()
    assert me["user"]["id"] == body["user"]["id"] and me["api_key"] is None
    assert me["organization"]["id"] == org["id"] and me["role"] == "owner"
    assert [o["id"] for o in me["organizations"]] == [org["id"]]
    assert "org:manage" in me["permissions"]
    with live.client(body["access_token"]) as client:
        trail = client.get("/api/v1/audit").json()["items"]
    assert [e["action"] for e in trail] == ["org.created", "user.registered"]


def test_register_refuses_a_taken_email_whatever_its_case(live: LiveServer) -> None:
    email = _email()
    register(live, email=email)
    with live.client() as client:
        response = client.post(
            "/api/v1/auth/register",
            json={"email": email.upper(), "password": PASSWORD, "name": "Twin"},
        )
    body = assert_problem(response, 409, "email_taken")
    assert body["errors"][0]["field"] == "email"


def test_register_checks_password_policy_and_email_format(live: LiveServer) -> None:
    email = _email()
    cases = [
        ({"email": email, "password": "short", "name": "X"}, {"password"}),
        ({"email": email, "password": email.upper(), "name": "X"}, {"password"}),
        ({"email": "not-an-email", "password": "short", "name": "X"}, {"email", "password"}),
        ({"email": email, "password": PASSWORD, "name": "   "}, {"name"}),
    ]
    with live.client() as client:
        for body, fields in cases:
            problem = assert_problem(client.post("/api/v1/auth/register", json=body), 422)
            assert {e["field"] for e in problem["errors"]} == fields, problem
        # Nothing was half-written: the email is still free.
        ok = client.post(
            "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": "X"}
        )
    assert ok.status_code == 201


def test_unknown_and_missing_fields_are_400_naming_the_field(live: LiveServer) -> None:
    with live.client() as client:
        extra = client.post(
            "/api/v1/auth/register",
            json={"email": _email(), "password": PASSWORD, "name": "X", "is_admin": True},
        )
        missing = client.post("/api/v1/auth/login", json={"email": _email()})
    assert assert_problem(extra, 400, "invalid_request")["errors"][0]["field"] == "is_admin"
    assert assert_problem(missing, 400, "invalid_request")["errors"][0]["field"] == "password"


def test_login_picks_the_first_organization_or_the_one_asked_for(
    live: LiveServer, make_member: Callable[..., Member]
) -> None:
    first = make_member("viewer")
    second = make_member("admin")
    with live.db.begin() as conn:  # the first member also joins the second organization
        conn.execute(
            sa.text("INSERT INTO org_members (org_id, user_id, role) VALUES (:o, :u, 'admin')"),
            {"o": second.org_id, "u": first.user_id},
        )
    stranger = make_member()
    with live.client() as client:
        default = client.post(
            "/api/v1/auth/login", json={"email": first.email.upper(), "password": PASSWORD}
        )
        by_slug = client.post(
            "/api/v1/auth/login",
            json={"email": first.email, "password": PASSWORD, "organization": second.org_slug},
        )
        foreign = client.post(
            "/api/v1/auth/login",
            json={"email": first.email, "password": PASSWORD, "organization": stranger.org_slug},
        )
    assert default.status_code == 200 and default.headers["cache-control"] == "no-store"
    assert default.json()["organization"]["id"] == str(first.org_id)
    assert default.json()["organization"]["role"] == "viewer"
    assert by_slug.json()["organization"] == {**by_slug.json()["organization"], "role": "admin"}
    with live.client(by_slug.json()["access_token"]) as client:
        assert client.get("/api/v1/me").json()["organization"]["id"] == str(second.org_id)
    assert_problem(foreign, 404, "not_found")


def test_wrong_password_and_unknown_email_are_the_same_401(live: LiveServer, owner: Member) -> None:
    with live.client() as client:
        wrong = client.post(
            "/api/v1/auth/login", json={"email": owner.email, "password": "wrong password!"}
        )
        unknown = client.post(
            "/api/v1/auth/login", json={"email": _email(), "password": "wrong password!"}
        )
    a, b = assert_problem(wrong, 401, "invalid_credentials"), assert_problem(unknown, 401)
    assert (a["code"], a["detail"]) == (b["code"], b["detail"])
    with live.db.connect() as conn:
        entry = conn.execute(
            sa.text(
                "SELECT actor_type, resource_id, data FROM audit_log "
                "WHERE action = 'auth.login_failed' AND data->>'email' = :e"
            ),
            {"e": owner.email},
        ).one()
    assert entry.actor_type == "anonymous" and entry.resource_id == str(owner.user_id)
    assert "wrong password" not in str(entry.data)


def test_refresh_rotates_and_a_reused_token_revokes_the_whole_family(
    live: LiveServer, owner: Member
) -> None:
    with live.client() as client:
        login = client.post(
            "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
        ).json()
        rotated = refresh(client, login["refresh_token"])
        assert rotated.status_code == 200, rotated.text
        pair = rotated.json()
        assert pair["refresh_token"] != login["refresh_token"]
        assert pair["organization"]["id"] == str(owner.org_id)
        with live.client(pair["access_token"]) as authed:
            assert authed.get("/api/v1/me").status_code == 200

        # Someone presents the first token again: both it and the one rotated from it die.
        assert_problem(refresh(client, login["refresh_token"]), 401, "refresh_token_reused")
        assert_problem(refresh(client, pair["refresh_token"]), 401, "invalid_refresh_token")
    with live.db.connect() as conn:
        live_tokens = conn.execute(
            sa.text(
                "SELECT count(*) FROM refresh_tokens WHERE user_id = :u AND revoked_at IS NULL"
            ),
            {"u": owner.user_id},
        ).scalar_one()
        audited = conn.execute(
            sa.text(
                "SELECT count(*) FROM audit_log WHERE org_id = :o "
                "AND action = 'auth.refresh_token_reused'"
            ),
            {"o": owner.org_id},
        ).scalar_one()
    assert live_tokens == 0 and audited == 1


def test_two_concurrent_refreshes_with_one_token_cannot_both_succeed(
    live: LiveServer, owner: Member
) -> None:
    with live.client() as client:
        token = client.post(
            "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
        ).json()["refresh_token"]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def attempt() -> None:
        with live.client() as client:
            barrier.wait()
            statuses.append(refresh(client, token).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 401]


def test_expired_and_unknown_refresh_tokens_are_refused(live: LiveServer, owner: Member) -> None:
    expired = "expired-" + uuid.uuid4().hex
    with live.db.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO refresh_tokens (id, family_id, user_id, org_id, token_hash, "
                "issued_at, expires_at) VALUES (:id, :f, :u, :o, :h, :issued, :expires)"
            ),
            {
                "id": uuid7(),
                "f": uuid7(),
                "u": owner.user_id,
                "o": owner.org_id,
                "h": sha256_hex(expired),
                "issued": datetime.now(UTC) - timedelta(days=8),
                "expires": datetime.now(UTC) - timedelta(days=1),
            },
        )
    with live.client() as client:
        assert_problem(refresh(client, expired), 401, "refresh_token_expired")
        assert_problem(refresh(client, "never-issued"), 401, "invalid_refresh_token")


def test_logout_ends_the_session(live: LiveServer, owner: Member) -> None:
    with live.client() as client:
        first = client.post(
            "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
        ).json()
        current = refresh(client, first["refresh_token"]).json()
        out = client.post("/api/v1/auth/logout", json={"refresh_token": current["refresh_token"]})
        assert out.status_code == 204 and out.content == b""
        assert_problem(refresh(client, current["refresh_token"]), 401, "invalid_refresh_token")
        # Logging out twice, or with a token nobody issued, reveals nothing.
        again = client.post("/api/v1/auth/logout", json={"refresh_token": "nonsense"})
        assert again.status_code == 204


def test_a_disabled_account_can_neither_log_in_nor_refresh(live: LiveServer, owner: Member) -> None:
    with live.client() as client:
        pair = client.post(
            "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
        ).json()
        with live.db.begin() as conn:
            conn.execute(
                sa.text("UPDATE users SET disabled_at = now() WHERE id = :u"), {"u": owner.user_id}
            )
        login = client.post("/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD})
        assert_problem(login, 401, "invalid_credentials")
        assert_problem(refresh(client, pair["refresh_token"]), 401, "invalid_refresh_token")
    assert_problem(owner.client.get("/api/v1/me"), 401, "invalid_token")


def test_me_needs_a_valid_credential(live: LiveServer) -> None:
    with live.client() as client:
        assert_problem(client.get("/api/v1/me"), 401, "unauthorized")
    with live.client("fp_0123456789ab_forged") as client:
        assert_problem(client.get("/api/v1/me"), 401, "invalid_api_key")
