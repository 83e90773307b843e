"""Git-like versions over real HTTP: history, refs, diffs, rollback, tags and publishing."""

from __future__ import annotations

import uuid
from pathlib import Path

import sqlalchemy as sa

from flowpilot.server.pagination import encode_cursor
from tests.server.conftest import LiveServer, Member, assert_problem

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GETTING_STARTED = (EXAMPLES / "getting-started.flow.yaml").read_text()
INVOICE_YAML = (EXAMPLES / "invoice-triage.flow.yaml").read_text()
INVOICE_TEXT = (EXAMPLES / "invoice-triage.flow").read_text()


def create(member: Member, source: str) -> tuple[str, dict]:
    response = member.client.post("/api/v1/workflows", json={"source": source, "message": "v1"})
    assert response.status_code == 201, response.text
    body = response.json()
    return f"/api/v1/workflows/{body['id']}", body


def save(member: Member, url: str, source: str, message: str = "") -> dict:
    response = member.client.put(url, json={"source": source, "message": message})
    assert response.status_code == 201, response.text
    return response.json()["version"]


def with_history(member: Member) -> tuple[str, list[dict]]:
    """getting-started in three versions: v1 as written, v2 greets the team, v3 adds a step."""
    url, body = create(member, GETTING_STARTED)
    v2_source = GETTING_STARTED.replace("default: world", "default: team")
    v3_source = v2_source.replace(
        "  - id: breathe\n",
        "  - id: cheer\n    uses: core.log\n    with:\n      message: hooray\n  - id: breathe\n",
    )
    v2 = save(member, url, v2_source, "greet the team")
    v3 = save(member, url, v3_source, "cheer")
    return url, [body["version"], v2, v3]


# ---------------------------------------------------------------------------- history and refs


def test_history_is_newest_first_with_parents_authors_and_pages(owner: Member) -> None:
    url, (v1, v2, _) = with_history(owner)
    history = owner.client.get(f"{url}/versions")
    assert history.status_code == 200, history.text
    items = history.json()["items"]
    assert [v["number"] for v in items] == [3, 2, 1]
    assert [v["parent_id"] for v in items] == [v2["id"], v1["id"], None]
    assert [v["message"] for v in items] == ["cheer", "greet the team", "v1"]
    assert items[0]["head"] is True and items[1]["head"] is False
    assert all(v["author_id"] == str(owner.user_id) and v["author_name"] for v in items)
    assert all(v["published"] is False and v["tags"] == [] for v in items)
    assert "source" not in items[0]

    page = owner.client.get(f"{url}/versions", params={"limit": 2}).json()
    assert [v["number"] for v in page["items"]] == [3, 2]
    rest = owner.client.get(
        f"{url}/versions", params={"limit": 2, "cursor": page["next_cursor"]}
    ).json()
    assert [v["number"] for v in rest["items"]] == [1] and rest["next_cursor"] is None
    for cursor in (encode_cursor(10**12), encode_cursor("x"), "garbage"):
        response = owner.client.get(f"{url}/versions", params={"cursor": cursor})
        assert_problem(response, 400, "invalid_cursor")


def test_a_version_is_found_by_every_kind_of_ref(owner: Member) -> None:
    url, (v1, v2, v3) = with_history(owner)
    owner.client.put(f"{url}/tags/stable", json={"version": "2"})
    owner.client.post(f"{url}/publish", json={"version": "v1"})
    refs = {
        "1": 1,
        "v2": 2,
        "V3": 3,
        v2["id"]: 2,
        "stable": 2,
        v1["hash"][:7]: 1,
        v3["hash"]: 3,
        "head": 3,
        "latest": 3,
        "published": 1,
    }
    for ref, number in refs.items():
        response = owner.client.get(f"{url}/versions/{ref}")
        assert response.status_code == 200, (ref, response.text)
        assert response.json()["number"] == number, ref
    detail = owner.client.get(f"{url}/versions/stable").json()
    assert detail["tags"] == ["stable"] and detail["source"].count("default: team") == 1
    for missing in ("9", "v0", "nope", v1["hash"][:6], str(uuid.uuid4()), "9" * 30, "a%00b"):
        problem = assert_problem(owner.client.get(f"{url}/versions/{missing}"), 404)
        assert problem["code"] == "version_not_found"
        assert repr(missing.replace("%00", "\x00")) in problem["detail"]


# ---------------------------------------------------------------------------- diff


