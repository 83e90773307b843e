"""docs/client.md shows what the client does: its examples run, in order, against the live
server, and each prints exactly the output block that follows it (``…`` stands for what
changes from run to run: ids, times).

* a ```python block runs (in one namespace shared by the page), unless the line before it is
  an ``<!-- not run: … -->`` comment; a ```text block right after it is its output;
* a ```text block of ``$ flowpilot …`` lines runs each command (the CLI in remote mode, on the
  same server) and compares what it prints.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowpilot.cli.main import main
from flowpilot.client.endpoints import API
from tests.client.conftest import LiveServer, Member

ROOT = Path(__file__).resolve().parents[2]
CLIENT_MD = ROOT / "docs" / "client.md"

_FENCE = re.compile(r"^```([A-Za-z-]*)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def blocks(text: str) -> list[tuple[int, str, str, bool]]:
    """(line, language, body, runs) of each fenced block, in order."""
    found = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip().rsplit("\n", 1)[-1]
        line = text.count("\n", 0, match.start()) + 1
        found.append((line, match.group(1), match.group(2), not before.startswith("<!-- not run")))
    return found


def matches(shown: str, printed: str) -> bool:
    """Whether ``printed`` is what the page shows, ``…`` matching anything within a line
    (runs of spaces count as one, so table columns may widen)."""

    def lines(text: str) -> str:
        return "\n".join(re.sub(r"[ \t]+", " ", x).rstrip() for x in text.strip("\n").splitlines())

    expected, actual = lines(shown), lines(printed)
    pattern = "".join(
        "[^\n]*" if part == "…" else re.escape(part) for part in re.split("(…)", expected)
    )
    return re.fullmatch(pattern, actual) is not None


def run_commands(session: str, env: dict[str, str]) -> list[tuple[str, str, str]]:
    """(command, shown, printed) for each ``$ flowpilot …`` line of a session block."""
    results = []
    for chunk in re.split(r"^\$ ", session, flags=re.MULTILINE)[1:]:
        command, _, shown = chunk.partition("\n")
        args = shlex.split(command)
        assert args[0] == "flowpilot", command
        result = CliRunner().invoke(main, args[1:], env=env)
        results.append((command, shown, result.output))
    return results


def test_every_example_prints_what_the_page_shows(
    live: LiveServer, owner: Member, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = owner.client.post(f"{API}/api-keys", json={"name": "ci deploys", "role": "admin"})
    ada = {"email": "ada@example.com", "password": "correct horse battery", "name": "Ada Lovelace"}
    assert live.client().post(f"{API}/auth/register", json=ada).status_code == 201
    env = {"FLOWPILOT_SERVER_URL": live.url, "FLOWPILOT_API_KEY": key.json()["key"]}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)

    namespace: dict[str, object] = {"__name__": "docs_client"}
    found = blocks(CLIENT_MD.read_text(encoding="utf-8"))
    ran = 0
    for index, (line, language, body, runs) in enumerate(found):
        if language == "text" and body.startswith("$ flowpilot "):
            for command, shown, printed in run_commands(body, env):
                assert matches(shown, printed), f"line {line}: $ {command}\n{printed}"
            ran += 1
        if language != "python" or not runs:
            continue
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(body, f"{CLIENT_MD}:{line}", "exec"), namespace)
        ran += 1
        following = found[index + 1] if index + 1 < len(found) else None
        if following and following[1] == "text" and not following[2].startswith("$ "):
            assert matches(following[2], printed.getvalue()), (
                f"line {line} printed:\n{printed.getvalue()}"
            )
        else:
            assert printed.getvalue() == "", f"line {line} printed output the page does not show"
    assert ran >= 15
