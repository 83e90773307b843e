"""Go to definition, find references and rename over a real stdio session."""

from __future__ import annotations

import textwrap

import pytest
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException

from tests.lsp.conftest import FlowClient, position_of

pytestmark = pytest.mark.asyncio(loop_scope="module")

FLOW = textwrap.dedent(
    """\
    flow: navigating
    inputs:
      who: string
    vars:
      greeting: hello
    triggers:
      - id: nightly
        type: cron
        cron: "0 2 * * *"
        inputs: { who: nobody }
    steps:
      - id: fetch
        uses: http.request
        with: { url: "https://example.com/${{ inputs.who }}" }
      - id: show
        uses: core.log
        with:
          message: "日本 {{ steps.fetch.output.status }} {{ vars.greeting }}"
          data: ${{ steps.fetch.output.json }}
      - id: remember
        set: { greeting: "${{ steps['fetch'].status }}" }
      - id: sub
        call: child-flow
        with: { who: "${{ vars.greeting }}" }
    outputs:
      status: ${{ steps.fetch.output.status }}
    """
)


def _texts(text: str, locations: list[lsp.Location]) -> list[tuple[int, str]]:
    lines = text.splitlines()
    out = []
    for loc in locations:
        line = lines[loc.range.start.line]
        # UTF-16 columns back to code points (the flow has CJK, one unit each, only).
        out.append(
            (loc.range.start.line, line[loc.range.start.character : loc.range.end.character])
        )
    return out


async def _open(client: FlowClient, text: str = FLOW) -> str:
    uri = client.new_uri()
    await client.open(uri, text)
    return uri


def _doc(uri: str) -> lsp.TextDocumentIdentifier:
    return lsp.TextDocumentIdentifier(uri=uri)


async def test_definition_of_a_step_reference(client: FlowClient):
    uri = await _open(client)
    result = await client.text_document_definition_async(
        lsp.DefinitionParams(
            text_document=_doc(uri), position=position_of(FLOW, "fetch.output.json", 2)
        )
    )
    assert isinstance(result, list) and len(result) == 1
    assert result[0].uri == uri
    assert _texts(FLOW, result) == [(11, "fetch")]


async def test_references_to_a_step_include_templates_and_index_form(client: FlowClient):
    uri = await _open(client)
    result = await client.text_document_references_async(
        lsp.ReferenceParams(
            text_document=_doc(uri),
            position=position_of(FLOW, "id: fetch", 5),
            context=lsp.ReferenceContext(include_declaration=True),
        )
    )
    assert result is not None
    found = sorted(_texts(FLOW, result))
    assert found == [(11, "fetch"), (17, "fetch"), (18, "fetch"), (20, "fetch"), (25, "fetch")]


async def test_definition_and_references_of_inputs_and_vars(client: FlowClient):
    uri = await _open(client)
    definition = await client.text_document_definition_async(
        lsp.DefinitionParams(text_document=_doc(uri), position=position_of(FLOW, "inputs.who", 8))
    )
    assert _texts(FLOW, definition) == [(2, "who")]  # type: ignore[arg-type]
    refs = await client.text_document_references_async(
        lsp.ReferenceParams(
            text_document=_doc(uri),
            position=position_of(FLOW, "greeting: hello", 1),
            context=lsp.ReferenceContext(include_declaration=False),
        )
    )
    # The template use, the `set:` key and the expression in `with:`.
    assert sorted(_texts(FLOW, refs)) == [(17, "greeting"), (20, "greeting"), (23, "greeting")]  # type: ignore[arg-type]


async def test_a_var_only_set_by_steps_is_defined_where_it_is_set(client: FlowClient):
    text = textwrap.dedent(
        """\
        flow: counting
        steps:
          - id: start
            set: { count: 1 }
          - id: again
            set: { count: "${{ vars.count + 1 }}" }
          - id: show
            uses: core.log
            with: { message: "😀 {{ vars.count }}" }
        """
    )
    uri = await _open(client, text)
    definition = await client.text_document_definition_async(
        lsp.DefinitionParams(
            text_document=_doc(uri), position=position_of(text, "vars.count }}", 6)
        )
    )
    assert sorted(_texts(text, definition)) == [(3, "count"), (5, "count")]  # type: ignore[arg-type]
    refs = await client.text_document_references_async(
        lsp.ReferenceParams(
            text_document=_doc(uri),
            position=position_of(text, "count: 1"),
            context=lsp.ReferenceContext(include_declaration=False),
        )
    )
    # The expression and the template after the emoji (two UTF-16 units).
    found = [(r.range.start.line, r.range.start.character) for r in refs or []]
    template = text.splitlines()[8]
    assert sorted(found) == [
        (5, text.splitlines()[5].index("count +")),
        (8, template.index("count }}") + 1),
    ]