def test_diff_shows_the_source_and_the_steps_that_changed(owner: Member) -> None:
    url, _ = with_history(owner)
    response = owner.client.get(f"{url}/diff", params={"from": "1", "to": "3"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["from_version"]["number"] == 1 and body["to_version"]["number"] == 3
    assert body["identical"] is False
    assert "-    default: world\n+    default: team\n" in body["unified"]
    assert body["unified"].startswith("--- v1\n+++ v3\n")
    assert body["steps"]["added"] == [{"id": "cheer", "kind": "uses", "parent": "$main"}]
    assert body["steps"]["removed"] == [] and body["steps"]["changed"] == []
    assert body["inputs"] == {"added": [], "removed": [], "changed": ["who"]}
    back = owner.client.get(f"{url}/diff", params={"from": "head", "to": "v1"}).json()
    assert [s["id"] for s in back["steps"]["removed"]] == ["cheer"]
    default = owner.client.get(f"{url}/diff").json()  # head against its parent
    assert (default["from_version"]["number"], default["to_version"]["number"]) == (2, 3)
    first = owner.client.get(f"{url}/diff", params={"to": "1"})
    assert assert_problem(first, 400)["errors"][0]["field"] == "query.from"
    missing = assert_problem(owner.client.get(f"{url}/diff", params={"from": "v7"}), 404)
    assert missing["errors"][0]["field"] == "query.from"


def test_diff_finds_changes_in_nested_steps_and_settings(owner: Member) -> None:
    url, _ = create(owner, INVOICE_YAML)
    edited = (
        INVOICE_YAML.replace("max_attempts: 5", "max_attempts: 7")  # in a try body
        .replace('channel: "#finance-alerts"', 'channel: "#ap-alerts"')  # in a catch
        .replace("concurrency: 4", "concurrency: 2")  # a foreach setting
        .replace("timeout: 4d", "timeout: 5d")
        .replace("    path: invoices\n", "    path: inbound-invoices\n")
    )
    save(owner, url, edited, "tune")
    body = owner.client.get(f"{url}/diff").json()
    changed = {c["id"]: c for c in body["steps"]["changed"]}
    assert set(changed) == {"post_to_erp", "erp_failed", "lines"}
    assert changed["post_to_erp"]["fields"] == ["retry.max_attempts"]
    assert changed["post_to_erp"]["before"] == {"retry.max_attempts": 5}
    assert changed["post_to_erp"]["after"] == {"retry.max_attempts": 7}
    assert changed["erp_failed"]["fields"] == ["args.channel"]
    assert changed["lines"]["fields"] == ["concurrency"]
    assert body["triggers"] == {"added": [], "removed": [], "changed": ["inbound"]}
    assert body["settings"] == ["timeout_ms"]


def test_moved_and_reordered_steps_show_in_the_diff(owner: Member) -> None:
    url, _ = create(owner, GETTING_STARTED)
    greet = "  - id: greet\n    uses: core.log\n    with:\n      message: Hello {{ inputs.who }}!\n"
    assert greet in GETTING_STARTED
    # greet moves to the end (a reorder), then into the foreach body (a move).
    reordered = GETTING_STARTED.replace(greet, "").replace("\noutputs:", greet + "\noutputs:")
    save(owner, url, reordered, "greet last")
    assert owner.client.get(f"{url}/diff").json()["settings"] == ["steps"]
    nested = greet.replace("\n  ", "\n      ").replace("  - id: greet", "      - id: greet")
    moved = GETTING_STARTED.replace(greet, "").replace(
        "    steps:\n      - id: add\n", "    steps:\n" + nested + "      - id: add\n"
    )
    save(owner, url, moved, "greet each number")
    body = owner.client.get(f"{url}/diff", params={"from": "1"}).json()
    changed = {c["id"]: c for c in body["steps"]["changed"]}
    assert changed["greet"]["fields"] == ["parent"]
    assert changed["greet"]["after"] == {"parent": "add_up/body"}
    assert changed["add_up"]["fields"] == ["body"]
    assert changed["add_up"]["after"] == {"body": ["greet", "add"]}


def test_the_text_twin_of_a_flow_has_no_structural_difference(owner: Member) -> None:
    url, _ = create(owner, INVOICE_YAML)
    save(owner, url, INVOICE_TEXT, "same flow, text form")
    body = owner.client.get(f"{url}/diff").json()
    assert body["unified"] and body["identical"] is False
    assert body["steps"] == {"added": [], "removed": [], "changed": []}
    assert body["settings"] == [] and body["inputs"]["changed"] == []
    assert body["to_version"]["format"] == "text"


# ---------------------------------------------------------------------------- rollback


def test_rollback_saves_the_old_content_as_a_new_version(live: LiveServer, owner: Member) -> None:
    url, (v1, _, _) = with_history(owner)
    response = owner.client.post(f"{url}/rollback", json={"to": "v1"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["created"] is True and body["head"]["number"] == 4
    assert response.headers["location"] == f"{url}/versions/4"
    assert body["head"]["hash"] == v1["hash"]
    assert body["head"]["message"] == "Roll back to version 1"
    detail = owner.client.get(f"{url}/versions/4").json()
    assert detail["source"] == GETTING_STARTED
    assert detail["origin"] == {"type": "rollback", "version_id": v1["id"], "number": 1}
    again = owner.client.post(f"{url}/rollback", json={"to": "1", "message": "again"})
    assert again.status_code == 200 and again.json()["created"] is False
    problem = assert_problem(owner.client.post(f"{url}/rollback", json={"to": "v8"}), 404)
    assert problem["errors"][0]["field"] == "to"
    assert_problem(owner.client.post(f"{url}/rollback", json={"to": "1", "x": 1}), 400)
    with live.db.connect() as conn:
        actions = conn.execute(
            sa.text("SELECT action FROM audit_log WHERE resource_id = :id ORDER BY id"),
            {"id": url.rsplit("/", 1)[1]},
        ).scalars()
        assert list(actions)[-1] == "workflow.rolled_back"


# ---------------------------------------------------------------------------- tags


def test_tags_are_set_moved_listed_and_removed(owner: Member) -> None:
    url, (v1, v2, _) = with_history(owner)
    created = owner.client.put(f"{url}/tags/release-1.0", json={"version": "1"})
    assert created.status_code == 201, created.text
    assert created.json()["version"]["id"] == v1["id"]
    moved = owner.client.put(f"{url}/tags/release-1.0", json={"version": "v2"})
    assert moved.status_code == 200 and moved.json()["version"]["id"] == v2["id"]
    owner.client.put(f"{url}/tags/candidate", json={"version": "release-1.0"})
    tags = owner.client.get(f"{url}/tags").json()["items"]
    assert [(t["name"], t["version"]["number"]) for t in tags] == [
        ("candidate", 2),
        ("release-1.0", 2),
    ]
    versions = owner.client.get(f"{url}/versions").json()["items"]
    assert versions[1]["tags"] == ["candidate", "release-1.0"]
    assert owner.client.delete(f"{url}/tags/candidate").status_code == 204
    assert_problem(owner.client.delete(f"{url}/tags/candidate"), 404, "tag_not_found")
    assert_problem(owner.client.get(f"{url}/versions/candidate"), 404, "version_not_found")
    missing = owner.client.put(f"{url}/tags/later", json={"version": "v9"})
    assert_problem(missing, 404, "version_not_found")


def test_tag_names_that_read_as_other_refs_are_refused(owner: Member) -> None:
    url, _ = create(owner, GETTING_STARTED)
    for name in ("v2", "head", "published", "deadbeef1", "1.0", "-x", "a" * 64, "a%00"):
        response = owner.client.put(f"{url}/tags/{name}", json={"version": "1"})
        problem = assert_problem(response, 400, "invalid_tag_name")
        assert problem["errors"][0]["field"] == "path.name", name
    assert_problem(owner.client.delete(f"{url}/tags/a%00"), 400, "invalid_tag_name")


# ---------------------------------------------------------------------------- publishing


def _triggers(live: LiveServer, workflow_id: str) -> list[tuple[str, str, str | None]]:
    with live.db.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                sa.text(
                    "SELECT t.trigger_id, t.type, t.route FROM triggers t "
                    "WHERE t.workflow_id = :w ORDER BY t.trigger_id"
                ),
                {"w": workflow_id},
            )
        ]


def test_publish_chooses_the_version_triggers_run(live: LiveServer, owner: Member) -> None:
    url, created = create(owner, INVOICE_YAML)
    save(owner, url, INVOICE_YAML.replace("timeout: 4d", "timeout: 5d"), "v2")
    response = owner.client.post(f"{url}/publish", json={"version": "1"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["workflow"]["published"]["number"] == 1
    assert body["workflow"]["head"]["number"] == 2
    by_id = {t["id"]: t for t in body["triggers"]}
    route = f"{owner.org_slug}/invoice-triage/invoices"
    assert by_id["inbound"] == {
        "id": "inbound",
        "type": "webhook",
        "route": route,
        "url_path": f"/hooks/{route}",
        "next_fire_at": None,
    }
    assert by_id["on-upload"]["route"] == "document.uploaded"
    assert _triggers(live, created["id"]) == [
        ("inbound", "webhook", route),
        ("on-upload", "event", "document.uploaded"),
    ]
    versions = owner.client.get(f"{url}/versions").json()["items"]
    assert [v["published"] for v in versions] == [False, True]
    listed = owner.client.get("/api/v1/workflows", params={"published": "true"}).json()
    assert [w["id"] for w in listed["items"]] == [created["id"]]

    unpublished = owner.client.post(f"{url}/unpublish")
    assert unpublished.status_code == 200 and unpublished.json()["published"] is None
    assert _triggers(live, created["id"]) == []
    assert_problem(owner.client.get(f"{url}/versions/published"), 404, "version_not_found")
    assert_problem(owner.client.post(f"{url}/publish", json={"version": "v5"}), 404)


def test_a_webhook_path_taken_by_another_workflow_is_409_and_changes_nothing(
    live: LiveServer, owner: Member
) -> None:
    url, created = create(owner, INVOICE_YAML)
    other_url, other = create(owner, INVOICE_YAML.replace("flow: invoice-triage", "flow: other"))
    assert owner.client.post(f"{other_url}/publish", json={}).status_code == 200
    wanted = f"{owner.org_slug}/invoice-triage/invoices"
    with live.db.begin() as conn:  # as if the other workflow had claimed this route
        conn.execute(
            sa.text("UPDATE triggers SET route = :r WHERE workflow_id = :w AND type = 'webhook'"),
            {"r": wanted, "w": other["id"]},
        )
    response = owner.client.post(f"{url}/publish", json={"version": "head"})
    problem = assert_problem(response, 409, "webhook_path_taken")
    assert "'other'" in problem["detail"]
    assert owner.client.get(url).json()["published"] is None
    assert _triggers(live, created["id"]) == []
