"""Golden tests: each flow under tests/golden/diagnostics has a ``.expected`` file beside it.

An expected file lists one diagnostic per line as ``CODE LINE:COLUMN message``; code, line and
column are compared exactly (messages are there for the reader). ``pytest --update-golden``
rewrites the files from the compiler's current output — review the diff before committing.
IR goldens: every example's plan is pinned under tests/golden/ir.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowpilot.compiler.pipeline import compile_file, is_flow_file

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "golden" / "diagnostics"
EXAMPLES = ROOT / "examples"
IR = ROOT / "tests" / "golden" / "ir"


def _cases() -> list[Path]:
    return sorted(p for p in CASES.rglob("*") if p.is_file() and is_flow_file(p.name))


def _expected_path(case: Path) -> Path:
    return case.with_name(case.name + ".expected")


def _render(case: Path) -> list[str]:
    result = compile_file(case.relative_to(ROOT), lower=False)
    return [f"{d.code} {d.span.line}:{d.span.column} {d.message}" for d in result.diagnostics]


def _key(line: str) -> str:
    return " ".join(line.split(" ", 2)[:2])


@pytest.mark.parametrize("case", _cases(), ids=lambda p: str(p.relative_to(CASES)))
def test_diagnostics_match_golden(case: Path, update_golden: bool, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    actual = _render(case)
    expected_file = _expected_path(case)
    if update_golden:
        expected_file.write_text("".join(line + "\n" for line in actual), encoding="utf-8")
        return
    assert expected_file.exists(), f"missing {expected_file.name}; run pytest --update-golden"
    expected = [ln for ln in expected_file.read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert [_key(a) for a in actual] == [_key(e) for e in expected], "\n".join(actual)


def test_golden_suite_covers_every_code() -> None:
    documented = {
        "E001", "E002", "E003", "E010", "E011", "E012", "E101", "E102", "E103", "E104",
        "E201", "E202", "E203", "E204", "E301", "E302", "E303", "E401", "E402", "E501",
        "E502", "E601", "W101", "W102", "W103", "W104",
    }  # fmt: skip
    seen: dict[str, int] = {}
    for case in _cases():
        expected = _expected_path(case)
        if expected.exists():
            for line in expected.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    seen[line.split()[0]] = seen.get(line.split()[0], 0) + 1
    missing = sorted(code for code in documented if seen.get(code, 0) < 2)
    assert not missing, f"codes with fewer than two golden cases: {missing}"
    assert len(_cases()) >= 150


def _examples() -> list[Path]:
    return sorted(p for p in EXAMPLES.rglob("*") if p.is_file() and is_flow_file(p.name))


@pytest.mark.parametrize("example", _examples(), ids=lambda p: p.name)
def test_example_plan_matches_golden(example: Path, update_golden: bool, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    result = compile_file(example.relative_to(ROOT))
    assert result.ok, "\n".join(
        f"{d.code} {d.span.line}:{d.span.column} {d.message}" for d in result.errors
    )
    golden = IR / (example.name + ".plan.json")
    text = json.dumps(result.plan, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if update_golden:
        golden.write_text(text, encoding="utf-8")
        return
    assert golden.exists(), f"missing {golden.name}; run pytest --update-golden"
    assert golden.read_text(encoding="utf-8") == text
