"""GitOps end to end: real git repositories written with dulwich, synced to the live server by
the real ``flowpilot sync`` and ``flowpilot export`` commands and through the API, including
registered repositories fetched by the server and the push webhooks of GitHub, GitLab and
Gitea."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from flowpilot.cli.main import main
from flowpilot.gitops.source import read_snapshot
from flowpilot.server.gitops.repositories import ALLOW_LOCAL_ENV
from tests.gitops.gitrepo import BROKEN, GitRepo, flow_text, flow_yaml
from tests.server.conftest import LiveServer, Member, assert_problem


@pytest.fixture
def git(tmp_path: Path) -> Iterator[Callable[..., GitRepo]]:
    made: list[GitRepo] = []

    def make(name: str = "flows-repo") -> GitRepo:
        repo = GitRepo(tmp_path / name)
        made.append(repo)
        return repo

    yield make
    for repo in made:
        repo.close()


def sync(live: LiveServer, member: Member, *args: str) -> Result:
    """``flowpilot sync`` against the live server, as ``member``."""
    return CliRunner().invoke(
        main, ["sync", *args, "--server", live.url, "--api-key", member.token]
    )


def plan_json(live: LiveServer, member: Member, *args: str) -> dict:
    result = sync(live, member, *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def actions(plan: dict) -> dict[str, str]:
    return {item["flow_id"]: item["action"] for item in plan["items"]}


def workflow_id(member: Member, flow_id: str) -> str:
    items = member.client.get("/api/v1/workflows", params={"q": flow_id}).json()["items"]
    return next(w["id"] for w in items if w["flow_id"] == flow_id)


def versions(member: Member, flow_id: str) -> list[dict]:
    wid = workflow_id(member, flow_id)
    return member.client.get(f"/api/v1/workflows/{wid}/versions").json()["items"]


# ---------------------------------------------------------------------------- the CLI


def test_a_plan_shows_creations_and_an_apply_records_where_each_version_came_from(
    live: LiveServer, owner: Member, git: Callable[..., GitRepo]
) -> None:
    repo = git()
    sha = repo.commit(
        {
            "flows/hello.flow.yaml": flow_yaml("hello"),
            "flows/team/bye.flow": flow_text("bye"),
            "README.md": "not a flow",
        },
        "Add the first flows\n\nWith a body.",
    )
    shown = sync(live, owner, str(repo.path))
    assert shown.exit_code == 0, shown.output
    assert "+ create" in shown.stdout and "flows/team/bye.flow" in shown.stdout
    assert "2 to create, 0 to update, 0 unchanged, 0 drifted, 0 to delete" in shown.stdout
    assert "Run with --apply" in shown.stdout
    assert owner.client.get("/api/v1/workflows").json()["items"] == []  # a plan writes nothing

    applied = sync(live, owner, str(repo.path), "--apply")
    assert applied.exit_code == 0, applied.output
    assert "Applied" in applied.stdout and "→ version 1" in applied.stdout
    [version] = versions(owner, "bye")
    assert version["message"] == "Add the first flows"
    assert version["format"] == "text"
    assert version["author_id"] == str(owner.user_id)
    origin = version["origin"]
    assert origin["type"] == "git"
    assert origin["repository"] == str(repo.path.resolve())
    assert origin["commit"] == sha
    assert origin["path"] == "flows/team/bye.flow"
    assert origin["author"] == "Ada Lovelace <ada@example.com>"
    assert origin["message"] == "Add the first flows\n\nWith a body."

    again = plan_json(live, owner, str(repo.path))
    assert actions(again) == {"bye": "unchanged", "hello": "unchanged"}


def test_renames_keep_the_workflow_and_changes_add_a_version(
    live: LiveServer, owner: Member, git: Callable[..., GitRepo]
) -> None:
    repo = git()
    repo.commit({"flows/a.flow.yaml": flow_yaml("alpha"), "flows/b.flow.yaml": flow_yaml("beta")})
    assert sync(live, owner, str(repo.path), "--apply").exit_code == 0
    second = repo.commit(
        {
            "flows/renamed/a.flow.yaml": flow_yaml("alpha"),  # moved, same content
            "flows/b.flow.yaml": flow_yaml("beta", "changed"),
        },
        "Move alpha, change beta",
    )
    plan = plan_json(live, owner, str(repo.path))
    assert actions(plan) == {"alpha": "unchanged", "beta": "update"}
    assert plan["commit"] == second
    assert sync(live, owner, str(repo.path), "--apply").exit_code == 0
    beta = versions(owner, "beta")
    assert [v["number"] for v in beta] == [2, 1]
    assert beta[0]["origin"]["commit"] == second
    assert len(versions(owner, "alpha")) == 1


def test_a_flow_edited_on_the_server_after_a_sync_is_drifted_and_kept_unless_overwritten(
    live: LiveServer, owner: Member, git: Callable[..., GitRepo]
) -> None:
    repo = git()
    repo.commit({"flows/d.flow.yaml": flow_yaml("drifty")})
    assert sync(live, owner, str(repo.path), "--apply").exit_code == 0
    wid = workflow_id(owner, "drifty")
    edited = owner.client.put(
        f"/api/v1/workflows/{wid}", json={"source": flow_yaml("drifty", "edited in the UI")}
    )
    assert edited.status_code == 201, edited.text
    repo.commit({"flows/d.flow.yaml": flow_yaml("drifty", "changed in git")})

    shown = sync(live, owner, str(repo.path))
    assert "! drifted" in shown.stdout
    assert "version 2 was saved after version 1" in shown.stdout
    assert "'keep': kept" in shown.stdout
    applied = sync(live, owner, str(repo.path), "--apply")
    assert applied.exit_code == 0, applied.output
    assert len(versions(owner, "drifty")) == 2  # kept

    overwrite = plan_json(live, owner, str(repo.path), "--drift", "overwrite")
    [item] = overwrite["items"]
    assert item["action"] == "drifted" and item["writes"] is True
    assert sync(live, owner, str(repo.path), "--apply", "--drift", "overwrite").exit_code == 0
    latest = versions(owner, "drifty")[0]
    assert latest["number"] == 3 and latest["origin"]["type"] == "git"
    assert actions(plan_json(live, owner, str(repo.path))) == {"drifty": "unchanged"}

    # An edit undone in the UI (a rollback to the synced content) is no drift: git wins again.
    owner.client.put(f"/api/v1/workflows/{wid}", json={"source": flow_yaml("drifty", "oops")})
    rolled = owner.client.post(f"/api/v1/workflows/{wid}/rollback", json={"to": "3"})
    assert rolled.status_code == 201, rolled.text
    repo.commit({"flows/d.flow.yaml": flow_yaml("drifty", "changed again in git")})
    assert actions(plan_json(live, owner, str(repo.path))) == {"drifty": "update"}


def test_the_drift_policy_of_flowpilot_yaml_applies(
    live: LiveServer, owner: Member, git: Callable[..., GitRepo]
) -> None:
    repo = git()
    repo.commit({"flows/p.flow.yaml": flow_yaml("policy")})
    assert sync(live, owner, str(repo.path), "--apply").exit_code == 0
    wid = workflow_id(owner, "policy")
    owner.client.put(f"/api/v1/workflows/{wid}", json={"source": flow_yaml("policy", "ui")})
    repo.commit({"flows/p.flow.yaml": flow_yaml("policy"), "flowpilot.yaml": "drift: overwrite\n"})
    plan = plan_json(live, owner, str(repo.path))
    assert plan["drift"] == "overwrite" and plan["items"][0]["writes"] is True


def test_deleted_flows_are_pruned_only_when_asked_and_only_with_the_delete_permission(
    live: LiveServer, owner: Member, make_member: Callable[..., Member], git: Callable[..., GitRepo]
) -> None:
    repo = git()
    repo.commit({"flows/keep.flow.yaml": flow_yaml("keeper"), "flows/gone.flow": flow_text("gone")})
    assert sync(live, owner, str(repo.path), "--apply").exit_code == 0
    # A workflow made in the UI is never pruned: the repository did not sync it.
    made = owner.client.post("/api/v1/workflows", json={"source": flow_yaml("ui-made")})
    assert made.status_code == 201
    repo.commit({"flows/keep.flow.yaml": flow_yaml("keeper")}, "Remove gone")

    assert actions(plan_json(live, owner, str(repo.path))) == {"keeper": "unchanged"}
    pruning = plan_json(live, owner, str(repo.path), "--prune")
    assert actions(pruning) == {"keeper": "unchanged", "gone": "delete"}

    member = make_member("member", owner.org_id)
    refused = sync(live, member, str(repo.path), "--apply", "--prune")
    assert refused.exit_code == 1
    assert "workflows:delete" in refused.output

    assert sync(live, owner, str(repo.path), "--apply", "--prune").exit_code == 0
    names = {w["flow_id"] for w in owner.client.get("/api/v1/workflows").json()["items"]}
    assert names == {"keeper", "ui-made"}
    trash = owner.client.get("/api/v1/workflows", params={"deleted": True}).json()["items"]
    assert [w["flow_id"] for w in trash] == ["gone"]


def test_a_repository_emptied_with_a_keep_file_prunes_its_last_flows(
    live: LiveServer, owner: Member, git: Callable[..., GitRepo]
) -> None:
    repo = git()
    repo.commit({"flows/last.flow.yaml": flow_yaml("last-one")})
    assert sync(live, owner, str(repo.path), "--apply").exit_code == 0
    # A commit without flows/ at all reads as a wrong ref or path, never as "delete all".
    repo.commit({"README.md": "moved elsewhere"}, "Drop the flows directory")
    refused = sync(live, owner, str(repo.path), "--apply", "--prune")
    assert refused.exit_code == 1 and "G003" in refused.stderr
    repo.commit({"flows/.keep": ""}, "No flows any more")
    pruning = plan_json(live, owner, str(repo.path), "--prune")
    assert pruning["ok"] and actions(pruning) == {"last-one": "delete"}
    assert sync(live, owner, str(repo.path), "--apply", "--prune").exit_code == 0
    assert owner.client.get("/api/v1/workflows").json()["items"] == []


def test_a_broken_flow_blocks_the_whole_apply_and_every_diagnostic_is_printed(
    live: LiveServer, owner: Member, git: Callable[..., GitRepo]
) -> None:
    repo = git()
    repo.commit({"flows/ok.flow.yaml": flow_yaml("fine")})
    assert sync(live, owner, str(repo.path), "--apply").exit_code == 0
    repo.commit(
        {
            "flows/ok.flow.yaml": flow_yaml("fine", "changed"),
            "flows/new.flow.yaml": flow_yaml("brand-new"),
            "flows/broken.flow.yaml": BROKEN,
            "flows/also/broken.flow": "flow also-broken {\n  step x = core.nope()\n}\n",
        }
    )
    result = sync(live, owner, str(repo.path), "--apply")
    assert result.exit_code == 1
    assert "flows/broken.flow.yaml:4:11 E101 unknown node type 'core.nope'" in result.stderr
    assert "flows/also/broken.flow:2:" in result.stderr
    assert "nothing was changed" in result.stderr
    names = {w["flow_id"] for w in owner.client.get("/api/v1/workflows").json()["items"]}
    assert names == {"fine"}
    assert len(versions(owner, "fine")) == 1

    plan = sync(live, owner, str(repo.path))
    assert plan.exit_code == 1 and "E101" in plan.stderr

    [failed, applied] = owner.client.get("/api/v1/gitops/syncs").json()["items"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "flow_has_errors"
    assert applied["status"] == "applied" and applied["counts"]["create"] == 1
    detail = owner.client.get(f"/api/v1/gitops/syncs/{failed['id']}").json()
    assert {d["file"] for d in detail["diagnostics"]} == {
        "flows/broken.flow.yaml",
        "flows/also/broken.flow",
    }


def test_a_branch_or_a_tag_is_synced_with_ref(
    live: LiveServer, owner: Member, git: Callable[..., GitRepo]
) -> None:
    repo = git()
    first = repo.commit({"flows/f.flow.yaml": flow_yaml("branchy")})
    repo.tag("v1", first)
    repo.commit({"flows/f.flow.yaml": flow_yaml("branchy", "on dev")}, branch="dev")
    assert sync(live, owner, str(repo.path), "--apply").exit_code == 0
    dev = plan_json(live, owner, str(repo.path), "--ref", "dev")
    assert actions(dev) == {"branchy": "update"} and dev["ref"] == "dev"
    assert actions(plan_json(live, owner, str(repo.path), "--ref", "v1")) == {
        "branchy": "unchanged"
    }
    missing = sync(live, owner, str(repo.path), "--ref", "nope")
    assert missing.exit_code == 1
    assert "no branch, tag or commit 'nope'" in missing.output and "dev, main, v1" in missing.output


def test_the_detailed_exit_code_tells_ci_whether_the_plan_changes_something(
    live: LiveServer, owner: Member, git: Callable[..., GitRepo]
) -> None:
    repo = git()
    repo.commit({"flows/c.flow.yaml": flow_yaml("ci")})
    assert sync(live, owner, str(repo.path), "--detailed-exitcode").exit_code == 2
    assert sync(live, owner, str(repo.path), "--apply").exit_code == 0
    unchanged = sync(live, owner, str(repo.path), "--detailed-exitcode")
    assert unchanged.exit_code == 0 and "Nothing to change." in unchanged.stdout


def test_ci_syncs_with_an_api_key_from_the_environment_or_the_group_options(
    live: LiveServer, owner: Member, git: Callable[..., GitRepo]
) -> None:
    repo = git()
    repo.commit({"flows/k.flow.yaml": flow_yaml("keyed")})
    created = owner.client.post("/api/v1/api-keys", json={"name": "ci", "role": "member"})
    key = created.json()["key"]
    env = {"FLOWPILOT_SERVER_URL": live.url, "FLOWPILOT_API_KEY": key}
    from_env = CliRunner(env=env).invoke(main, ["sync", str(repo.path), "--apply"])
    assert from_env.exit_code == 0, from_env.output
    assert versions(owner, "keyed")[0]["origin"]["commit"]
    grouped = CliRunner(env={"FLOWPILOT_SERVER_URL": None, "FLOWPILOT_API_KEY": None}).invoke(
        main, ["--server", live.url, "--api-key", key, "sync", str(repo.path)]
    )
    assert grouped.exit_code == 0 and "= unchanged" in grouped.stdout
    nowhere = CliRunner(env={"FLOWPILOT_SERVER_URL": None}).invoke(main, ["sync", str(repo.path)])
    assert nowhere.exit_code == 2 and "--server URL or FLOWPILOT_SERVER_URL" in nowhere.output
    unauthenticated = CliRunner(env={"FLOWPILOT_API_KEY": None}).invoke(
        main, ["sync", str(repo.path), "--server", live.url]
    )
    assert unauthenticated.exit_code == 1 and "401" in unauthenticated.output


def test_viewers_plan_members_apply_and_publishing_needs_its_permission(
    live: LiveServer, owner: Member, make_member: Callable[..., Member], git: Callable[..., GitRepo]
) -> None:
    repo = git()
    repo.commit(
        {
            "flows/hook.flow.yaml": flow_yaml("hooked").replace(
                "steps:", "triggers:\n  - id: ping\n    type: webhook\n    path: ping\nsteps:"
            )
        }
    )
    viewer = make_member("viewer", owner.org_id)
    assert sync(live, viewer, str(repo.path)).exit_code == 0
    refused = sync(live, viewer, str(repo.path), "--apply")
    assert refused.exit_code == 1 and "workflows:write" in refused.output

    member = make_member("member", owner.org_id)
    unpublished = sync(live, member, str(repo.path), "--apply", "--publish")
    assert unpublished.exit_code == 1 and "workflows:publish" in unpublished.output
    assert owner.client.get("/api/v1/workflows").json()["items"] == []

    manager = make_member("manager", owner.org_id)
    published = sync(live, manager, str(repo.path), "--apply", "--publish")
    assert published.exit_code == 0, published.output
    assert "(published)" in published.stdout
    [workflow] = owner.client.get("/api/v1/workflows").json()["items"]
    assert workflow["published"]["number"] == 1
    hook = live.client().post(f"/hooks/{owner.org_slug}/hooked/ping", json={})
    assert hook.status_code == 202, hook.text


# ---------------------------------------------------------------------------- the bundle API


def test_a_bundle_with_files_outside_flows_or_twice_is_refused_naming_them(
    owner: Member,
) -> None:
    body = {
        "repository": "https://git.example.com/team/flows",
        "commit": "a" * 40,
        "files": [
            {"path": "flows/a.flow.yaml", "source": flow_yaml("a")},
            {"path": "other/b.flow.yaml", "source": flow_yaml("b")},
            {"path": "flows/a.flow.yaml", "source": flow_yaml("a")},
        ],
    }
    problem = assert_problem(
        owner.client.post("/api/v1/gitops/plan", json=body), 422, "invalid_bundle"
    )
    assert [e["field"] for e in problem["errors"]] == ["files.1.path", "files.2.path"]


def test_two_files_with_one_flow_id_and_a_bad_flowpilot_yaml_are_diagnostics(
    owner: Member,
) -> None:
    body = {
        "repository": "https://git.example.com/team/flows",
        "commit": "b" * 40,
        "config": "drift: overwrit\nprune: yes please\n",
        "files": [
            {"path": "flows/a.flow.yaml", "source": flow_yaml("same")},
            {"path": "flows/b.flow.yaml", "source": flow_yaml("same")},
        ],
    }
    plan = owner.client.post("/api/v1/gitops/plan", json=body).json()
    assert plan["ok"] is False
    found = {(d["code"], d["file"], d["line"]) for d in plan["diagnostics"]}
    assert ("G001", "flowpilot.yaml", 1) in found and ("G001", "flowpilot.yaml", 2) in found
    assert ("G002", "flows/b.flow.yaml", 1) in found
    hint = next(d for d in plan["diagnostics"] if d["line"] == 1 and d["code"] == "G001")
    assert hint["hint"] == "did you mean 'overwrite'?"
    applied = owner.client.post("/api/v1/gitops/apply", json=body)
    problem = assert_problem(applied, 422, "flow_has_errors")
    assert {
        "field": "flows/b.flow.yaml",
        "message": "1:7 G002 flow id 'same' is also declared by flows/a.flow.yaml",
    } in problem["errors"]


# ---------------------------------------------------------------------------- export


def test_export_writes_the_flows_as_files_commits_them_and_syncs_back_unchanged(
    live: LiveServer, owner: Member, tmp_path: Path
) -> None:
    for source in (flow_yaml("exported-yaml"), flow_text("exported-text")):
        response = owner.client.post("/api/v1/workflows", json={"source": source})
        assert response.status_code == 201, response.text
    target = tmp_path / "exported"
    result = CliRunner().invoke(
        main,
        ["export", "--to", str(target), "--commit", "--server", live.url, "--api-key", owner.token],
    )
    assert result.exit_code == 0, result.output
    assert (target / "flows/exported-yaml.flow.yaml").read_text() == flow_yaml("exported-yaml")
    assert (target / "flows/exported-text.flow").read_text() == flow_text("exported-text")
    assert "committed" in result.stdout
    snapshot = read_snapshot(str(target))
    assert sorted(snapshot.files) == ["flows/exported-text.flow", "flows/exported-yaml.flow.yaml"]

    again = CliRunner().invoke(
        main,
        ["export", "--to", str(target), "--commit", "--server", live.url, "--api-key", owner.token],
    )
    assert "nothing new to commit" in again.stdout
    plan = plan_json(live, owner, str(target))
    assert set(actions(plan).values()) == {"unchanged"}
    assert not any(i["writes"] for i in plan["items"])


# ---------------------------------------------------------------------------- registered repositories


@pytest.fixture
def local_repositories(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOW_LOCAL_ENV, "1")


def register(member: Member, repo: GitRepo, **fields: object) -> dict:
    body = {"name": f"flows-{uuid.uuid4().hex[:6]}", "url": str(repo.path), **fields}
    response = member.client.post("/api/v1/gitops/repositories", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_registering_needs_an_administrator_and_credentials_never_come_back(
    live: LiveServer,
    owner: Member,
    make_member: Callable[..., Member],
    git: Callable[..., GitRepo],
    local_repositories: None,
) -> None:
    repo = git()
    manager = make_member("manager", owner.org_id)
    refused = manager.client.post(
        "/api/v1/gitops/repositories", json={"name": "x", "url": str(repo.path)}
    )
    assert assert_problem(refused, 403)["permission"] == "gitops:manage"

    token = "ghp_" + "s3cr3t" * 6
    created = register(owner, repo, credentials={"username": "bot", "password": token})
    assert created["has_credentials"] is True and len(created["webhook_secret"]) >= 32
    assert created["webhook_url"].endswith(f"/api/v1/gitops/repositories/{created['id']}/webhook")
    shown = owner.client.get(f"/api/v1/gitops/repositories/{created['id']}")
    listed = owner.client.get("/api/v1/gitops/repositories")
    for response in (shown, listed):
        assert token not in response.text and created["webhook_secret"] not in response.text
        assert "credentials" not in response.text.replace("has_credentials", "")
    with live.db.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT credentials, webhook_secret FROM gitops_repositories WHERE id = :id"),
            {"id": created["id"]},
        ).one()
    assert token.encode() not in bytes(stored.credentials)
    assert created["webhook_secret"].encode() not in bytes(stored.webhook_secret)

    taken = owner.client.post(
        "/api/v1/gitops/repositories", json={"name": created["name"], "url": str(repo.path)}
    )
    assert assert_problem(taken, 409, "repository_exists")["errors"][0]["field"] == "name"
    removed = owner.client.patch(
        f"/api/v1/gitops/repositories/{created['id']}", json={"remove_credentials": True}
    )
    assert removed.json()["has_credentials"] is False


def test_local_paths_and_odd_urls_are_refused_unless_the_server_allows_them(
    owner: Member, git: Callable[..., GitRepo]
) -> None:
    repo = git()
    local = owner.client.post(
        "/api/v1/gitops/repositories", json={"name": "local", "url": str(repo.path)}
    )
    assert assert_problem(local, 422, "invalid_repository_url")["errors"][0]["field"] == "url"
    for url in ("ftp://example.com/repo", "https://user:pw@example.com/repo.git", "not a url"):
        response = owner.client.post(
            "/api/v1/gitops/repositories", json={"name": "odd", "url": url}
        )
        assert_problem(response, 422, "invalid_repository_url")


def test_a_registered_repository_is_planned_and_applied_by_the_server(
    owner: Member, git: Callable[..., GitRepo], local_repositories: None
) -> None:
    repo = git()
    sha = repo.commit({"deploy/flows/r.flow.yaml": flow_yaml("registered")}, "Add registered")
    created = register(owner, repo, path="deploy")
    base = f"/api/v1/gitops/repositories/{created['id']}"
    plan = owner.client.post(f"{base}/plan", json={}).json()
    assert plan["commit"] == sha and actions(plan) == {"registered": "create"}
    assert plan["repository_id"] == created["id"]

    applied = owner.client.post(f"{base}/apply", json={})
    assert applied.status_code == 200, applied.text
    sync_entry = applied.json()
    assert sync_entry["trigger"] == "manual" and sync_entry["status"] == "applied"
    [item] = sync_entry["items"]
    assert item["version"] == 1 and item["workflow_id"]
    origin = versions(owner, "registered")[0]["origin"]
    assert origin["repository_id"] == created["id"] and origin["path"] == "deploy/flows/r.flow.yaml"
    assert owner.client.get(base).json()["last_commit"] == sha

    bad_ref = owner.client.post(f"{base}/apply", json={"ref": "missing"})
    assert assert_problem(bad_ref, 422, "repository_unreadable")["errors"][0]["field"] == "ref"
    history = owner.client.get(f"{base}/syncs").json()["items"]
    assert [(s["status"], s["trigger"]) for s in history] == [
        ("failed", "manual"),
        ("applied", "manual"),
    ]
    assert history[0]["error"]["code"] == "repository_unreadable"


def _github(secret: str, body: bytes) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-GitHub-Event": "push", "X-Hub-Signature-256": f"sha256={digest}"}


def _gitea(secret: str, body: bytes) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Gitea-Event": "push", "X-GitHub-Event": "push", "X-Gitea-Signature": digest}


def _gitlab(secret: str, body: bytes) -> dict[str, str]:
    return {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret}


@pytest.mark.parametrize(
    ("provider", "sign"), [("github", _github), ("gitea", _gitea), ("gitlab", _gitlab)]
)
def test_a_signed_push_webhook_syncs_the_registered_repository(
    live: LiveServer,
    owner: Member,
    git: Callable[..., GitRepo],
    local_repositories: None,
    provider: str,
    sign: Callable[[str, bytes], dict[str, str]],
) -> None:
    repo = git()
    repo.commit({"flows/w.flow.yaml": flow_yaml("pushed")})
    created = register(owner, repo, ref="main")
    url = f"/api/v1/gitops/repositories/{created['id']}/webhook"
    anonymous = live.client()
    sha = repo.commit({"flows/w.flow.yaml": flow_yaml("pushed", "v2")}, "Second")
    body = json.dumps({"ref": "refs/heads/main", "after": sha}).encode()

    forged = anonymous.post(url, content=body, headers=sign("wrong-secret-of-16+", body))
    assert_problem(forged, 401, "invalid_signature")
    assert owner.client.get("/api/v1/workflows").json()["items"] == []

    delivered = anonymous.post(url, content=body, headers=sign(created["webhook_secret"], body))
    assert delivered.status_code == 200, delivered.text
    outcome = delivered.json()
    assert outcome["provider"] == provider and outcome["status"] == "synced"
    [entry] = owner.client.get(f"/api/v1/gitops/repositories/{created['id']}/syncs").json()["items"]
    assert entry["id"] == outcome["sync_id"] and entry["trigger"] == "push"
    assert entry["actor_type"] == "system" and entry["commit"] == sha
    [version] = versions(owner, "pushed")
    assert version["origin"]["commit"] == sha and version["author_id"] is None

    other = json.dumps({"ref": "refs/heads/dev", "after": sha}).encode()
    ignored = anonymous.post(url, content=other, headers=sign(created["webhook_secret"], other))
    assert ignored.json()["status"] == "ignored"


def test_webhook_deliveries_without_a_signature_or_host_headers_are_refused(
    live: LiveServer, owner: Member, git: Callable[..., GitRepo], local_repositories: None
) -> None:
    repo = git()
    repo.commit({"flows/w.flow.yaml": flow_yaml("unsigned")})
    created = register(owner, repo)
    url = f"/api/v1/gitops/repositories/{created['id']}/webhook"
    anonymous = live.client()
    assert_problem(anonymous.post(url, content=b"{}"), 400, "unknown_webhook")
    missing = anonymous.post(url, content=b"{}", headers={"X-GitHub-Event": "push"})
    assert_problem(missing, 401, "signature_missing")
    ping = b'{"zen": "hi"}'
    pong = anonymous.post(
        url,
        content=ping,
        headers={**_github(created["webhook_secret"], ping), "X-GitHub-Event": "ping"},
    )
    assert pong.json()["status"] == "ignored"
    unknown = anonymous.post(
        f"/api/v1/gitops/repositories/{uuid.uuid4()}/webhook",
        content=b"{}",
        headers={"X-GitHub-Event": "push"},
    )
    assert_problem(unknown, 404, "repository_not_found")
