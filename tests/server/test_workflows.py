"""Workflows over real HTTP: create from either form, read, search, save, trash, validate,
compile, graph, templates, roles and organization isolation. Versions are in test_versions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.server.conftest import LiveServer, Member, assert_problem

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GETTING_STARTED = (EXAMPLES / "getting-started.flow.yaml").read_text()
INVOICE_YAML = (EXAMPLES / "invoice-triage.flow.yaml").read_text()
INVOICE_TEXT = (EXAMPLES / "invoice-triage.flow").read_text()

BROKEN = """flow: broken
steps:
  - id: a
    uses: core.lgo
    with:
      message: hi
  - id: b
    uses: core.log
    with:
      message: ${{ steps.nope.output }}
"""

UNUSED_INPUT = """flow: unused-input
inputs:
  customer: string
steps:
  - id: hello
    uses: core.log
    with:
      message: hello
"""


def create(member: Member, source: str, **fields: object) -> dict:
    response = member.client.post("/api/v1/workflows", json={"source": source, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def audit_actions(live: LiveServer, workflow_id: str) -> list[str]:
    with live.db.connect() as conn:
        return list(
            conn.execute(
                sa.text(
                    "SELECT action FROM audit_log WHERE resource_type = 'workflow' "
                    "AND resource_id = :id ORDER BY id"
                ),
                {"id": workflow_id},
            ).scalars()
        )


# ---------------------------------------------------------------------------- create


def test_create_from_json_returns_the_workflow_and_its_first_version(
    live: LiveServer, owner: Member
) -> None:
    response = owner.client.post(
        "/api/v1/workflows", json={"source": INVOICE_YAML, "message": "first cut"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/api/v1/workflows/{body['id']}"
    assert body["flow_id"] == "invoice-triage"
    assert body["name"] == "Invoice triage"
    assert body["description"].startswith("Extract invoice totals")
    assert body["labels"] == {"team": "finance", "domain": "accounts-payable"}
    assert body["created"] is True and body["published"] is None
    assert body["head"] == body["version"]
    assert body["head"]["number"] == 1 and body["head"]["format"] == "yaml"
    assert body["head"]["message"] == "first cut"
    assert body["head"]["author_id"] == str(owner.user_id)
    assert len(body["head"]["hash"]) == 64 and body["head"]["plan_hash"]
    assert body["warnings"] == [] and body["source"] is None
    assert audit_actions(live, body["id"]) == ["workflow.created"]


def test_create_from_raw_yaml_and_text_bodies(owner: Member) -> None:
    yaml_response = owner.client.post(
        "/api/v1/workflows?message=from%20curl",
        content=GETTING_STARTED,
        headers={"Content-Type": "application/x-yaml"},
    )
    assert yaml_response.status_code == 201, yaml_response.text
    assert yaml_response.json()["head"]["message"] == "from curl"
    text_response = owner.client.post(
        "/api/v1/workflows",
        content=INVOICE_TEXT,
        headers={"Content-Type": "text/x-flowpilot; charset=utf-8"},
    )
    assert text_response.status_code == 201, text_response.text
    text = text_response.json()
    assert text["flow_id"] == "invoice-triage" and text["head"]["format"] == "text"
    source = owner.client.get(f"/api/v1/workflows/{text['id']}", params={"include": "source"})
    assert source.json()["source"] == INVOICE_TEXT


def test_text_form_in_json_is_recognised_without_a_format(owner: Member) -> None:
    body = create(owner, INVOICE_TEXT)
    assert body["head"]["format"] == "text"


def test_flow_with_errors_is_422_with_every_diagnostic(owner: Member) -> None:
    response = owner.client.post("/api/v1/workflows", json={"source": BROKEN})
    problem = assert_problem(response, 422, "flow_has_errors")
    by_code = {d["code"]: d for d in problem["diagnostics"]}
    assert set(by_code) == {"E101", "E201"}
    assert by_code["E101"]["line"] == 4 and by_code["E101"]["column"] == 11
    assert by_code["E101"]["hint"] == "did you mean 'core.log'?"
    assert "unknown step 'nope'" in by_code["E201"]["message"]
    assert owner.client.get("/api/v1/workflows").json()["items"] == []


def test_compile_warnings_come_back_with_the_saved_workflow(owner: Member) -> None:
    body = create(owner, UNUSED_INPUT)
    assert [w["code"] for w in body["warnings"]] == ["W102"]
    assert body["warnings"][0]["severity"] == "warning"


def test_a_flow_id_can_only_be_used_once(owner: Member) -> None:
    first = create(owner, GETTING_STARTED)
    again = owner.client.post("/api/v1/workflows", json={"source": GETTING_STARTED})
    problem = assert_problem(again, 409, "workflow_exists")
    assert problem["workflow_id"] == first["id"]


def test_bad_requests_name_what_is_wrong(owner: Member) -> None:
    client = owner.client
    unknown = client.post("/api/v1/workflows", json={"source": GETTING_STARTED, "colour": "x"})
    assert "colour" in assert_problem(unknown, 400, "invalid_request")["detail"]
    wrong_format = client.post(
        "/api/v1/workflows", json={"source": GETTING_STARTED, "format": "toml"}
    )
    assert assert_problem(wrong_format, 400, "invalid_request")["errors"][0]["field"] == "format"
    unsupported = client.post(
        "/api/v1/workflows", content="<flow/>", headers={"Content-Type": "application/xml"}
    )
    assert_problem(unsupported, 415, "unsupported_media_type")
    malformed = client.post(
        "/api/v1/workflows", content="{not json", headers={"Content-Type": "application/json"}
    )
    assert_problem(malformed, 400)
    nul = client.post("/api/v1/workflows", json={"source": "flow: a\x00"})
    assert_problem(nul, 400, "invalid_request")
    latin1 = client.post(
        "/api/v1/workflows",
        content="flow: caf\xe9\n".encode("latin-1"),
        headers={"Content-Type": "application/x-yaml"},
    )
    assert_problem(latin1, 400, "malformed_body")


def test_creating_the_same_flow_twice_at_once_is_one_201_and_one_409(
    live: LiveServer, owner: Member
) -> None:
    clients = [live.client(owner.token) for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        responses = list(
            pool.map(
                lambda c: c.post("/api/v1/workflows", json={"source": GETTING_STARTED}), clients
            )
        )
    for client in clients:
        client.close()
    assert sorted(r.status_code for r in responses) == [201, 409]
    assert len(owner.client.get("/api/v1/workflows").json()["items"]) == 1


# ---------------------------------------------------------------------------- read and list


def test_get_with_and_without_source(owner: Member) -> None:
    created = create(owner, GETTING_STARTED)
    plain = owner.client.get(f"/api/v1/workflows/{created['id']}").json()
    assert plain["source"] is None and plain["head"]["id"] == created["head"]["id"]
    full = owner.client.get(f"/api/v1/workflows/{created['id']}?include=source").json()
    assert full["source"] == GETTING_STARTED
    missing = owner.client.get(f"/api/v1/workflows/{uuid.uuid4()}")
    assert_problem(missing, 404, "workflow_not_found")


def test_list_searches_filters_and_pages(owner: Member) -> None:
    invoice = create(owner, INVOICE_YAML)
    starter = create(owner, GETTING_STARTED)
    unused = create(owner, UNUSED_INPUT)
    client = owner.client

    def ids(**params: object) -> list[str]:
        response = client.get("/api/v1/workflows", params=params)
        assert response.status_code == 200, response.text
        return [w["id"] for w in response.json()["items"]]

    assert ids() == [unused["id"], starter["id"], invoice["id"]]  # newest first
    assert ids(q="invoi") == [invoice["id"]]  # prefix of a word of the name
    assert ids(q="accounts payable") == []  # labels are filters, not text
    assert ids(q="route approval") == [invoice["id"]]  # words of the description
    assert ids(q="getting-st") == [starter["id"]]  # prefix of the flow id
    assert ids(label="team:finance") == [invoice["id"]]
    assert ids(label=["team:finance", "domain:accounts-payable"]) == [invoice["id"]]
    assert ids(label="team:docs", q="invoice") == []
    assert ids(published="true") == []
    assert len(ids(published="false")) == 3

    first = client.get("/api/v1/workflows", params={"limit": 2}).json()
    assert [w["id"] for w in first["items"]] == [unused["id"], starter["id"]]
    assert all(w["source"] is None for w in first["items"])
    second = client.get(
        "/api/v1/workflows", params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert [w["id"] for w in second["items"]] == [invoice["id"]]
    assert second["next_cursor"] is None

    assert_problem(client.get("/api/v1/workflows?cursor=nonsense"), 400, "invalid_cursor")
    for label in ("finance", "team:fin%00ance"):
        bad_label = assert_problem(client.get(f"/api/v1/workflows?label={label}"), 400)
        assert bad_label["errors"][0]["field"] == "query.label"
    assert_problem(client.get("/api/v1/workflows?limit=0"), 400)


# ---------------------------------------------------------------------------- save


def test_saving_new_source_makes_a_version_and_same_source_does_not(
    live: LiveServer, owner: Member
) -> None:
    created = create(owner, GETTING_STARTED)
    url = f"/api/v1/workflows/{created['id']}"
    changed = GETTING_STARTED.replace("default: world", "default: team")
    saved = owner.client.put(
        url,
        json={
            "source": changed,
            "message": "greet the team",
            "parent_version_id": created["head"]["id"],
        },
    )
    assert saved.status_code == 201, saved.text
    body = saved.json()
    assert body["created"] is True and body["head"]["number"] == 2
    assert body["version"]["message"] == "greet the team"
    same = owner.client.patch(url, json={"source": changed})
    assert same.status_code == 200, same.text
    assert same.json()["created"] is False and same.json()["head"]["number"] == 2
    assert audit_actions(live, created["id"]) == ["workflow.created", "workflow.version_saved"]


def test_saving_on_a_stale_parent_is_409_naming_both_versions(owner: Member) -> None:
    created = create(owner, GETTING_STARTED)
    url = f"/api/v1/workflows/{created['id']}"
    v1 = created["head"]["id"]
    first = owner.client.put(
        url, json={"source": GETTING_STARTED + "# one\n", "parent_version_id": v1}
    )
    assert first.status_code == 201
    v2 = first.json()["head"]["id"]
    late = owner.client.put(
        url, json={"source": GETTING_STARTED + "# two\n", "parent_version_id": v1}
    )
    problem = assert_problem(late, 409, "stale_parent")
    assert problem["your_parent"] == v1 and problem["head_version_id"] == v2
    assert problem["head_number"] == 2 and problem["your_parent_number"] == 1
    assert "you edited version 1" in problem["detail"]
    raw = owner.client.put(
        f"{url}?parent_version_id={v2}&message=raw",
        content=GETTING_STARTED + "# three\n",
        headers={"Content-Type": "application/x-yaml"},
    )
    assert raw.status_code == 201, raw.text
    assert raw.json()["head"]["message"] == "raw" and raw.json()["head"]["number"] == 3


def test_a_version_cannot_change_the_flow_id_or_have_errors(owner: Member) -> None:
    created = create(owner, GETTING_STARTED)
    url = f"/api/v1/workflows/{created['id']}"
    renamed = GETTING_STARTED.replace("flow: getting-started", "flow: something-else")
    assert_problem(owner.client.put(url, json={"source": renamed}), 422, "flow_id_changed")
    broken = GETTING_STARTED.replace("core.log", "core.lgo")
    assert_problem(owner.client.put(url, json={"source": broken}), 422, "flow_has_errors")
    assert owner.client.get(url).json()["head"]["number"] == 1


# ---------------------------------------------------------------------------- trash


def test_delete_moves_to_the_trash_and_restore_brings_back(live: LiveServer, owner: Member) -> None:
    created = create(owner, INVOICE_YAML)
    url = f"/api/v1/workflows/{created['id']}"
    published = owner.client.post(f"{url}/publish", json={"version": "head"})
    assert published.status_code == 200, published.text

    def trigger_count() -> int:
        with live.db.connect() as conn:
            return int(
                conn.execute(
                    sa.text("SELECT count(*) FROM triggers WHERE workflow_id = :w"),
                    {"w": created["id"]},
                ).scalar_one()
            )

    assert trigger_count() == 2
    deleted = owner.client.delete(url)
    assert deleted.status_code == 204 and deleted.content == b""
    assert trigger_count() == 0
    assert_problem(owner.client.get(url), 404, "workflow_not_found")
    assert_problem(owner.client.get(f"{url}/versions"), 404, "workflow_not_found")
    assert owner.client.get("/api/v1/workflows").json()["items"] == []
    trash = owner.client.get("/api/v1/workflows", params={"deleted": "true"}).json()["items"]
    assert [w["id"] for w in trash] == [created["id"]] and trash[0]["deleted_at"]

    restored = owner.client.post(f"{url}/restore")
    assert restored.status_code == 200, restored.text
    assert restored.json()["deleted_at"] is None
    assert trigger_count() == 2  # it was published: its triggers are back
    assert_problem(owner.client.post(f"{url}/restore"), 404, "workflow_not_found")
    assert audit_actions(live, created["id"]) == [
        "workflow.created",
        "workflow.published",
        "workflow.deleted",
        "workflow.restored",
    ]


def test_restore_is_409_when_the_flow_id_was_taken_meanwhile(owner: Member) -> None:
    old = create(owner, GETTING_STARTED)
    assert owner.client.delete(f"/api/v1/workflows/{old['id']}").status_code == 204
    new = create(owner, GETTING_STARTED)
    problem = assert_problem(
        owner.client.post(f"/api/v1/workflows/{old['id']}/restore"), 409, "workflow_exists"
    )
    assert problem["workflow_id"] == new["id"]


# ---------------------------------------------------------------------------- checks and views


def test_validate_reports_diagnostics_and_saves_nothing(owner: Member) -> None:
    client = owner.client
    good = client.post("/api/v1/workflows/validate", json={"source": UNUSED_INPUT}).json()
    assert good["ok"] is True and good["flow_id"] == "unused-input" and good["plan_hash"]
    assert [d["code"] for d in good["diagnostics"]] == ["W102"]
    bad = client.post("/api/v1/workflows/validate", json={"source": BROKEN})
    assert bad.status_code == 200
    assert bad.json()["ok"] is False and bad.json()["plan_hash"] is None
    assert {d["code"] for d in bad.json()["diagnostics"]} == {"E101", "E201"}
    text = client.post(
        "/api/v1/workflows/validate?path=invoices.flow",
        content=INVOICE_TEXT,
        headers={"Content-Type": "text/plain"},
    ).json()
    assert text["ok"] is True and text["flow_id"] == "invoice-triage"
    assert client.get("/api/v1/workflows").json()["items"] == []


def test_compile_returns_the_plan_of_a_version(owner: Member) -> None:
    created = create(owner, INVOICE_YAML)
    url = f"/api/v1/workflows/{created['id']}/compile"
    compiled = owner.client.post(url)
    assert compiled.status_code == 200, compiled.text
    body = compiled.json()
    assert body["plan_hash"] == created["head"]["plan_hash"]
    assert body["version"]["number"] == 1
    assert body["plan"]["flow"]["id"] == "invoice-triage"
    assert body["plan"]["nodes"]["post_to_erp"]["node_type"] == "http.request"
    assert owner.client.post(url, params={"version": "v1"}).json()["plan_hash"] == body["plan_hash"]
    problem = assert_problem(owner.client.post(url, params={"version": "v9"}), 404)
    assert problem["code"] == "version_not_found" and "'v9'" in problem["detail"]


def test_graph_is_the_editor_view_of_a_version(owner: Member) -> None:
    created = create(owner, INVOICE_TEXT)
    response = owner.client.get(f"/api/v1/workflows/{created['id']}/graph")
    assert response.status_code == 200, response.text
    graph = response.json()["graph"]
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert graph["flow"]["id"] == "invoice-triage" and graph["flow"]["syntax"] == "text"
    assert nodes["classify_line"]["parent"] == "lines"  # nested in the foreach
    assert nodes["post_to_erp"]["node_type"] == "http.request"
    assert nodes["fields"]["span"]["line"] > 1
    edges = {(e["source"], e["target"]) for e in graph["edges"]}
    assert ("$start", "text") in edges and ("text", "fields") in edges
    assert response.json()["version"]["number"] == 1


# ---------------------------------------------------------------------------- templates


def test_templates_are_the_examples(owner: Member) -> None:
    listed = owner.client.get("/api/v1/workflow-templates")
    assert listed.status_code == 200, listed.text
    templates = {t["id"]: t for t in listed.json()["items"]}
    invoice = templates["invoice-triage"]
    assert invoice["formats"] == ["yaml", "text"]
    assert invoice["name"] == "Invoice triage" and invoice["labels"]["team"] == "finance"
    assert {"ai.extract", "human.approval", "http.request"} <= set(invoice["node_types"])
    assert invoice["trigger_types"] == ["event", "webhook"]
    assert templates["getting-started"]["formats"] == ["yaml"]
    detail = owner.client.get("/api/v1/workflow-templates/invoice-triage").json()
    assert detail["sources"] == {"yaml": INVOICE_YAML, "text": INVOICE_TEXT}
    assert_problem(owner.client.get("/api/v1/workflow-templates/nope"), 404, "template_not_found")


def test_instantiate_a_template_under_a_new_flow_id(live: LiveServer, owner: Member) -> None:
    url = "/api/v1/workflow-templates/invoice-triage/instantiate"
    plain = owner.client.post(url, json={})
    assert plain.status_code == 201, plain.text
    assert plain.json()["flow_id"] == "invoice-triage"
    again = owner.client.post(url, json={})
    assert_problem(again, 409, "workflow_exists")
    renamed = owner.client.post(
        url, json={"flow_id": "emea-invoices", "name": "EMEA invoices", "format": "text"}
    )
    assert renamed.status_code == 201, renamed.text
    body = renamed.json()
    assert body["flow_id"] == "emea-invoices" and body["name"] == "EMEA invoices"
    assert body["head"]["format"] == "text"
    source = owner.client.get(f"/api/v1/workflows/{body['id']}?include=source").json()["source"]
    assert 'flow emea-invoices {\n  name "EMEA invoices"' in source
    version = owner.client.get(f"/api/v1/workflows/{body['id']}/versions/head").json()
    assert version["origin"] == {"type": "template", "template": "invoice-triage"}
    bad = owner.client.post(url, json={"flow_id": "Not An Id"})
    assert assert_problem(bad, 400)["errors"][0]["field"] == "flow_id"
    assert_problem(owner.client.post("/api/v1/workflow-templates/nope/instantiate", json={}), 404)


def test_templates_say_where_they_looked_when_there_are_none(
    owner: Member, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FLOWPILOT_TEMPLATES_DIR", str(tmp_path / "missing"))
    problem = assert_problem(
        owner.client.get("/api/v1/workflow-templates"), 503, "templates_unavailable"
    )
    assert str(tmp_path / "missing") in problem["detail"]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "hello.flow.yaml").write_text(UNUSED_INPUT)
    monkeypatch.setenv("FLOWPILOT_TEMPLATES_DIR", str(tmp_path / "mine"))
    items = owner.client.get("/api/v1/workflow-templates").json()["items"]
    assert [(t["id"], t["flow_id"]) for t in items] == [("hello", "unused-input")]


# ---------------------------------------------------------------------------- roles, tenancy


def test_a_viewer_reads_but_cannot_change_anything(
    owner: Member, make_member: Callable[..., Member]
) -> None:
    created = create(owner, GETTING_STARTED)
    viewer = make_member("viewer", owner.org_id)
    url = f"/api/v1/workflows/{created['id']}"
    for readable in ("", "/versions", "/versions/1", "/graph", "/tags"):
        assert viewer.client.get(url + readable).status_code == 200, readable
    assert viewer.client.get("/api/v1/workflows").json()["items"][0]["id"] == created["id"]
    assert viewer.client.post(
        "/api/v1/workflows/validate", json={"source": GETTING_STARTED}
    ).json()["ok"]
    attempts = [
        viewer.client.post("/api/v1/workflows", json={"source": INVOICE_YAML}),
        viewer.client.put(url, json={"source": GETTING_STARTED + "#\n"}),
        viewer.client.delete(url),
        viewer.client.post(f"{url}/rollback", json={"to": "1"}),
        viewer.client.put(f"{url}/tags/stable", json={"version": "1"}),
        viewer.client.post(f"{url}/publish", json={"version": "1"}),
        viewer.client.post("/api/v1/workflow-templates/invoice-triage/instantiate", json={}),
    ]
    for response in attempts:
        assert_problem(response, 403, "forbidden")
    member = make_member("member", owner.org_id)
    assert_problem(member.client.delete(url), 403)  # deleting needs a manager
    assert_problem(member.client.post(f"{url}/publish", json={}), 403)
    assert owner.client.get(url).json()["head"]["number"] == 1


def _every_route(workflow_id: str) -> list[tuple[str, str, dict | None]]:
    url = f"/api/v1/workflows/{workflow_id}"
    return [
        ("GET", url, None),
        ("PUT", url, {"source": GETTING_STARTED + "#\n"}),
        ("PATCH", url, {"source": GETTING_STARTED + "#\n"}),
        ("DELETE", url, None),
        ("POST", f"{url}/restore", None),
        ("POST", f"{url}/compile", None),
        ("GET", f"{url}/graph", None),
        ("GET", f"{url}/versions", None),
        ("GET", f"{url}/versions/1", None),
        ("GET", f"{url}/diff?from=1&to=head", None),
        ("POST", f"{url}/rollback", {"to": "1"}),
        ("GET", f"{url}/tags", None),
        ("PUT", f"{url}/tags/stable", {"version": "1"}),
        ("DELETE", f"{url}/tags/stable", None),
        ("POST", f"{url}/publish", {"version": "1"}),
        ("POST", f"{url}/unpublish", None),
    ]


@pytest.mark.parametrize("deleted", [False, True])
def test_another_organization_gets_404_on_every_route(
    owner: Member, make_member: Callable[..., Member], deleted: bool
) -> None:
    created = create(owner, GETTING_STARTED)
    owner.client.put(f"/api/v1/workflows/{created['id']}/tags/stable", json={"version": "1"})
    if deleted:
        owner.client.delete(f"/api/v1/workflows/{created['id']}")
    stranger = make_member("owner")
    for method, url, body in _every_route(created["id"]):
        response = stranger.client.request(method, url, json=body)
        assert_problem(response, 404)
    assert stranger.client.get("/api/v1/workflows", params={"deleted": deleted}).json() == {
        "items": [],
        "next_cursor": None,
    }
    assert_unchanged(owner.client, created, deleted)


def assert_unchanged(client: httpx.Client, created: dict, deleted: bool) -> None:
    listed = client.get("/api/v1/workflows", params={"deleted": deleted}).json()["items"]
    assert [w["head"]["number"] for w in listed] == [1]
    assert listed[0]["published"] is None
