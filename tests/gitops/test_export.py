"""Writing flows as files of the convention and committing them."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowpilot.gitops.export import ExportedFlow, commit_files, export_path, write_flows
from flowpilot.gitops.source import read_snapshot
from tests.gitops.gitrepo import flow_text, flow_yaml


def test_flows_are_written_by_format_and_committed_once(tmp_path: Path) -> None:
    flows = [
        ExportedFlow("one", "yaml", flow_yaml("one")),
        ExportedFlow("two", "text", flow_text("two")),
    ]
    written = write_flows(tmp_path, flows)
    assert written == {"flows/one.flow.yaml": "created", "flows/two.flow": "created"}
    sha = commit_files(tmp_path, written, "Export", "Bot <bot@example.com>")
    assert sha is not None
    snapshot = read_snapshot(str(tmp_path))
    assert snapshot.commit.sha == sha and snapshot.commit.author == "Bot <bot@example.com>"
    assert snapshot.files["flows/two.flow"] == flow_text("two").encode()

    again = write_flows(tmp_path, flows)
    assert set(again.values()) == {"unchanged"}
    assert commit_files(tmp_path, again, "Export again") is None

    changed = write_flows(tmp_path, [ExportedFlow("one", "yaml", flow_yaml("one", "v2"))])
    assert changed == {"flows/one.flow.yaml": "updated"}
    second = commit_files(tmp_path, changed, "Export v2")
    assert second is not None and read_snapshot(str(tmp_path)).commit.sha == second


def test_a_path_is_only_ever_made_from_a_flow_id() -> None:
    assert export_path("a-b", "text") == "flows/a-b.flow"
    with pytest.raises(ValueError):
        export_path("../etc/passwd", "yaml")


def test_the_sync_core_and_the_commands_never_load_the_server() -> None:
    """The CLI reads repositories with the same core the server uses, without the server."""
    import subprocess
    import sys

    code = (
        "import sys, flowpilot.gitops.plan, flowpilot.gitops.export, flowpilot.cli.gitops_cmd; "
        "loaded = [m for m in sys.modules if m.startswith(('flowpilot.server', 'litestar'))]; "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_exporting_again_updates_flows_where_the_team_moved_them(tmp_path: Path) -> None:
    write_flows(tmp_path, [ExportedFlow("one", "yaml", flow_yaml("one"))])
    moved = tmp_path / "flows/billing/renamed.flow.yaml"
    moved.parent.mkdir()
    (tmp_path / "flows/one.flow.yaml").rename(moved)
    written = write_flows(
        tmp_path,
        [
            ExportedFlow("one", "yaml", flow_yaml("one", "v2")),
            ExportedFlow("two", "yaml", flow_yaml("two")),
        ],
    )
    assert written == {
        "flows/billing/renamed.flow.yaml": "updated",
        "flows/two.flow.yaml": "created",
    }
    assert moved.read_text() == flow_yaml("one", "v2")
    assert not (tmp_path / "flows/one.flow.yaml").exists()  # no second file for 'one'
    # The other form of the flow is another file (its extension says how to read it).
    assert write_flows(tmp_path, [ExportedFlow("one", "text", flow_text("one"))]) == {
        "flows/one.flow": "created"
    }


def test_a_commit_goes_to_the_repository_holding_the_directory(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "README.md").write_text("flows live in deploy/\n")
    # No repository holds it yet: the directory becomes one.
    assert commit_files(checkout, ["README.md"], "Start", "Bot <bot@example.com>") is not None
    sync_root = checkout / "deploy"
    written = write_flows(sync_root, [ExportedFlow("one", "yaml", flow_yaml("one"))])
    sha = commit_files(sync_root, written, "Export", "Bot <bot@example.com>")
    assert not (sync_root / ".git").exists()  # no repository nested in the checkout
    snapshot = read_snapshot(str(checkout), root="deploy")
    assert snapshot.commit.sha == sha and list(snapshot.files) == ["deploy/flows/one.flow.yaml"]
