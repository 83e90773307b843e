"""Diagnostics over a real stdio session: exact ranges, codes and hints, on open and change,
in both syntaxes, and across the files of the workspace."""

from __future__ import annotations

import asyncio
import textwrap

import pytest
from lsprotocol import types as lsp

from flowpilot.compiler.pipeline import compile_source
from tests.lsp.conftest import FlowClient

pytestmark = pytest.mark.asyncio(loop_scope="module")

BROKEN_YAML = textwrap.dedent(
    """\
    flow: broken
    inputs:
      name: string
    steps:
      - id: fetch
        uses: http.request
        with: { url: "https://example.com/${{ inputs.nme }}", methd: GET }
      - id: later
        uses: core.lgo
    """
)


def _summary(params: lsp.PublishDiagnosticsParams) -> list[tuple[object, ...]]:
    return [
        (d.code, d.range.start.line, d.range.start.character, d.range.end.character)
        for d in params.diagnostics
    ]


async def test_open_publishes_the_compilers_diagnostics_with_exact_ranges(client: FlowClient):
    uri = client.new_uri()
    published = await client.open(uri, BROKEN_YAML)
    expected = compile_source(BROKEN_YAML, "x.flow.yaml").diagnostics
    assert [d.code for d in published.diagnostics] == [d.code for d in expected]
    unknown_input = next(d for d in published.diagnostics if d.code == "E204")
    # `nme` on line 7 (0-based 6): the range covers exactly the misspelt name.
    line = BROKEN_YAML.splitlines()[6]
    assert unknown_input.range == lsp.Range(
        start=lsp.Position(line=6, character=line.index("nme")),
        end=lsp.Position(line=6, character=line.index("nme") + 3),
    )
    assert unknown_input.severity == lsp.DiagnosticSeverity.Error
    assert unknown_input.source == "flowpilot"
    assert unknown_input.message == "unknown input 'nme'\nhint: did you mean 'name'?"
    unknown_node = next(d for d in published.diagnostics if d.code == "E101")
    assert unknown_node.range.start == lsp.Position(line=8, character=10)
    assert "did you mean 'core.log'?" in unknown_node.message


async def test_warnings_have_warning_severity(client: FlowClient):
    text = "flow: warned\ninputs:\n  unused: string\nsteps:\n  - id: a\n    uses: core.noop\n"
    published = await client.open(client.new_uri(), text)
    (warning,) = published.diagnostics
    assert warning.code == "W102"
    assert warning.severity == lsp.DiagnosticSeverity.Warning
    assert warning.range.start == lsp.Position(line=2, character=2)


async def test_change_rechecks_and_clears_fixed_errors(client: FlowClient):
    uri = client.new_uri()
    await client.open(uri, BROKEN_YAML)
    fixed = BROKEN_YAML.replace("nme", "name").replace("methd", "method")
    fixed = fixed.replace("core.lgo", "core.log\n    with: { message: hi }")
    published = await client.replace(uri, fixed)
    assert not published.diagnostics


async def test_incremental_edits_are_applied_in_order(client: FlowClient):
    uri = client.new_uri()
    text = "flow: edits\nsteps:\n  - id: a\n    uses: core.log\n    with: { message: hi }\n"
    await client.open(uri, text)
    # Three one-character edits in one notification turn `core.log` into `core.lgo`.
    changes = [
        lsp.TextDocumentContentChangePartial(
            range=lsp.Range(
                start=lsp.Position(line=3, character=14), end=lsp.Position(line=3, character=16)
            ),
            text="",
        ),
        lsp.TextDocumentContentChangePartial(
            range=lsp.Range(
                start=lsp.Position(line=3, character=14), end=lsp.Position(line=3, character=14)
            ),
            text="go",
        ),
    ]
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=500),
            content_changes=changes,
        )
    )
    published = await client.wait_diagnostics(uri, 500)
    assert [d.code for d in published.diagnostics] == ["E101"]
    assert published.diagnostics[0].range.start == lsp.Position(line=3, character=10)


async def test_text_syntax_positions_are_exact(client: FlowClient):
    text = textwrap.dedent(
        """\
        flow text-form {
          input name: string
          step fetch = http.request(url: "https://x.example.com/${{ inputs.nme }}")
          step show = core.log(message: steps.fetc.output.status)
        }
        """
    )
    published = await client.open(client.new_uri(".flow"), text)
    by_code = {d.code: d for d in published.diagnostics}
    assert by_code["E204"].range.start == lsp.Position(
        line=2, character=text.splitlines()[2].index("nme")
    )
    unknown_step = by_code["E201"]
    column = text.splitlines()[3].index("fetc")
    assert unknown_step.range == lsp.Range(
        start=lsp.Position(line=3, character=column),
        end=lsp.Position(line=3, character=column + 4),
    )


