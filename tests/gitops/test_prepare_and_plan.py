"""Compiling a snapshot's flows together, and the plan against a server's state."""

from __future__ import annotations

from flowpilot.gitops.config import RepoConfig
from flowpilot.gitops.plan import SyncOptions, WorkflowState, compute_plan, count, resolve_options
from flowpilot.gitops.prepare import prepare, source_hash
from flowpilot.gitops.source import CommitInfo, Snapshot
from tests.gitops.gitrepo import BROKEN, flow_text, flow_yaml


def snapshot(
    files: dict[str, str | bytes], config: str | None = None, *, has_keep_file: bool = False
) -> Snapshot:
    return Snapshot(
        repository="https://git.example.com/flows",
        ref="main",
        commit=CommitInfo("c" * 40, "Ada <ada@example.com>", "Change"),
        config=config,
        files={p: c.encode() if isinstance(c, str) else c for p, c in files.items()},
        has_keep_file=has_keep_file,
    )


def test_every_flow_compiles_with_diagnostics_naming_repository_paths() -> None:
    prepared = prepare(
        snapshot(
            {
                "flows/a.flow.yaml": flow_yaml("alpha"),
                "flows/t/b.flow": flow_text("beta"),
                "flows/broken.flow.yaml": BROKEN,
                "flows/latin1.flow.yaml": "flow: caf\xe9\n".encode("latin-1"),
            }
        )
    )
    assert not prepared.ok
    assert [(f.flow_id, f.format) for f in prepared.flows] == [("alpha", "yaml"), ("beta", "text")]
    assert prepared.flows[0].hash == source_hash(flow_yaml("alpha"))
    where = [(d.code, d.span.file, d.span.line) for d in prepared.errors]
    assert ("E101", "flows/broken.flow.yaml", 4) in where
    assert ("E001", "flows/latin1.flow.yaml", 1) in where


def test_one_flow_id_in_two_files_is_an_error_on_the_second() -> None:
    prepared = prepare(
        snapshot({"flows/a.flow.yaml": flow_yaml("same"), "flows/b.flow": flow_text("same")})
    )
    [problem] = prepared.errors
    assert problem.code == "G002" and problem.span.file == "flows/b.flow"
    assert "also declared by flows/a.flow.yaml" in problem.message


def test_a_snapshot_without_flows_cannot_be_synced() -> None:
    [problem] = prepare(snapshot({})).errors
    assert problem.code == "G003" and problem.span.file == "flows/"
    assert problem.hint is not None and "flows/.keep" in problem.hint


def test_a_keep_file_says_the_repository_holds_no_flow_on_purpose() -> None:
    prepared = prepare(snapshot({}, has_keep_file=True))
    assert prepared.ok and prepared.flows == [] and prepared.diagnostics == []
    gone = WorkflowState("w", "gone", 1, "f" * 64, synced_number=1)
    [item] = compute_plan(prepared.flows, [gone], SyncOptions(prune=True))
    assert item.action == "delete"


def test_excluded_files_are_listed_and_not_compiled() -> None:
    prepared = prepare(
        snapshot(
            {"flows/a.flow.yaml": flow_yaml("a"), "flows/drafts/x.flow.yaml": BROKEN},
            config="exclude: [drafts]\n",
        )
    )
    assert prepared.ok and prepared.excluded == ["flows/drafts/x.flow.yaml"]


def _flow(flow_id: str, message: str = "hi"):  # type: ignore[no-untyped-def]
    return prepare(snapshot({f"flows/{flow_id}.flow.yaml": flow_yaml(flow_id, message)})).flows[0]


def test_the_plan_compares_content_hashes_and_sync_history() -> None:
    same, changed, fresh, adopted, drifted = (
        _flow("same"),
        _flow("changed", "new"),
        _flow("fresh"),
        _flow("adopted", "git"),
        _flow("drifted", "git"),
    )
    states = [
        WorkflowState("w1", "same", 2, same.hash, synced_number=2),
        WorkflowState(
            "w2", "changed", 1, _flow("changed").hash, synced_number=1, synced_commit="a" * 40
        ),
        WorkflowState("w3", "adopted", 4, "0" * 64),
        WorkflowState("w4", "drifted", 3, "1" * 64, synced_number=2, synced_commit="b" * 40),
        WorkflowState("w5", "removed", 1, "2" * 64, synced_number=1),
        WorkflowState("w6", "ui-only", 1, "3" * 64),
    ]
    flows = [same, changed, fresh, adopted, drifted]
    plan = compute_plan(flows, states, SyncOptions())
    assert {i.flow_id: (i.action, i.writes) for i in plan} == {
        "adopted": ("update", True),
        "changed": ("update", True),
        "drifted": ("drifted", False),
        "fresh": ("create", True),
        "same": ("unchanged", False),
    }
    drift = next(i for i in plan if i.flow_id == "drifted")
    assert "version 3 was saved after version 2, synced from commit bbbbbbbbbbbb" in drift.detail

    pruned = compute_plan(flows, states, SyncOptions(prune=True, drift="overwrite"))
    assert {i.flow_id: (i.action, i.writes) for i in pruned}["drifted"] == ("drifted", True)
    assert {i.flow_id: i.action for i in pruned}["removed"] == "delete"
    assert "ui-only" not in {i.flow_id for i in pruned}  # never synced from here: never pruned
    assert count(pruned) == {"create": 1, "update": 2, "unchanged": 1, "drifted": 1, "delete": 1}


def test_a_head_back_at_the_synced_content_has_not_drifted() -> None:
    # Synced as version 1, edited in the UI (2), rolled back to version 1's content (3).
    synced = _flow("rolled", "git")
    state = WorkflowState("w", "rolled", 3, synced.hash, synced_number=1, synced_hash=synced.hash)
    changed = _flow("rolled", "changed in git")
    [item] = compute_plan([changed], [state], SyncOptions(drift="keep"))
    assert (item.action, item.writes) == ("update", True)
    edited = WorkflowState("w", "rolled", 2, "e" * 64, synced_number=1, synced_hash=synced.hash)
    [item] = compute_plan([changed], [edited], SyncOptions(drift="keep"))
    assert (item.action, item.writes) == ("drifted", False)


def test_a_removed_flow_edited_after_the_sync_is_kept_under_keep() -> None:
    state = WorkflowState("w", "gone", 3, "f" * 64, synced_number=2)
    [item] = compute_plan([], [state], SyncOptions(prune=True, drift="keep"))
    assert item.action == "drifted" and not item.writes
    [item] = compute_plan([], [state], SyncOptions(prune=True, drift="overwrite"))
    assert item.action == "delete" and item.writes


def test_the_request_wins_over_flowpilot_yaml_which_wins_over_the_repository() -> None:
    config = RepoConfig(prune=True, drift="overwrite")
    assert resolve_options(config) == SyncOptions(prune=True, drift="overwrite")
    assert resolve_options(config, prune=False, drift="keep") == SyncOptions(False, "keep")
    assert resolve_options(RepoConfig(), default_prune=True) == SyncOptions(True, "keep")
