"""GitOps through the client against the live server: plan and apply bundles (what ``flowpilot
sync`` sends), a broken flow that blocks an apply, drift, the history, the export, and a
registered repository the server fetches itself."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flowpilot.client import AsyncFlowPilot, Bundle, BundleFile, FlowPilot, ValidationFailed
from flowpilot.server.gitops.repositories import ALLOW_LOCAL_ENV
from tests.client.conftest import FAST_RETRY, LiveServer
from tests.gitops.gitrepo import GitRepo

REPOSITORY = "https://git.example.com/acme/flows.git"


def flow(flow_id: str, message: str = "hi") -> str:
    return (
        f"flow: {flow_id}\nsteps:\n  - id: say\n    uses: core.log\n"
        f"    with: {{ message: {message} }}\n"
    )


def bundle(files: dict[str, str], commit: str = "a" * 40, **options: object) -> Bundle:
    return Bundle(
        repository=REPOSITORY,
        commit=commit,
        files=[BundleFile(path, source) for path, source in files.items()],
        ref="main",
        author="Ada Lovelace <ada@example.com>",
        message="Add flows",
        committed_at=datetime(2026, 11, 1, 9, 30, tzinfo=UTC),
        **options,  # type: ignore[arg-type]
    )


def actions(items: list) -> dict[str, str]:  # type: ignore[type-arg]
    return {item.flow_id: item.action for item in items}


def test_plan_then_apply_a_bundle_and_where_each_version_came_from(client: FlowPilot) -> None:
    first = bundle({"flows/hello.flow.yaml": flow("hello"), "flows/ops/bye.flow.yaml": flow("bye")})
    plan = client.gitops.plan(first)
    assert plan.ok and plan.commit == "a" * 40 and plan.diagnostics == []
    assert actions(plan.items) == {"hello": "create", "bye": "create"}
    assert (plan.counts.create, plan.counts.unchanged) == (2, 0)
    assert list(client.workflows.list()) == []  # a plan writes nothing

    applied = client.gitops.apply(first)
    assert applied.status == "applied" and applied.trigger == "bundle"
    assert {item.flow_id: item.version for item in applied.items} == {"hello": 1, "bye": 1}
    hello = client.workflows.resolve("hello")
    origin = client.versions.get(hello.id, "head").origin
    assert origin["repository"] == REPOSITORY and origin["commit"] == "a" * 40
    assert origin["path"] == "flows/hello.flow.yaml"
    assert origin["author"] == "Ada Lovelace <ada@example.com>"

    again = client.gitops.plan(first)
    assert actions(again.items) == {"hello": "unchanged", "bye": "unchanged"}
    exported = {f.flow_id: f for f in client.gitops.export(page_size=1)}
    assert exported["hello"].source == flow("hello") and exported["hello"].version == 1
    assert sorted(exported) == ["bye", "hello"]


def test_a_broken_flow_blocks_the_whole_apply(client: FlowPilot) -> None:
    client.gitops.apply(bundle({"flows/hello.flow.yaml": flow("hello")}))
    broken = bundle(
        {
            "flows/hello.flow.yaml": flow("hello", "changed"),
            "flows/broken.flow.yaml": "flow: broken\nsteps:\n  - id: a\n    uses: core.lgo\n",
        },
        commit="b" * 40,
    )
    plan = client.gitops.plan(broken)
    assert not plan.ok
    assert [(d.code, d.file) for d in plan.diagnostics] == [("E101", "flows/broken.flow.yaml")]
    with pytest.raises(ValidationFailed) as refused:
        client.gitops.apply(broken)
    assert refused.value.code == "flow_has_errors"
    assert [d.line for d in refused.value.diagnostics] == [4]
    # Nothing changed: hello is still at its first version.
    assert client.workflows.resolve("hello").head.number == 1


def test_an_edit_outside_git_shows_as_drift_and_the_history_keeps_each_sync(
    client: FlowPilot,
) -> None:
    client.gitops.apply(bundle({"flows/hello.flow.yaml": flow("hello")}))
    hello = client.workflows.resolve("hello")
    client.workflows.save(hello.id, flow("hello", "edited in the UI"))
    from_git = {"flows/hello.flow.yaml": flow("hello", "from git")}
    assert actions(client.gitops.plan(bundle(from_git, "c" * 40)).items) == {"hello": "drifted"}
    overwrite = client.gitops.apply(bundle(from_git, "c" * 40, drift="overwrite"))
    assert actions(overwrite.items) == {"hello": "drifted"}
    assert "from git" in client.versions.get(hello.id, "head").source

    history = list(client.gitops.syncs(page_size=1))
    assert [s.commit for s in history] == ["c" * 40, "a" * 40]
    assert client.gitops.sync(history[0].id).items[0].version == 3


def test_a_registered_repository_is_fetched_planned_and_applied_by_the_server(
    client: FlowPilot, git_repo: GitRepo
) -> None:
    sha = git_repo.commit({"flows/hello.flow.yaml": flow("hello")}, "Add hello")
    registered = client.gitops.repositories.create("flows", str(git_repo.path), ref="main")
    assert len(registered.webhook_secret) >= 16 and not registered.has_credentials
    assert [r.name for r in client.gitops.repositories.list()] == ["flows"]

    plan = client.gitops.repositories.plan(registered.id)
    assert plan.commit == sha and actions(plan.items) == {"hello": "create"}
    applied = client.gitops.repositories.apply(registered.id)
    assert applied.trigger == "manual" and applied.repository_id == registered.id
    assert client.gitops.repositories.get(registered.id).last_commit == sha
    assert [s.id for s in client.gitops.syncs(repository_id=registered.id)] == [applied.id]

    updated = client.gitops.repositories.update(registered.id, prune=True, drift="overwrite")
    assert (updated.prune, updated.drift) == (True, "overwrite")
    client.gitops.repositories.delete(registered.id)
    assert client.gitops.repositories.list() == []


def test_the_async_client_plans_applies_and_exports(live: LiveServer, api_key: str) -> None:
    async def scenario() -> None:
        async with AsyncFlowPilot(live.url, api_key=api_key, retry=FAST_RETRY) as client:
            files = {"flows/hello.flow.yaml": flow("hello")}
            assert actions((await client.gitops.plan(files_bundle(files))).items) == {
                "hello": "create"
            }
            applied = await client.gitops.apply(files_bundle(files))
            assert applied.status == "applied"
            assert [f.path async for f in client.gitops.export()] == ["flows/hello.flow.yaml"]
            assert [s.id async for s in client.gitops.syncs()] == [applied.id]

    asyncio.run(scenario())


def files_bundle(files: dict[str, str]) -> dict[str, object]:
    """A bundle as a plain mapping (what a caller building JSON would pass)."""
    return {
        "repository": REPOSITORY,
        "commit": "d" * 40,
        "files": [{"path": path, "source": source} for path, source in files.items()],
    }


@pytest.fixture
def git_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GitRepo]:
    monkeypatch.setenv(ALLOW_LOCAL_ENV, "1")
    repo = GitRepo(tmp_path / "flows-repo")
    yield repo
    repo.close()
