"""Organizations, members and roles, switching, API keys, the audit trail, and isolation
between organizations, over real HTTP."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import sqlalchemy as sa

from flowpilot.server.security import PERMISSIONS, Role
from tests.server.conftest import LiveServer, Member, assert_problem

MakeMember = Callable[..., Member]


def _slug() -> str:
    return f"team-{uuid.uuid4().hex[:10]}"


def _api_key(member: Member, **body: object) -> httpx.Response:
    return member.client.post("/api/v1/api-keys", json={"name": "ci", "role": "member", **body})


def _members(member: Member, org_id: object) -> dict[str, str]:
    """user id → role, as ``member`` lists them."""
    response = member.client.get(f"/api/v1/orgs/{org_id}/members")
    assert response.status_code == 200, response.text
    return {m["user_id"]: m["role"] for m in response.json()["items"]}


# ---------------------------------------------------------------------------- organizations


def test_create_an_organization_and_list_mine_with_roles(owner: Member) -> None:
    slug = _slug()
    created = owner.client.post("/api/v1/orgs", json={"name": "Research", "slug": slug})
    assert created.status_code == 201, created.text
    org = created.json()
    assert org["slug"] == slug and org["role"] == "owner"
    assert created.headers["location"] == f"/api/v1/orgs/{org['id']}"

    derived = owner.client.post("/api/v1/orgs", json={"name": "Research & Development"}).json()
    assert derived["slug"].startswith("research-development")

    listed = owner.client.get("/api/v1/orgs").json()
    assert [(o["id"], o["role"]) for o in listed["items"]] == [
        (str(owner.org_id), "owner"),
        (org["id"], "owner"),
        (derived["id"], "owner"),
    ]
    page = owner.client.get("/api/v1/orgs", params={"limit": 2}).json()
    rest = owner.client.get("/api/v1/orgs", params={"cursor": page["next_cursor"]}).json()
    assert [o["id"] for o in page["items"] + rest["items"]] == [o["id"] for o in listed["items"]]
    assert rest["next_cursor"] is None
    assert owner.client.get(f"/api/v1/orgs/{org['id']}").json() == org


def test_slugs_are_validated_and_unique(owner: Member) -> None:
    bad = owner.client.post("/api/v1/orgs", json={"name": "X", "slug": "Not A Slug"})
    assert assert_problem(bad, 400, "invalid_request")["errors"][0]["field"] == "slug"
    taken = owner.client.post("/api/v1/orgs", json={"name": "X", "slug": owner.org_slug})
    assert_problem(taken, 409, "slug_taken")
    id_like = owner.client.post("/api/v1/orgs", json={"name": "X", "slug": str(uuid.uuid4())})
    assert assert_problem(id_like, 422)["errors"][0]["field"] == "slug"
    blank = owner.client.post("/api/v1/orgs", json={"name": "  "})
    assert assert_problem(blank, 422)["errors"][0]["field"] == "name"


def test_renaming_needs_org_manage_in_that_organization(
    owner: Member, make_member: MakeMember
) -> None:
    admin = make_member("admin", owner.org_id)
    renamed = owner.client.patch(f"/api/v1/orgs/{owner.org_id}", json={"name": "Renamed"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Renamed"
    assert renamed.json()["slug"] == owner.org_slug
    denied = admin.client.patch(f"/api/v1/orgs/{owner.org_id}", json={"name": "Mine"})
    assert assert_problem(denied, 403, "forbidden")["permission"] == "org:manage"
    frozen = owner.client.patch(f"/api/v1/orgs/{owner.org_id}", json={"slug": "new-slug"})
    assert assert_problem(frozen, 400, "invalid_request")["errors"][0]["field"] == "slug"


def test_switching_issues_tokens_for_that_organization(
    live: LiveServer, owner: Member, make_member: MakeMember
) -> None:
    other = owner.client.post("/api/v1/orgs", json={"name": "Other"}).json()
    switched = owner.client.post(f"/api/v1/orgs/{other['id']}/switch")
    assert switched.status_code == 200, switched.text
    pair = switched.json()
    assert pair["organization"]["id"] == other["id"] and pair["refresh_token"]
    with live.client(pair["access_token"]) as client:
        me = client.get("/api/v1/me").json()
        refreshed = client.post(
            "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        ).json()
    assert me["organization"]["id"] == other["id"] and len(me["organizations"]) == 2
    assert refreshed["organization"]["id"] == other["id"]

    stranger = make_member()
    assert_problem(stranger.client.post(f"/api/v1/orgs/{other['id']}/switch"), 404, "not_found")


# ---------------------------------------------------------------------------- members


def test_admins_add_registered_users_by_email(owner: Member, make_member: MakeMember) -> None:
    admin = make_member("admin", owner.org_id)
    viewer = make_member("viewer", owner.org_id)
    newcomer = make_member()  # registered, in an organization of their own

    assert set(_members(viewer, owner.org_id)) == {
        str(owner.user_id),
        str(admin.user_id),
        str(viewer.user_id),
    }
    denied = viewer.client.post(
        f"/api/v1/orgs/{owner.org_id}/members", json={"email": newcomer.email}
    )
    assert assert_problem(denied, 403)["permission"] == "members:manage"

    added = admin.client.post(
        f"/api/v1/orgs/{owner.org_id}/members",
        json={"email": newcomer.email.upper(), "role": "manager"},
    )
    assert added.status_code == 201, added.text
    assert added.json()["user_id"] == str(newcomer.user_id) and added.json()["role"] == "manager"
    again = admin.client.post(
        f"/api/v1/orgs/{owner.org_id}/members", json={"email": newcomer.email}
    )
    assert_problem(again, 409, "already_member")
    unknown = admin.client.post(
        f"/api/v1/orgs/{owner.org_id}/members", json={"email": "nobody@example.com"}
    )
    assert assert_problem(unknown, 422, "unknown_user")["errors"][0]["field"] == "email"

    page = viewer.client.get(f"/api/v1/orgs/{owner.org_id}/members", params={"limit": 3})
    rest = viewer.client.get(
        f"/api/v1/orgs/{owner.org_id}/members", params={"cursor": page.json()["next_cursor"]}
    )
    assert [m["user_id"] for m in rest.json()["items"]] == [str(newcomer.user_id)]

    # The newcomer now sees both organizations, with their role in each.
    roles = {o["id"]: o["role"] for o in newcomer.client.get("/api/v1/orgs").json()["items"]}
    assert roles == {str(newcomer.org_id): "owner", str(owner.org_id): "manager"}


def test_nobody_grants_a_role_above_their_own(owner: Member, make_member: MakeMember) -> None:
    admin = make_member("admin", owner.org_id)
    member = make_member("member", owner.org_id)
    base = f"/api/v1/orgs/{owner.org_id}/members"

    make_owner = admin.client.patch(f"{base}/{member.user_id}", json={"role": "owner"})
    assert assert_problem(make_owner, 403, "role_too_high")["role"] == "owner"
    demote_owner = admin.client.patch(f"{base}/{owner.user_id}", json={"role": "viewer"})
    assert_problem(demote_owner, 403, "role_too_high")
    assert_problem(admin.client.delete(f"{base}/{owner.user_id}"), 403, "role_too_high")

    promoted = admin.client.patch(f"{base}/{member.user_id}", json={"role": "admin"})
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    made_owner = owner.client.patch(f"{base}/{member.user_id}", json={"role": "owner"})
    assert made_owner.json()["role"] == "owner"
    assert_problem(admin.client.patch(f"{base}/{uuid.uuid4()}", json={"role": "viewer"}), 404)


def test_the_last_owner_can_be_neither_demoted_nor_removed(
    owner: Member, make_member: MakeMember
) -> None:
    base = f"/api/v1/orgs/{owner.org_id}/members/{owner.user_id}"
    assert_problem(owner.client.patch(base, json={"role": "admin"}), 409, "last_owner")
    assert_problem(owner.client.delete(base), 409, "last_owner")

    second = make_member("owner", owner.org_id)
    demoted = owner.client.patch(base, json={"role": "admin"})
    assert demoted.status_code == 200 and demoted.json()["role"] == "admin"
    assert_problem(
        second.client.delete(f"/api/v1/orgs/{owner.org_id}/members/{second.user_id}"),
        409,
        "last_owner",
    )


def test_two_owners_demoting_each_other_at_once_leave_one_owner(
    live: LiveServer, owner: Member, make_member: MakeMember
) -> None:
    second = make_member("owner", owner.org_id)
    base = f"/api/v1/orgs/{owner.org_id}/members"
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def demote(actor: Member, target: Member) -> None:
        barrier.wait()
        response = actor.client.patch(f"{base}/{target.user_id}", json={"role": "admin"})
        statuses.append(response.status_code)

    threads = [
        threading.Thread(target=demote, args=(owner, second)),
        threading.Thread(target=demote, args=(second, owner)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) in ([200, 403], [200, 409])
    with live.db.connect() as conn:
        owners = conn.execute(
            sa.text("SELECT count(*) FROM org_members WHERE org_id = :o AND role = 'owner'"),
            {"o": owner.org_id},
        ).scalar_one()
    assert owners == 1


def test_a_removed_member_loses_access_at_once_and_anyone_may_leave(
    owner: Member, make_member: MakeMember
) -> None:
    admin = make_member("admin", owner.org_id)
    viewer = make_member("viewer", owner.org_id)
    assert admin.client.get("/api/v1/api-keys").status_code == 200

    removed = owner.client.delete(f"/api/v1/orgs/{owner.org_id}/members/{admin.user_id}")
    assert removed.status_code == 204
    assert_problem(admin.client.get("/api/v1/api-keys"), 403, "no_organization")
    assert_problem(admin.client.get(f"/api/v1/orgs/{owner.org_id}"), 404)

    left = viewer.client.delete(f"/api/v1/orgs/{owner.org_id}/members/{viewer.user_id}")
    assert left.status_code == 204
    assert set(_members(owner, owner.org_id)) == {str(owner.user_id)}


# ---------------------------------------------------------------------------- API keys


def test_api_key_is_shown_once_works_and_stops_when_revoked(
    live: LiveServer, owner: Member
) -> None:
    created = _api_key(owner, name="deploy bot", role="admin", expires_in_days=30)
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    key = created.json()
    assert key["key"].startswith(f"fp_{key['prefix']}_") and key["expires_at"]

    with live.client(key["key"]) as bot:
        me = bot.get("/api/v1/me").json()
        assert me["user"] is None and me["api_key"]["id"] == key["id"]
        assert me["role"] == "admin" and me["organization"]["id"] == str(owner.org_id)
        assert [o["id"] for o in bot.get("/api/v1/orgs").json()["items"]] == [str(owner.org_id)]
        assert_problem(bot.post("/api/v1/orgs", json={"name": "Bot org"}), 403, "user_only")

        listed = owner.client.get("/api/v1/api-keys").json()["items"]
        assert [k["id"] for k in listed] == [key["id"]]
        assert "key" not in listed[0] and listed[0]["last_used_at"] is not None

        assert owner.client.delete(f"/api/v1/api-keys/{key['id']}").status_code == 204
        assert_problem(bot.get("/api/v1/me"), 401, "invalid_api_key")
    assert owner.client.get("/api/v1/api-keys").json()["items"][0]["revoked_at"] is not None
    # X-API-Key works too, and an expired key is refused like a revoked one.
    other = _api_key(owner).json()
    with httpx.Client(base_url=live.url, headers={"X-API-Key": other["key"]}) as bot:
        assert bot.get("/api/v1/me").status_code == 200
        with live.db.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = :id"
                ),
                {"id": other["id"]},
            )
        assert_problem(bot.get("/api/v1/me"), 401, "invalid_api_key")


def test_api_key_role_and_scopes_are_checked(make_member: MakeMember, owner: Member) -> None:
    admin = make_member("admin", owner.org_id)
    manager = make_member("manager", owner.org_id)

    assert_problem(_api_key(manager), 403)  # managers do not manage keys
    too_high = _api_key(admin, role="owner")
    assert assert_problem(too_high, 400, "invalid_request")["errors"][0]["field"] == "role"
    assert _api_key(admin, role="admin").status_code == 201

    scoped = _api_key(admin, role="viewer", scopes=["workflows:read", "nope", "workflows:write"])
    problem = assert_problem(scoped, 422)
    assert {e["field"] for e in problem["errors"]} == {"scopes.1", "scopes.2"}
    ok = _api_key(admin, role="viewer", scopes=["workflows:read", "workflows:read"])
    assert ok.json()["scopes"] == ["workflows:read"]


def test_a_key_manages_keys_and_members_only_if_its_role_and_scopes_allow(
    live: LiveServer, owner: Member, make_member: MakeMember
) -> None:
    outsider = make_member()
    member_key = _api_key(owner, role="member").json()["key"]
    admin_key = _api_key(owner, role="admin", scopes=["api_keys:manage"]).json()["key"]
    full_key = _api_key(owner, role="admin").json()["key"]
    members = f"/api/v1/orgs/{owner.org_id}/members"

    with live.client(member_key) as client:
        assert_problem(client.get("/api/v1/api-keys"), 403, "forbidden")
        assert_problem(client.post(members, json={"email": outsider.email}), 403)
    with live.client(admin_key) as client:
        assert client.get("/api/v1/api-keys").status_code == 200
        assert_problem(client.post(members, json={"email": outsider.email}), 403)
        unscoped = client.post("/api/v1/api-keys", json={"name": "x", "role": "viewer"})
        assert assert_problem(unscoped, 422)["errors"][0]["field"] == "scopes"
    with live.client(full_key) as client:
        added = client.post(members, json={"email": outsider.email, "role": "admin"})
        assert added.status_code == 201, added.text
        assert_problem(client.post(members, json={"email": owner.email, "role": "owner"}), 403)


# ---------------------------------------------------------------------------- isolation


def test_another_organization_sees_nothing_of_mine(owner: Member, make_member: MakeMember) -> None:
    key = _api_key(owner).json()
    stranger = make_member("owner")
    mine = f"/api/v1/orgs/{owner.org_id}"
    for response in (
        stranger.client.get(mine),
        stranger.client.patch(mine, json={"name": "Taken over"}),
        stranger.client.get(f"{mine}/members"),
        stranger.client.post(f"{mine}/members", json={"email": stranger.email}),
        stranger.client.patch(f"{mine}/members/{owner.user_id}", json={"role": "viewer"}),
        stranger.client.delete(f"{mine}/members/{owner.user_id}"),
        stranger.client.delete(f"/api/v1/api-keys/{key['id']}"),
        stranger.client.get(f"/api/v1/orgs/{uuid.uuid4()}"),
    ):
        assert_problem(response, 404, "not_found")
    assert stranger.client.get("/api/v1/api-keys").json()["items"] == []
    assert stranger.client.get("/api/v1/audit").json()["items"] == []
    assert owner.client.get("/api/v1/api-keys").json()["items"][0]["revoked_at"] is None


# ---------------------------------------------------------------------------- audit


def test_audit_trail_lists_mutations_newest_first_with_filters(
    owner: Member, make_member: MakeMember
) -> None:
    viewer = make_member("viewer", owner.org_id)
    newcomer = make_member()
    owner.client.patch(f"/api/v1/orgs/{owner.org_id}", json={"name": "Audited"})
    owner.client.post(f"/api/v1/orgs/{owner.org_id}/members", json={"email": newcomer.email})
    owner.client.patch(
        f"/api/v1/orgs/{owner.org_id}/members/{newcomer.user_id}", json={"role": "viewer"}
    )
    key = _api_key(owner).json()
    owner.client.delete(f"/api/v1/api-keys/{key['id']}")

    entries = owner.client.get("/api/v1/audit").json()["items"]
    assert [e["action"] for e in entries] == [
        "api_key.revoked",
        "api_key.created",
        "member.role_changed",
        "member.added",
        "org.updated",
    ]
    assert entries[0]["actor_type"] == "user" and entries[0]["actor_id"] == str(owner.user_id)
    assert key["key"] not in str(entries) and all(e["request_id"] for e in entries)

    members_only = owner.client.get("/api/v1/audit", params={"action": "member."}).json()
    assert [e["action"] for e in members_only["items"]] == ["member.role_changed", "member.added"]
    by_key = owner.client.get(
        "/api/v1/audit", params={"resource_type": "api_key", "resource_id": key["id"], "limit": 1}
    ).json()
    assert [e["action"] for e in by_key["items"]] == ["api_key.revoked"]
    older = owner.client.get(
        "/api/v1/audit",
        params={"resource_type": "api_key", "limit": 1, "cursor": by_key["next_cursor"]},
    ).json()
    assert [e["action"] for e in older["items"]] == ["api_key.created"]

    assert_problem(viewer.client.get("/api/v1/audit"), 403, "forbidden")
    assert_problem(owner.client.get("/api/v1/audit", params={"cursor": "garbage"}), 400)
    assert_problem(owner.client.get("/api/v1/audit", params={"limit": 0}), 400)


# ---------------------------------------------------------------------------- docs


def roles_table() -> str:
    """The roles table of docs/auth.md, generated from the permissions the server enforces."""
    roles = sorted(Role, reverse=True)
    lines = [
        "| permission | " + " | ".join(r.name for r in roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for name, lowest in PERMISSIONS.items():
        marks = " | ".join("✓" if role >= lowest else "" for role in roles)
        lines.append(f"| `{name}` | {marks} |")
    return "\n".join(lines)


def test_the_documented_roles_table_is_the_enforced_one() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "auth.md").read_text()
    section = doc.split("<!-- roles-table", 1)[1].split("\n<!-- /roles-table -->", 1)[0]
    documented = section.split("-->\n", 1)[1]
    assert documented == roles_table(), "regenerate the table:\n" + roles_table()