async def test_syntax_errors_are_reported_not_crashing(client: FlowClient):
    published = await client.open(client.new_uri(), "flow: x\nsteps: [\n")
    assert [d.code for d in published.diagnostics] == ["E001"]


async def test_non_ascii_before_an_error_gives_utf16_columns(client: FlowClient):
    # 😀 is two UTF-16 units, 日本 one each: the column of `fetc` counts them that way.
    text = textwrap.dedent(
        """\
        flow: unicode
        steps:
          - id: fetch
            uses: http.request
            with: { url: "https://example.com" }
          - id: show
            uses: core.log
            with: { message: "😀日本", level: info, data: "${{ steps.fetc.output }}" }
        """
    )
    published = await client.open(client.new_uri(), text)
    (diagnostic,) = published.diagnostics
    line = text.splitlines()[7]
    prefix = line[: line.index("fetc")]
    assert diagnostic.range.start.character == len(prefix) + 1  # one extra unit for 😀
    assert diagnostic.range.end.character == diagnostic.range.start.character + 4


async def test_call_targets_resolve_across_workspace_files(client: FlowClient):
    # child.flow.yaml on disk defines `child-flow`; a document calling it checks cleanly,
    # and a misspelt target is reported with a did-you-mean from the workspace.
    text = "flow: caller\nsteps:\n  - id: c\n    call: child-flow\n    with: { who: me }\n"
    assert not (await client.open(client.new_uri(), text)).diagnostics
    wrong = await client.open(client.new_uri(), text.replace("child-flow", "chld-flow"))
    (diagnostic,) = wrong.diagnostics
    assert diagnostic.code == "E204"
    assert "unknown flow 'chld-flow'" in diagnostic.message
    assert "did you mean 'child-flow'?" in diagnostic.message


async def test_workspace_files_are_checked_without_being_opened(client: FlowClient):
    parent = (client.root / "flows" / "parent.flow.yaml").as_uri()
    published = await client.wait_diagnostics(parent)
    assert not published.diagnostics


async def test_a_new_flow_makes_a_call_resolve(client: FlowClient):
    caller = client.new_uri()
    text = "flow: late-caller\nsteps:\n  - id: c\n    call: late-target\n"
    first = await client.open(caller, text)
    assert [d.code for d in first.diagnostics] == ["E204"]
    version_before = client.published[caller].version
    await client.open(
        client.new_uri(), "flow: late-target\nsteps:\n  - id: a\n    uses: core.noop\n"
    )
    # The caller is checked again on its own once the flow it calls exists.
    for _ in range(400):
        if not client.published[caller].diagnostics:
            break
        await __import__("asyncio").sleep(0.01)
    assert not client.published[caller].diagnostics
    assert client.published[caller].version == version_before


async def test_closing_the_only_file_of_a_called_flow_unresolves_the_call(client: FlowClient):
    caller = client.new_uri()
    text = "flow: early-caller\nsteps:\n  - id: c\n    call: fleeting-target\n"
    # A document outside the workspace folder: closing it forgets its flow.
    target = (client.root.parent / "fleeting.flow.yaml").as_uri()
    await client.open(target, "flow: fleeting-target\nsteps:\n  - id: a\n    uses: core.noop\n")
    assert not (await client.open(caller, text)).diagnostics
    client.text_document_did_close(
        lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=target))
    )
    for _ in range(400):
        if client.published[caller].diagnostics:
            break
        await asyncio.sleep(0.01)
    assert [d.code for d in client.published[caller].diagnostics] == ["E204"]


async def test_closing_a_document_outside_the_workspace_clears_it(client: FlowClient):
    uri = client.new_uri()
    await client.open(uri, BROKEN_YAML)
    client.text_document_did_close(
        lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
    )
    for _ in range(400):
        if not client.published[uri].diagnostics:
            break
        await __import__("asyncio").sleep(0.01)
    assert not client.published[uri].diagnostics


async def test_other_yaml_files_are_left_alone(client: FlowClient):
    # Editors send every YAML file to the server; a compose file is not a flow.
    uri = client.new_uri(".yaml", name="docker-compose")
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(
                uri=uri, language_id="yaml", version=1, text="services:\n  db: {}\n"
            )
        )
    )
    # A flow opened after it is answered, and the compose file got no diagnostics.
    await client.open(client.new_uri(), "flow: after\nsteps:\n  - id: a\n    uses: core.noop\n")
    assert uri not in client.published
