"""Workflows, versions and templates through the client, sync and async, against the live
server: what a script that manages flows would do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from flowpilot.client import (
    AsyncFlowPilot,
    Conflict,
    FlowPilot,
    NotFound,
    ValidationFailed,
)
from tests.client.conftest import FAST_RETRY, LiveServer

HELLO = """\
flow: hello
name: Hello
labels: { team: docs }
inputs:
  who: { type: string, default: world }
steps:
  - id: greet
    uses: core.log
    with: { message: "hello {{ inputs.who }}" }
"""


def flow(flow_id: str, message: str = "hi") -> str:
    return (
        f"flow: {flow_id}\nsteps:\n  - id: say\n    uses: core.log\n"
        f"    with: {{ message: {message} }}\n"
    )


def test_create_read_search_and_resolve_by_flow_id(client: FlowPilot) -> None:
    saved = client.workflows.create(HELLO, message="first")
    assert saved.created and saved.version.number == 1 and saved.version.message == "first"
    assert (saved.flow_id, saved.name, saved.labels) == ("hello", "Hello", {"team": "docs"})

    read = client.workflows.get(saved.id, include_source=True)
    assert read.source == HELLO and read.head.hash == saved.version.hash
    assert client.workflows.get(saved.id).source is None
    assert client.workflows.resolve("hello").id == saved.id
    assert client.workflows.resolve(str(saved.id)).id == saved.id
    assert [w.id for w in client.workflows.list(labels={"team": "docs"})] == [saved.id]
    assert list(client.workflows.list(q="nothing-like-this")) == []
    with pytest.raises(NotFound) as missing:
        client.workflows.resolve("no-such-flow")
    assert missing.value.code == "workflow_not_found"


def test_a_flow_with_errors_is_refused_with_its_diagnostics(client: FlowPilot) -> None:
    broken = "flow: broken\nsteps:\n  - id: a\n    uses: core.lgo\n"
    with pytest.raises(ValidationFailed) as refused:
        client.workflows.create(broken)
    error = refused.value
    assert (error.status, error.code) == (422, "flow_has_errors")
    [diagnostic] = error.diagnostics
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == ("E101", 4, 11)
    assert diagnostic.hint == "did you mean 'core.log'?"
    assert error.request_id and error.errors[0].field == "source"

    check = client.workflows.validate(broken)
    assert not check.ok and check.diagnostics[0].code == "E101"
    assert client.workflows.validate(HELLO).ok


def test_saving_on_a_stale_parent_is_a_conflict_naming_the_head(client: FlowPilot) -> None:
    v1 = client.workflows.create(flow("edits"))
    v2 = client.workflows.save(
        v1.id, flow("edits", "two"), parent_version_id=v1.version.id, message="two"
    )
    assert v2.created and v2.version.number == 2
    same = client.workflows.save(v1.id, flow("edits", "two"))
    assert not same.created and same.version.id == v2.version.id
    with pytest.raises(Conflict) as stale:
        client.workflows.save(v1.id, flow("edits", "late"), parent_version_id=v1.version.id)
    assert stale.value.code == "stale_parent"
    assert stale.value.extra["head_number"] == 2
    assert stale.value.errors[0].field == "parent_version_id"


def test_versions_history_diff_rollback_and_tags(client: FlowPilot) -> None:
    wf = client.workflows.create(flow("history", "one"))
    client.workflows.save(wf.id, flow("history", "two"), message="two")
    versions = client.versions

    assert [(v.number, v.head) for v in versions.list(wf.id)] == [(2, True), (1, False)]
    assert "two" in versions.get(wf.id, "head").source
    assert versions.get(wf.id, 1).number == 1
    change = versions.diff(wf.id, 1, "head")
    assert not change.identical and [c.id for c in change.steps.changed] == ["say"]
    assert change.steps.changed[0].fields == ["args.message"]

    back = versions.rollback(wf.id, 1, message="undo")
    assert back.created and back.version.number == 3
    assert back.version.hash == versions.get(wf.id, "v1").hash
    assert versions.get(wf.id, 3).origin["type"] == "rollback"

    tag = versions.tag(wf.id, "approved", 2)
    assert tag.version.number == 2
    assert versions.get(wf.id, "approved").number == 2
    assert [t.name for t in versions.tags(wf.id)] == ["approved"]
    versions.untag(wf.id, "approved")
    assert versions.tags(wf.id) == []
    with pytest.raises(NotFound) as missing:
        versions.get(wf.id, "approved")
    assert missing.value.code == "version_not_found"


def test_publish_compile_graph_delete_and_restore(client: FlowPilot) -> None:
    wf = client.workflows.create(HELLO)
    published = client.workflows.publish(wf.id)
    assert published.workflow.published is not None
    assert published.workflow.published.number == 1
    plan = client.workflows.compile(wf.id, "published")
    assert plan.plan["flow"]["id"] == "hello" and plan.plan_hash == wf.version.plan_hash
    graph = client.workflows.graph(wf.id)
    assert "greet" in [n["id"] for n in graph.graph["nodes"]]
    assert client.workflows.unpublish(wf.id).published is None

    client.workflows.delete(wf.id)
    with pytest.raises(NotFound):
        client.workflows.get(wf.id)
    assert [w.id for w in client.workflows.list(deleted=True)] == [wf.id]
    assert client.workflows.restore(wf.id).deleted_at is None


def test_templates_list_show_and_instantiate(client: FlowPilot) -> None:
    templates = {t.id: t for t in client.templates.list()}
    assert "invoice-triage" in templates
    detail = client.templates.get("invoice-triage")
    assert set(detail.sources) == {"yaml", "text"} == set(templates["invoice-triage"].formats)
    made = client.templates.instantiate("invoice-triage", flow_id="my-start", format="text")
    assert made.flow_id == "my-start" and made.head.format == "text"


def test_pages_are_followed_only_as_far_as_iterated(client: FlowPilot) -> None:
    for n in range(7):
        client.workflows.create(flow(f"paged-{n}"))
    pages = [len(p.items) for p in client.workflows.list(q="paged", page_size=3).pages()]
    assert pages == [3, 3, 1]
    everything = [w.flow_id for w in client.workflows.list(q="paged", page_size=3)]
    assert everything == [f"paged-{n}" for n in reversed(range(7))]  # newest first
    assert [w.flow_id for w in client.workflows.list(page_size=2).first(3)] == everything[:3]


def test_the_async_client_manages_workflows_the_same_way(
    live: LiveServer, api_key: str, connect: Callable[..., FlowPilot]
) -> None:
    async def scenario() -> None:
        async with AsyncFlowPilot(live.url, api_key=api_key, retry=FAST_RETRY) as client:
            saved = await client.workflows.create(flow("async-flow"), message="one")
            await client.workflows.save(saved.id, flow("async-flow", "two"))
            assert (await client.workflows.resolve("async-flow")).id == saved.id
            history = [v.number async for v in client.versions.list(saved.id, page_size=1)]
            assert history == [2, 1]
            assert (await client.versions.diff(saved.id)).steps.changed[0].id == "say"
            with pytest.raises(Conflict) as taken:
                await client.workflows.create(flow("async-flow"))
            assert taken.value.code == "workflow_exists"
            assert taken.value.extra["workflow_id"] == str(saved.id)
            assert [w.flow_id for w in await client.workflows.list().first(5)] == ["async-flow"]

    asyncio.run(scenario())
    # What the async client saved, the sync one reads.
    sync = connect(api_key=api_key)
    assert sync.versions.get(sync.workflows.resolve("async-flow").id, 2).number == 2
