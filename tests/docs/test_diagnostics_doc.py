"""The diagnostics reference (docs/diagnostics.md) must show what the compiler really prints.

Every ```text block that starts with ``$ flowpilot check [options] FILE`` is the output of running
that command on the nearest ```yaml / ```flowpilot block above it, saved as ``FILE``. The test
runs the real CLI and compares. After a change to messages or hints, regenerate the outputs with::

    python -m tests.docs.test_diagnostics_doc

and read the diff: the prose around an example may need to change too.

It also checks that every code in the page's code table has a section, and that every documented
code is pinned by golden cases under ``tests/golden/diagnostics/<code>/``.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowpilot.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
DIAGNOSTICS_MD = ROOT / "docs" / "diagnostics.md"
GOLDEN = ROOT / "tests" / "golden" / "diagnostics"

_FENCE = re.compile(r"^```([A-Za-z-]*)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_SOURCE_LANGUAGES = ("yaml", "flowpilot")


def examples(text: str) -> list[tuple[int, str, str, str, tuple[int, int]]]:
    """(line, command line, source, shown output, span of the output block body) per example."""
    found = []
    source: str | None = None
    for match in _FENCE.finditer(text):
        language, body = match.group(1), match.group(2)
        if language in _SOURCE_LANGUAGES:
            source = body
        elif language == "text" and body.startswith("$ flowpilot check "):
            assert source is not None, "an output block without a flow above it"
            command, _, shown = body.partition("\n")
            line = text.count("\n", 0, match.start()) + 1
            found.append((line, command, source, shown, match.span(2)))
    return found


def run(command: str, source: str) -> str:
    """The output of ``command`` (``$ flowpilot check ... FILE``) on ``source`` saved as FILE."""
    args = shlex.split(command)[2:]
    name = args[-1]
    if "--format" not in args and "--no-color" not in args:
        args.insert(1, "--no-color")
    previous = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, name).write_text(source, encoding="utf-8")
        os.chdir(tmp)
        try:
            result = CliRunner().invoke(main, args)
        finally:
            os.chdir(previous)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.output


EXAMPLES = examples(DIAGNOSTICS_MD.read_text(encoding="utf-8"))


def test_the_page_has_examples() -> None:
    assert len(EXAMPLES) >= 50


@pytest.mark.parametrize(
    ("line", "command", "source", "shown"),
    [e[:4] for e in EXAMPLES],
    ids=[f"line{e[0]}" for e in EXAMPLES],
)
def test_examples_show_the_real_output(line: int, command: str, source: str, shown: str) -> None:
    assert run(command, source) == shown, (
        f"the output at docs/diagnostics.md:{line} is stale; "
        "run `python -m tests.docs.test_diagnostics_doc` and read the diff"
    )


def _table_codes(text: str) -> list[str]:
    return re.findall(r"^\| \[([EW]\d{3})\]\(#", text, re.MULTILINE)


def test_every_code_in_the_table_has_a_section_with_an_example() -> None:
    text = DIAGNOSTICS_MD.read_text(encoding="utf-8")
    codes = _table_codes(text)
    assert len(codes) >= 26
    shown = {m for _, _, _, out, _ in EXAMPLES for m in re.findall(r"\[([EW]\d{3})\]", out)}
    for code in codes:
        assert f'<a id="{code.lower()}"></a>' in text, f"{code} has no section"
        assert code in shown, f"no example on the page shows {code}"


def test_every_documented_code_has_golden_cases() -> None:
    codes = _table_codes(DIAGNOSTICS_MD.read_text(encoding="utf-8"))
    for code in codes:
        cases = GOLDEN / code
        assert cases.is_dir() and any(cases.iterdir()), f"no golden cases for {code} in {cases}"


def regenerate() -> int:
    """Rewrite every shown output with the real one; the number of blocks changed."""
    text = DIAGNOSTICS_MD.read_text(encoding="utf-8")
    changed = 0
    for _, command, source, shown, (start, end) in reversed(examples(text)):
        real = run(command, source)
        if real != shown:
            changed += 1
            text = text[:start] + command + "\n" + real + text[end:]
    DIAGNOSTICS_MD.write_text(text, encoding="utf-8")
    return changed


if __name__ == "__main__":
    count = regenerate()
    sys.stdout.write(f"updated {count} outputs in {DIAGNOSTICS_MD.relative_to(ROOT)}\n")
