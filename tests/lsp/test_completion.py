"""Completion over a real stdio session, in both syntaxes."""

from __future__ import annotations

import textwrap

import pytest
from lsprotocol import types as lsp

from tests.lsp.conftest import FlowClient, end_of

pytestmark = pytest.mark.asyncio(loop_scope="module")

FLOW = textwrap.dedent(
    """\
    flow: completing
    inputs:
      customer: { type: string, description: The customer id }
      rows: { type: array, items: { type: object, properties: { id: { type: integer } } } }
    vars:
      limit: 10
    steps:
      - id: fetch
        uses: http.request
        with: { url: "https://example.com/${{ secrets.API_TOKEN }}" }
      - id: maybe
        if: ${{ inputs.customer }}
        uses: core.log
        with: { message: hi }
      - id: each
        foreach: ${{ inputs.rows }}
        as: row
        steps:
          - id: inner
            uses: core.log
            with: { message: "${{ row.id }}" }
      - id: show
        uses: core.log
        with:
          message: "${{ steps.fetch.output.status }}"
          level: info
    """
)


async def _complete(
    client: FlowClient, uri: str, position: lsp.Position
) -> list[lsp.CompletionItem]:
    result = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=position)
    )
    assert isinstance(result, lsp.CompletionList)
    return list(result.items)


async def _edit_and_complete(
    client: FlowClient,
    text: str,
    cursor_after: str,
    suffix: str = ".flow.yaml",
    occurrence: int = 0,
) -> dict[str, lsp.CompletionItem]:
    uri = client.new_uri(suffix)
    await client.open(uri, text)
    items = await _complete(client, uri, end_of(text, cursor_after, occurrence))
    return {item.label: item for item in items}


async def test_node_types_after_uses(client: FlowClient):
    text = FLOW.replace("uses: http.request", "uses: http.req")
    items = await _edit_and_complete(client, text, "uses: http.req")
    request = items["http.request"]
    assert request.kind == lsp.CompletionItemKind.Class
    assert "http.request@" in (request.detail or "")
    assert isinstance(request.documentation, lsp.MarkupContent)
    # The edit replaces the whole dotted word typed so far.
    assert request.text_edit is not None
    assert request.text_edit.range.start.character == text.splitlines()[8].index("http.req")
    assert "core.log" in items


async def test_arguments_inside_with_block(client: FlowClient):
    text = FLOW.replace("      level: info\n", "      le\n")
    items = await _edit_and_complete(client, text, "      le")
    level = items["level"]
    assert level.kind == lsp.CompletionItemKind.Property
    assert level.text_edit is not None and level.text_edit.new_text == "level: "
    assert isinstance(level.documentation, lsp.MarkupContent)
    assert "**level**" in level.documentation.value
    assert "(required)" in (items["message"].detail or "")
    assert items["message"].sort_text < level.sort_text  # required arguments first


async def test_arguments_inside_an_inline_with(client: FlowClient):
    text = FLOW.replace(
        'with: { url: "https://example.com/${{ secrets.API_TOKEN }}" }',
        'with: { url: "https://x", me }',
    )
    items = await _edit_and_complete(client, text, ", me")
    assert {"method", "headers", "url"} <= set(items)


async def test_enum_values_of_an_argument(client: FlowClient):
    text = FLOW.replace("      level: info\n", "      level: wa\n")
    items = await _edit_and_complete(client, text, "level: wa")
    assert {"debug", "info", "warning", "error"} <= set(items)
    assert items["warning"].kind == lsp.CompletionItemKind.EnumMember


async def test_steps_visible_at_that_point(client: FlowClient):
    text = FLOW.replace("${{ steps.fetch.output.status }}", "${{ steps. }}")
    items = await _edit_and_complete(client, text, "${{ steps.")
    # `inner` ran inside the loop and `show` is the step itself: neither is visible here.
    assert list(items) == ["fetch", "maybe", "each"]
    assert "may have been skipped" in (items["maybe"].detail or "")
    assert "has run" in (items["fetch"].detail or "")


async def test_output_fields_from_the_node_output_schema(client: FlowClient):
    text = FLOW.replace("${{ steps.fetch.output.status }}", "${{ steps.fetch.output. }}")
    items = await _edit_and_complete(client, text, "steps.fetch.output.")
    assert {"status", "headers", "json", "text"} <= set(items)
    assert items["status"].detail == "integer"
    assert isinstance(items["status"].documentation, lsp.MarkupContent)