async def test_trigger_inputs_refer_to_the_declared_input(client: FlowClient):
    uri = await _open(client)
    result = await client.text_document_definition_async(
        lsp.DefinitionParams(
            text_document=_doc(uri), position=position_of(FLOW, "{ who: nobody", 3)
        )
    )
    assert _texts(FLOW, result) == [(2, "who")]  # type: ignore[arg-type]


async def test_call_target_goes_to_the_other_file(client: FlowClient):
    uri = await _open(client)
    result = await client.text_document_definition_async(
        lsp.DefinitionParams(text_document=_doc(uri), position=position_of(FLOW, "child-flow", 3))
    )
    assert isinstance(result, list) and len(result) == 1
    child = (client.root / "flows" / "child.flow.yaml").as_uri()
    assert result[0].uri == child
    assert result[0].range.start == lsp.Position(line=0, character=6)


async def test_references_to_a_flow_span_the_workspace(client: FlowClient):
    uri = await _open(client)
    result = await client.text_document_references_async(
        lsp.ReferenceParams(
            text_document=_doc(uri),
            position=position_of(FLOW, "child-flow", 3),
            context=lsp.ReferenceContext(include_declaration=True),
        )
    )
    uris = {loc.uri for loc in result or []}
    root = client.root / "flows"
    assert {uri, (root / "child.flow.yaml").as_uri(), (root / "parent.flow.yaml").as_uri()} <= uris


async def test_rename_a_step_everywhere(client: FlowClient):
    uri = await _open(client)
    position = position_of(FLOW, "fetch.output.status", 0)
    prepared = await client.text_document_prepare_rename_async(
        lsp.PrepareRenameParams(text_document=_doc(uri), position=position)
    )
    assert isinstance(prepared, lsp.Range)
    edit = await client.text_document_rename_async(
        lsp.RenameParams(text_document=_doc(uri), position=position, new_name="download")
    )
    assert edit is not None and edit.changes is not None
    renamed = _apply(FLOW, edit.changes[uri])
    assert "fetch" not in renamed
    assert renamed.count("download") == 5
    # The renamed flow checks cleanly: every reference followed.
    assert not (await client.replace(uri, renamed)).diagnostics


async def test_rename_rejects_invalid_and_taken_ids(client: FlowClient):
    uri = await _open(client)
    position = position_of(FLOW, "id: fetch", 5)
    for bad in ("Not-An-Id", "show"):
        with pytest.raises(JsonRpcException):
            await client.text_document_rename_async(
                lsp.RenameParams(text_document=_doc(uri), position=position, new_name=bad)
            )
    not_a_step = await client.text_document_prepare_rename_async(
        lsp.PrepareRenameParams(text_document=_doc(uri), position=position_of(FLOW, "who: string"))
    )
    assert not_a_step is None


async def test_rename_in_the_text_syntax_after_emoji(client: FlowClient):
    text = textwrap.dedent(
        """\
        flow renamed {
          step fetch = http.request(url: "https://example.com")
          step show = core.log(message: "😀 ${{ steps.fetch.output.status }}", data: steps.fetch.output.json)
        }
        """
    )
    uri = client.new_uri(".flow")
    await client.open(uri, text)
    edit = await client.text_document_rename_async(
        lsp.RenameParams(
            text_document=_doc(uri), position=position_of(text, "step fetch", 6), new_name="get"
        )
    )
    assert edit is not None and edit.changes is not None
    renamed = _apply(text, edit.changes[uri])
    assert renamed.count("steps.get.output") == 2 and "fetch" not in renamed


def _apply(text: str, edits: list[lsp.TextEdit]) -> str:
    """Apply LSP edits (UTF-16 ranges) to ``text``."""
    lines = text.split("\n")

    def offset(pos: lsp.Position) -> int:
        line = lines[pos.line]
        units = 0
        column = 0
        while units < pos.character:
            units += 2 if ord(line[column]) > 0xFFFF else 1
            column += 1
        return sum(len(x) + 1 for x in lines[: pos.line]) + column

    for edit in sorted(
        edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True
    ):
        start, end = offset(edit.range.start), offset(edit.range.end)
        text = text[:start] + edit.new_text + text[end:]
    return text
