"""Hover over a real stdio session: node docs, argument schemas, functions, inferred types."""

from __future__ import annotations

import textwrap

import pytest
from lsprotocol import types as lsp

from tests.lsp.conftest import FlowClient, end_of, position_of

pytestmark = pytest.mark.asyncio(loop_scope="module")

FLOW = textwrap.dedent(
    """\
    flow: hovering
    inputs:
      count: { type: integer, description: How many to fetch }
    vars:
      doubled: ${{ inputs.count * 2 }}
    steps:
      - id: fetch
        uses: http.request
        with: { url: "https://example.com", method: GET }
      - id: show
        uses: core.log
        with:
          message: "😀 {{ steps.fetch.output.status }}"
          data: ${{ upper(steps.fetch.output.text) }}
      - id: sub
        call: child-flow
        with: { who: "${{ vars.doubled }}" }
    """
)


async def _hover(
    client: FlowClient, text: str, position: lsp.Position, suffix: str = ".flow.yaml"
) -> lsp.Hover:
    uri = client.new_uri(suffix)
    await client.open(uri, text)
    result = await client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=position)
    )
    assert result is not None
    assert isinstance(result.contents, lsp.MarkupContent)
    return result


async def test_node_documentation_on_uses(client: FlowClient):
    hover = await _hover(client, FLOW, position_of(FLOW, "http.request", 3))
    assert "http.request" in hover.contents.value  # type: ignore[union-attr]
    assert "method" in hover.contents.value  # the arguments table  # type: ignore[union-attr]
    line = FLOW.splitlines()[7]
    assert hover.range == lsp.Range(
        start=lsp.Position(line=7, character=line.index("http")),
        end=lsp.Position(line=7, character=len(line)),
    )


async def test_argument_schema_on_a_with_key(client: FlowClient):
    hover = await _hover(client, FLOW, position_of(FLOW, "method", 1))
    value = hover.contents.value  # type: ignore[union-attr]
    assert value.startswith("**method**")
    assert '"enum"' in value and "GET" in value


async def test_inferred_type_of_an_expression(client: FlowClient):
    hover = await _hover(client, FLOW, position_of(FLOW, "output.text", 2))
    value = hover.contents.value  # type: ignore[union-attr]
    assert "steps.fetch.output: {" in value
    doubled = await _hover(client, FLOW, position_of(FLOW, "inputs.count * 2", 10))
    assert "inputs.count: integer" in doubled.contents.value  # type: ignore[union-attr]


async def test_function_signature(client: FlowClient):
    hover = await _hover(client, FLOW, position_of(FLOW, "upper(", 1))
    value = hover.contents.value  # type: ignore[union-attr]
    assert "upper(" in value and "->" in value


async def test_expression_in_a_template_after_non_ascii_text(client: FlowClient):
    position = position_of(FLOW, "status }}", 2)
    hover = await _hover(client, FLOW, position)
    assert "steps.fetch.output.status: integer" in hover.contents.value  # type: ignore[union-attr]
    line = FLOW.splitlines()[12]
    start = line.index("steps.fetch.output.status") + 1  # 😀 is two UTF-16 units
    assert hover.range is not None
    assert hover.range.start == lsp.Position(line=12, character=start)


async def test_step_id_shows_its_output_type(client: FlowClient):
    hover = await _hover(client, FLOW, position_of(FLOW, "id: fetch", 5))
    value = hover.contents.value  # type: ignore[union-attr]
    assert "**step fetch**" in value and "output:" in value


async def test_call_target_shows_the_other_flow(client: FlowClient):
    hover = await _hover(client, FLOW, position_of(FLOW, "child-flow", 2))
    value = hover.contents.value  # type: ignore[union-attr]
    assert "Child flow" in value and "`who`" in value


async def test_text_syntax_hover(client: FlowClient):
    text = 'flow t {\n  input n: integer\n  step show = core.log(message: "x", data: inputs.n + 1)\n}\n'
    hover = await _hover(client, text, position_of(text, "inputs.n", 8), ".flow")
    assert "inputs.n: integer" in hover.contents.value  # type: ignore[union-attr]
    node = await _hover(client, text, end_of(text, "core.lo"), ".flow")
    assert "core.log" in node.contents.value  # type: ignore[union-attr]
