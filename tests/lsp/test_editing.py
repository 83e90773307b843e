"""Document symbols, formatting and quick fixes over a real stdio session."""

from __future__ import annotations

import textwrap

import pytest
from lsprotocol import types as lsp

from flowpilot.compiler.pipeline import format_source
from tests.lsp.conftest import FlowClient, position_of
from tests.lsp.test_navigation import _apply

pytestmark = pytest.mark.asyncio(loop_scope="module")

FLOW = textwrap.dedent(
    """\
    flow: outlined
    inputs:
      who: string
    steps:
      - id: fetch
        uses: http.request
        with: { url: "https://example.com/${{ inputs.who }}" }
      - id: route
        switch:
          - when: ${{ steps.fetch.output.status == 200 }}
            steps:
              - { id: ok, uses: core.log, with: { message: ok } }
          - default:
              - { id: bad, uses: core.log, with: { message: bad } }
    catch:
      - id: report
        uses: core.log
        with: { message: failed }
    outputs:
      status: ${{ steps.fetch.output.status }}
    """
)


def _doc(uri: str) -> lsp.TextDocumentIdentifier:
    return lsp.TextDocumentIdentifier(uri=uri)


async def test_document_symbols_outline_the_steps(client: FlowClient):
    uri = client.new_uri()
    await client.open(uri, FLOW)
    symbols = await client.text_document_document_symbol_async(
        lsp.DocumentSymbolParams(text_document=_doc(uri))
    )
    assert symbols is not None
    outline = {s.name: s for s in symbols if isinstance(s, lsp.DocumentSymbol)}
    assert list(outline) == ["who", "fetch", "route", "catch", "status"]
    route = outline["route"]
    assert [c.name for c in route.children or []] == ["ok", "bad"]
    assert outline["fetch"].detail == "http.request"
    assert outline["fetch"].kind == lsp.SymbolKind.Function
    assert outline["fetch"].selection_range == lsp.Range(
        start=lsp.Position(line=4, character=8), end=lsp.Position(line=4, character=13)
    )
    assert [c.name for c in outline["catch"].children or []] == ["report"]


async def test_document_symbols_of_the_text_syntax(client: FlowClient):
    text = 'flow t {\n  group prep {\n    step a = core.log(message: "日本")\n  }\n}\n'
    uri = client.new_uri(".flow")
    await client.open(uri, text)
    symbols = await client.text_document_document_symbol_async(
        lsp.DocumentSymbolParams(text_document=_doc(uri))
    )
    (prep,) = symbols  # type: ignore[misc]
    assert prep.name == "prep" and [c.name for c in prep.children] == ["a"]  # type: ignore[union-attr]


async def test_formatting_gives_what_flowpilot_fmt_gives(client: FlowClient):
    messy = "flow:   messy\nsteps:\n  -   id: a\n      uses: core.log\n      with:\n        message:   hi\n"
    uri = client.new_uri()
    await client.open(uri, messy)
    options = lsp.FormattingOptions(tab_size=2, insert_spaces=True)
    edits = await client.text_document_formatting_async(
        lsp.DocumentFormattingParams(text_document=_doc(uri), options=options)
    )
    assert edits is not None
    expected, _ = format_source(messy, "messy.flow.yaml")
    assert _apply(messy, edits) == expected
    # Formatting the formatted text changes nothing.
    await client.replace(uri, expected or "")
    again = await client.text_document_formatting_async(
        lsp.DocumentFormattingParams(text_document=_doc(uri), options=options)
    )
    assert not again


async def test_formatting_the_text_syntax(client: FlowClient):
    messy = 'flow t {\n    step a = core.log( message : "hi" )\n}\n'
    uri = client.new_uri(".flow")
    await client.open(uri, messy)
    edits = await client.text_document_formatting_async(
        lsp.DocumentFormattingParams(
            text_document=_doc(uri), options=lsp.FormattingOptions(tab_size=2, insert_spaces=True)
        )
    )
    expected, _ = format_source(messy, "t.flow")
    assert _apply(messy, edits or []) == expected


async def test_formatting_a_broken_file_changes_nothing(client: FlowClient):
    uri = client.new_uri()
    await client.open(uri, "flow: x\nsteps: [\n")
    edits = await client.text_document_formatting_async(
        lsp.DocumentFormattingParams(
            text_document=_doc(uri), options=lsp.FormattingOptions(tab_size=2, insert_spaces=True)
        )
    )
    assert not edits


TYPOS = textwrap.dedent(
    """\
    flow: typos
    inputs:
      name: string
    steps:
      - id: fetch
        uses: http.request
        with: { url: "https://example.com/${{ inputs.nme }}", methd: GET }
      - id: show
        uses: core.lgo
        with: { message: "日本😀 ${{ steps.fetc.output.status }}" }
    """
)


async def _fixes(client: FlowClient, uri: str, position: lsp.Position) -> list[lsp.CodeAction]:
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=_doc(uri),
            range=lsp.Range(start=position, end=position),
            context=lsp.CodeActionContext(diagnostics=[]),
        )
    )
    return [a for a in actions or [] if isinstance(a, lsp.CodeAction)]


async def test_quick_fixes_apply_did_you_mean_hints(client: FlowClient):
    uri = client.new_uri()
    await client.open(uri, TYPOS)
    titles = []
    for needle in ("nme", "methd", "core.lgo", "fetc."):
        (action,) = await _fixes(client, uri, position_of(TYPOS, needle, 1))
        assert action.kind == lsp.CodeActionKind.QuickFix
        assert action.diagnostics and action.diagnostics[0].code
        titles.append(action.title)
    assert titles == [
        "Change 'nme' to 'name'",
        "Change 'methd' to 'method'",
        "Change 'core.lgo' to 'core.log'",
        "Change 'fetc' to 'fetch'",
    ]
    (action,) = await _fixes(client, uri, position_of(TYPOS, "fetc.", 1))
    (edit,) = action.edit.changes[uri]  # type: ignore[union-attr,index]
    line = TYPOS.splitlines()[9]
    start = line.index("fetc") + 1  # 😀 is two UTF-16 units
    assert edit.range == lsp.Range(
        start=lsp.Position(line=9, character=start), end=lsp.Position(line=9, character=start + 4)
    )


async def test_applying_every_quick_fix_leaves_a_clean_flow(client: FlowClient):
    uri = client.new_uri()
    text = TYPOS
    await client.open(uri, text)
    for _ in range(4):
        # Fix the first diagnostic that has a fix (`input 'name' is never used` has none,
        # and goes away once `nme` is fixed).
        for diagnostic in client.published[uri].diagnostics:
            actions = await _fixes(client, uri, diagnostic.range.start)
            if actions:
                text = _apply(text, actions[0].edit.changes[uri])  # type: ignore[union-attr,index]
                await client.replace(uri, text)
                break
    assert not client.published[uri].diagnostics
    assert "steps.fetch.output.status" in text and "method: GET" in text


async def test_no_fix_without_a_suggestion(client: FlowClient):
    uri = client.new_uri()
    text = "flow: nofix\nsteps:\n  - id: a\n    uses: zzzz.qqqq\n"
    await client.open(uri, text)
    assert await _fixes(client, uri, position_of(text, "zzzz")) == []
