"""YAML printer: lossless (parse → print → parse gives an equal AST) and idempotent."""

from __future__ import annotations

from hypothesis import given, settings

from flowpilot.dsl import ast
from flowpilot.dsl.yaml_loader import parse_yaml
from flowpilot.dsl.yaml_printer import print_yaml
from tests.strategies import flows, to_yaml


def _parse(source: str) -> ast.Flow:
    flow, diagnostics = parse_yaml(source, "t.flow.yaml")
    errors = [d for d in diagnostics if d.is_error]
    assert flow is not None and not errors, (source, errors)
    return flow


@given(flows())
@settings(max_examples=150)
def test_generated_flows_survive_print_and_reparse(data) -> None:
    source = to_yaml(data)
    flow = _parse(source)
    printed = print_yaml(flow)
    again = _parse(printed)
    assert ast.dump(again) == ast.dump(flow), printed
    assert print_yaml(again) == printed  # idempotent


def test_comments_above_and_beside_steps_survive() -> None:
    source = """\
# Header comment
flow: commented
steps:
  # first comment
  # second line
  - id: a
    uses: core.noop
  - { id: b, wait: 10m }  # trailing
"""
    flow = _parse(source)
    assert flow.comments == ["Header comment"]
    assert flow.steps[0].comments == ["first comment", "second line"]
    assert flow.steps[1].comments == ["trailing"]
    printed = print_yaml(flow)
    assert "  # first comment\n  # second line\n  - id: a" in printed
    assert ast.dump(_parse(printed)) == ast.dump(flow)


def test_canonical_form_reads_like_the_docs() -> None:
    source = """\
flow: sample
inputs:
  tags: string[]
  note: { type: string, required: false }
steps:
  - id: fetch
    uses: http.request
    with: { url: "https://api.example.com/items", method: GET }
    retry: { max_attempts: 5, backoff: exponential, delay: 500ms }
"""
    printed = print_yaml(_parse(source))
    expected = (
        "flow: sample\n"
        "\n"
        "inputs:\n"
        "  tags: string[]\n"
        "  note: string?\n"
        "\n"
        "steps:\n"
        "  - id: fetch\n"
        "    uses: http.request\n"
        "    with:\n"
        "      url: https://api.example.com/items\n"
        "      method: GET\n"
        "    retry: { max_attempts: 5, backoff: exponential, delay: 500ms }\n"
    )
    assert printed == expected


def test_fmt_keeps_every_comment_and_blank_lines_between_steps() -> None:
    source = """\
# Header
#   - indented item
flow: commented
vars:
  # the limit
  limit: 3   # three
concurrency: 2  # keep it low
steps:
  # first
  - id: a
    uses: core.log
    with:
      # the message
      message: hi   # trailing
    timeout: 10s  # generous

  - id: b
    switch:
      # when big
      - when: ${{ vars.limit > 2 }}
        steps: [ { id: c, uses: core.noop } ]
outputs:
  # result
  r: ${{ vars.limit }}
"""
    printed = print_yaml(_parse(source))
    for comment in (
        "#   - indented item",
        "# the limit",
        "# three",
        "# keep it low",
        "# first",
        "# the message",
        "# trailing",
        "# generous",
        "# when big",
        "# result",
    ):
        assert comment in printed, comment
    assert "timeout: 10s\n\n  - id: b" in printed
    assert print_yaml(_parse(printed)) == printed


def test_multiline_templates_print_as_literal_blocks() -> None:
    source = 'flow: m\nsteps:\n  - id: a\n    uses: core.log\n    with:\n      message: "line one\\nline two\\n"\n'
    printed = print_yaml(_parse(source))
    assert "message: |\n        line one\n        line two\n" in printed
    assert ast.dump(_parse(printed)) == ast.dump(_parse(source))


@given(flows())
@settings(max_examples=150)
def test_generated_flows_survive_yaml_to_text_to_yaml(data) -> None:
    from flowpilot.dsl.text_parser import parse_text
    from flowpilot.dsl.text_printer import print_text

    flow = _parse(to_yaml(data))
    text = print_text(flow)
    back, diagnostics = parse_text(text, "t.flow")
    assert back is not None and not [d for d in diagnostics if d.is_error], (text, diagnostics)
    assert ast.dump(back) == ast.dump(flow), text
    assert print_yaml(back) == print_yaml(flow)
    assert print_text(back) == text  # the text printer is idempotent too


def _comment_texts(source: str) -> list[str]:
    from flowpilot.dsl.comments import CommentIndex

    index = CommentIndex(source)
    return sorted([*index._full.values(), *index._trailing.values()])


def _yaml_corpus() -> list:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    files = [
        *root.glob("examples/*.flow.yaml"),
        *root.glob("tests/golden/diagnostics/**/*.flow.yaml"),
    ]
    return sorted(files)


def test_fmt_never_loses_a_comment_and_is_idempotent_on_the_whole_corpus() -> None:
    checked = 0
    for path in _yaml_corpus():
        try:
            source = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        flow, diagnostics = parse_yaml(source, str(path))
        if flow is None or any(d.is_error for d in diagnostics):
            continue  # fmt refuses files with front-end errors
        printed = print_yaml(flow)
        assert _comment_texts(printed) == _comment_texts(source), path
        assert print_yaml(_parse(printed)) == printed, path
        checked += 1
    assert checked > 150


def test_comments_in_labels_defaults_retry_concurrency_and_triggers_survive() -> None:
    source = """\
flow: nested-comments
labels:
  # owning team
  team: data
defaults:
  # be patient
  timeout: 5m
  retry:
    # three tries
    max_attempts: 3
concurrency:
  # one at a time
  limit: 1
triggers:
  - id: nightly
    type: cron
    # 2am Berlin
    cron: "0 2 * * *"
steps:
  - id: a
    uses: core.noop
    retry:
      # once more
      max_attempts: 2
"""
    printed = print_yaml(_parse(source))
    assert _comment_texts(printed) == _comment_texts(source)
    assert print_yaml(_parse(printed)) == printed
