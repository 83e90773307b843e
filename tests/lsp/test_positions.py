"""The converter between compiler spans (1-based code points) and LSP positions (0-based,
UTF-16 by default)."""

from __future__ import annotations

from lsprotocol import types as lsp

from flowpilot.dsl.span import Span
from flowpilot.lsp.positions import UTF8, UTF32, PositionMap

TEXT = "flow: x\n# 😀日本 steps\nkey: 😀😀 value\n"


def test_span_to_range_counts_utf16_units():
    positions = PositionMap(TEXT)
    line = TEXT.splitlines()[1]
    column = line.index("steps") + 1  # 1-based code points
    span = Span("f", 2, column, 2, column + 5)
    assert positions.span_range(span) == lsp.Range(
        start=lsp.Position(line=1, character=column - 1 + 1),  # 😀 takes two units
        end=lsp.Position(line=1, character=column - 1 + 1 + 5),
    )


def test_position_to_offset_round_trips_after_surrogate_pairs():
    positions = PositionMap(TEXT)
    offset = TEXT.index("value")
    position = positions.offset_position(offset)
    assert position == lsp.Position(line=2, character=len("key: ") + 4 + 1)
    assert positions.offset(position) == offset


def test_other_negotiated_encodings():
    offset = TEXT.index("value")
    assert PositionMap(TEXT, UTF8).offset_position(offset).character == len("key: ") + 8 + 1
    assert PositionMap(TEXT, UTF32).offset_position(offset).character == len("key: ") + 2 + 1
    assert PositionMap(TEXT, UTF8).offset(lsp.Position(line=2, character=14)) == offset


def test_positions_past_the_end_are_clamped():
    positions = PositionMap(TEXT)
    assert positions.offset(lsp.Position(line=99, character=0)) == len(TEXT)
    assert positions.offset(lsp.Position(line=0, character=99)) == len("flow: x")
    assert positions.whole_range().end == lsp.Position(line=3, character=0)


def test_crlf_lines_keep_their_columns():
    positions = PositionMap("a: 1\r\nb: 😀x\r\n")
    assert positions.offset(lsp.Position(line=1, character=5)) == len("a: 1\r\nb: 😀")
