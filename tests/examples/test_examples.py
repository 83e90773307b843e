"""The example flows under ``examples/`` are what customers copy: they must stay clean.

Every example compiles without errors or warnings, every text-form twin (``x.flow`` beside
``x.flow.yaml``) parses to the same AST as its YAML form, comments included, and the directory
is in canonical format (``flowpilot fmt --check`` exits 0).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flowpilot.compiler.pipeline import compile_file, is_flow_file, parse_source
from flowpilot.dsl import ast

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

# Examples whose warnings come from known compiler bugs, not from the flow. The marks are
# strict, so the test fails as soon as the compiler is fixed and the entry must be removed.
KNOWN_FALSE_WARNINGS: dict[str, str] = {}


def _examples() -> list[Path]:
    return sorted(p for p in EXAMPLES.rglob("*") if p.is_file() and is_flow_file(p.name))


def _yaml_twin(text_file: Path) -> Path:
    return text_file.with_name(text_file.name + ".yaml")


def _text_pairs() -> list[Path]:
    """Text-form examples that have a YAML twin."""
    return [p for p in _examples() if p.name.endswith(".flow") and _yaml_twin(p).exists()]


def _render(diagnostics: list) -> str:
    return "\n".join(f"{d.code} {d.span.line}:{d.span.column} {d.message}" for d in diagnostics)


def _example_params() -> list:
    params = []
    for path in _examples():
        reason = KNOWN_FALSE_WARNINGS.get(path.name)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(path, id=path.name, marks=marks))
    return params


def test_there_are_at_least_twelve_examples() -> None:
    assert len([p for p in _examples() if p.name.endswith(".flow.yaml")]) >= 12


@pytest.mark.parametrize("example", _examples(), ids=lambda p: p.name)
def test_example_compiles_without_errors(example: Path, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    result = compile_file(example.relative_to(ROOT))
    assert result.errors == [], _render(result.errors)
    assert result.plan is not None


@pytest.mark.parametrize("example", _example_params())
def test_example_compiles_without_warnings(example: Path, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    result = compile_file(example.relative_to(ROOT), lower=False)
    assert result.diagnostics == [], _render(result.diagnostics)


@pytest.mark.parametrize("example", _examples(), ids=lambda p: p.name)
def test_flow_id_is_the_file_name(example: Path) -> None:
    flow, _ = parse_source(example.read_text(encoding="utf-8"), str(example))
    assert flow is not None
    stem = example.name.removesuffix(".yaml").removesuffix(".flow")
    assert flow.id == stem


def _parse_pair(text_file: Path) -> tuple[dict, dict]:
    yaml_file = _yaml_twin(text_file)
    text_flow, text_diags = parse_source(text_file.read_text(encoding="utf-8"), str(text_file))
    yaml_flow, yaml_diags = parse_source(yaml_file.read_text(encoding="utf-8"), str(yaml_file))
    assert text_flow is not None, _render(text_diags)
    assert yaml_flow is not None, _render(yaml_diags)
    return ast.dump(text_flow), ast.dump(yaml_flow)


@pytest.mark.parametrize("text_file", _text_pairs(), ids=lambda p: p.name)
def test_text_twin_parses_to_the_same_flow_and_step_comments(text_file: Path) -> None:
    text_dump, yaml_dump = _parse_pair(text_file)
    text_dump.pop("comments", None)
    yaml_dump.pop("comments", None)
    assert text_dump == yaml_dump


@pytest.mark.parametrize("text_file", _text_pairs(), ids=lambda p: p.name)
def test_text_twin_keeps_the_header_comment(text_file: Path) -> None:
    text_dump, yaml_dump = _parse_pair(text_file)
    assert text_dump == yaml_dump


def test_at_least_four_examples_have_a_text_twin() -> None:
    assert len(_text_pairs()) >= 4, [p.name for p in _text_pairs()]


def test_examples_are_canonically_formatted() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "flowpilot.cli.main", "fmt", "--check", "examples/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