async def test_step_fields_after_a_step_id(client: FlowClient):
    text = FLOW.replace("${{ steps.fetch.output.status }}", "${{ steps.fetch. }}")
    items = await _edit_and_complete(client, text, "steps.fetch.")
    assert set(items) == {"output", "status", "error", "attempts"}


async def test_input_var_and_secret_names(client: FlowClient):
    inputs = await _edit_and_complete(
        client, FLOW.replace("${{ steps.fetch.output.status }}", "${{ inputs. }}"), "${{ inputs."
    )
    assert set(inputs) == {"customer", "rows"}
    assert inputs["customer"].documentation is not None
    variables = await _edit_and_complete(
        client, FLOW.replace("${{ steps.fetch.output.status }}", "${{ vars. }}"), "${{ vars."
    )
    assert set(variables) == {"limit"}
    assert variables["limit"].detail == "integer"
    secrets = await _edit_and_complete(
        client, FLOW.replace("${{ steps.fetch.output.status }}", "${{ secrets. }}"), "${{ secrets."
    )
    assert "API_TOKEN" in secrets


async def test_functions_with_signatures_and_names(client: FlowClient):
    text = FLOW.replace("${{ steps.fetch.output.status }}", "${{ up }}")
    items = await _edit_and_complete(client, text, "${{ up")
    upper = items["upper"]
    assert upper.kind == lsp.CompletionItemKind.Function
    assert upper.detail is not None and upper.detail.startswith("upper(")
    assert {"inputs", "steps", "vars"} <= set(items)


async def test_only_filters_after_a_pipe(client: FlowClient):
    text = FLOW.replace("${{ steps.fetch.output.status }}", "${{ inputs.customer | }}")
    items = await _edit_and_complete(client, text, "inputs.customer | ")
    assert "default" in items and "inputs" not in items


async def test_loop_variable_fields_inside_the_body(client: FlowClient):
    text = FLOW.replace("${{ row.id }}", "${{ row. }}")
    items = await _edit_and_complete(client, text, "${{ row.")
    assert set(items) == {"id"}


async def test_step_completion_when_the_text_does_not_parse(client: FlowClient):
    # An unclosed flow mapping breaks the YAML; the last version that parsed stands in.
    uri = client.new_uri()
    await client.open(uri, FLOW)
    broken = FLOW.replace('message: "${{ steps.fetch.output.status }}"', "message: { x: ${{ steps.")
    await client.replace(uri, broken)
    items = await _complete(client, uri, end_of(broken, "${{ steps."))
    assert {"fetch", "maybe"} <= {i.label for i in items}


TEXT_FLOW = textwrap.dedent(
    """\
    flow text-completion {
      input customer: string
      step fetch = http.request(url: "https://example.com/${{ inputs.customer }}")
      step show = core.log(message: steps.fetch.output.status, level: "info")
    }
    """
)


async def test_text_syntax_node_types_arguments_and_paths(client: FlowClient):
    uses = await _edit_and_complete(
        client, TEXT_FLOW.replace("= core.log(", "= core.l("), "= core.l", ".flow"
    )
    assert "core.log" in uses
    args = await _edit_and_complete(
        client, TEXT_FLOW.replace(', level: "info")', ", le)"), ", le", ".flow"
    )
    assert "level" in args and args["level"].text_edit.new_text == "level: "  # type: ignore[union-attr]
    enum = await _edit_and_complete(
        client, TEXT_FLOW.replace('level: "info"', "level: "), "level: ", ".flow"
    )
    assert enum["warning"].text_edit.new_text == '"warning"'  # type: ignore[union-attr]
    # Half-typed, the text does not parse: the version opened before stands in.
    uri = client.new_uri(".flow")
    await client.open(uri, TEXT_FLOW)
    broken = TEXT_FLOW.replace("steps.fetch.output.status", "steps.fetch.output.")
    await client.replace(uri, broken)
    fields = await _complete(client, uri, end_of(broken, "output."))
    assert "status" in {item.label for item in fields}


async def test_completion_ranges_count_utf16_units(client: FlowClient):
    text = FLOW.replace("${{ steps.fetch.output.status }}", "😀日本 ${{ steps.fe }}")
    uri = client.new_uri()
    await client.open(uri, text)
    position = end_of(text, "steps.fe")
    items = {i.label: i for i in await _complete(client, uri, position)}
    edit = items["fetch"].text_edit
    assert isinstance(edit, lsp.TextEdit)
    assert edit.range.end == position
    assert edit.range.start.character == position.character - 2
