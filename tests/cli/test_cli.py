"""The real `flowpilot` command, run as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

GOOD = """\
flow: good
steps:
  - id: hello
    uses: core.log
    with: { message: hello }
"""

BAD = """\
flow: bad
steps:
  - id: fetch
    uses: http.reqest
    with: { url: "https://example.com" }
"""

WARN = """\
flow: warn
inputs: { unused: string }
steps:
  - { id: a, uses: core.noop }
"""


def run(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowpilot.cli.main", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_renders_source_line_caret_and_hint(tmp_path: Path) -> None:
    (tmp_path / "bad.flow.yaml").write_text(BAD)
    proc = run("check", "--no-color", "bad.flow.yaml", cwd=tmp_path)
    assert proc.returncode == 1
    assert "error[E101]: unknown node type 'http.reqest'" in proc.stdout
    assert "--> bad.flow.yaml:4:11" in proc.stdout
    assert "4 |     uses: http.reqest" in proc.stdout
    assert "  |           ^^^^^^^^^^^" in proc.stdout
    assert "hint: did you mean 'http.request'?" in proc.stdout


def test_check_json_and_exit_codes(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "good.flow.yaml").write_text(GOOD)
    (tmp_path / "flows" / "warn.flow.yaml").write_text(WARN)
    proc = run("check", "--format", "json", "flows", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    items = json.loads(proc.stdout)
    assert [(i["code"], i["line"], i["column"], i["severity"]) for i in items] == [
        ("W102", 2, 11, "warning")
    ]
    (tmp_path / "flows" / "bad.flow.yaml").write_text(BAD)
    assert run("check", "flows", cwd=tmp_path).returncode == 1


def test_compile_writes_a_plan(tmp_path: Path) -> None:
    (tmp_path / "good.flow.yaml").write_text(GOOD)
    proc = run("compile", "good.flow.yaml", "-o", "plan.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["ir_version"] == 1 and "hello" in plan["nodes"]
    assert "plan_hash" in proc.stderr
    (tmp_path / "bad.flow.yaml").write_text(BAD)
    assert run("compile", "bad.flow.yaml", cwd=tmp_path).returncode == 1


def test_fmt_check_and_rewrite(tmp_path: Path) -> None:
    messy = "flow: good\nsteps:\n  - {id: hello, uses: core.log, with: {message: hello}}\n"
    path = tmp_path / "good.flow.yaml"
    path.write_text(messy)
    assert run("fmt", "--check", "good.flow.yaml", cwd=tmp_path).returncode == 1
    assert run("fmt", "good.flow.yaml", cwd=tmp_path).returncode == 0
    formatted = path.read_text()
    assert formatted != messy
    assert run("fmt", "--check", "good.flow.yaml", cwd=tmp_path).returncode == 0
    assert run("fmt", "-", cwd=tmp_path, stdin=messy).stdout == formatted


def test_fmt_refuses_broken_files(tmp_path: Path) -> None:
    path = tmp_path / "broken.flow.yaml"
    path.write_text("flow: x\nsteps: [\n")
    proc = run("fmt", "broken.flow.yaml", cwd=tmp_path)
    assert proc.returncode == 1 and "E001" in proc.stderr
    assert path.read_text() == "flow: x\nsteps: [\n"


def test_graph_json_and_dot(tmp_path: Path) -> None:
    (tmp_path / "good.flow.yaml").write_text(GOOD)
    graph = json.loads(run("graph", "good.flow.yaml", cwd=tmp_path).stdout)
    assert any(n["id"] == "hello" for n in graph["nodes"])
    dot = run("graph", "good.flow.yaml", "--format", "dot", cwd=tmp_path).stdout
    assert dot.startswith("digraph")


def test_nodes_listing_and_detail(tmp_path: Path) -> None:
    listing = json.loads(run("nodes", "--json", cwd=tmp_path).stdout)
    names = {n["name"] for n in listing}
    assert {"http.request", "ai.extract", "human.approval"} <= names
    assert all(n["status"] in ("planned", "available") for n in listing)
    detail = run("nodes", "http.request", cwd=tmp_path)
    assert detail.returncode == 0 and "url" in detail.stdout
    unknown = run("nodes", "http.reqest", cwd=tmp_path)
    assert unknown.returncode != 0 and "http.request" in unknown.stderr


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    proc = run("check", "nowhere.flow.yaml", cwd=tmp_path)
    assert proc.returncode == 2 and "no such file" in proc.stderr
