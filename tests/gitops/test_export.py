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
