"""The one converter between compiler positions and LSP positions.

The compiler counts in Unicode code points: a :class:`~flowpilot.dsl.span.Span` has 1-based
lines and columns (``end_column`` exclusive) and code-point offsets into the source. LSP
counts 0-based lines and columns in UTF-16 code units by default (an emoji is two units, a CJK
character one); a client may negotiate UTF-8 or UTF-32 instead. Every feature goes through
:class:`PositionMap`, so no module does this arithmetic itself.
"""

from __future__ import annotations

from lsprotocol import types as lsp

from flowpilot.dsl.span import LineIndex, Span

UTF8 = "utf-8"
UTF16 = "utf-16"
UTF32 = "utf-32"


def code_units(text: str, encoding: str = UTF16) -> int:
    """How many code units ``text`` takes in ``encoding``."""
    if encoding == UTF32 or text.isascii():
        return len(text)
    if encoding == UTF8:
        return len(text.encode("utf-8", errors="surrogatepass"))
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def code_points(line: str, units: int, encoding: str = UTF16) -> int:
    """The code-point column of ``units`` code units into ``line`` (clamped to the line)."""
    if encoding == UTF32 or line.isascii():
        return min(units, len(line))
    count = 0
    for i, ch in enumerate(line):
        if count >= units:
            return i
        if encoding == UTF8:
            count += len(ch.encode("utf-8", errors="surrogatepass"))
        else:
            count += 2 if ord(ch) > 0xFFFF else 1
    return len(line)


class PositionMap:
    """Positions of one version of a document, in both counting schemes."""

    __slots__ = ("encoding", "index", "text")

    def __init__(self, text: str, encoding: str = UTF16) -> None:
        self.text = text
        self.encoding = encoding
        self.index = LineIndex(text)

    def _line(self, line: int) -> str:
        """The text of 0-based ``line`` (without its line break)."""
        return self.index.line_text(line + 1)

    def position(self, line: int, column: int) -> lsp.Position:
        """The LSP position of 1-based ``line`` and code-point ``column``."""
        text = self._line(line - 1)
        return lsp.Position(line=line - 1, character=code_units(text[: column - 1], self.encoding))

    def span_range(self, span: Span) -> lsp.Range:
        """The LSP range of a compiler span."""
        return lsp.Range(
            start=self.position(span.line, span.column),
            end=self.position(span.end_line, span.end_column),
        )

    def offset_position(self, offset: int) -> lsp.Position:
        """The LSP position of a code-point offset."""
        offset = max(0, min(offset, len(self.text)))
        line, column = self.index.position(offset)
        return self.position(line, column)

    def offsets_range(self, start: int, end: int) -> lsp.Range:
        return lsp.Range(start=self.offset_position(start), end=self.offset_position(end))

    def offset(self, position: lsp.Position) -> int:
        """The code-point offset of an LSP position (clamped to the document)."""
        if position.line >= self.index.line_count:
            return len(self.text)
        line_start = self.index.line_start(position.line)
        column = code_points(self._line(position.line), position.character, self.encoding)
        return line_start + column

    def whole_range(self) -> lsp.Range:
        """The range of the whole document."""
        return self.offsets_range(0, len(self.text))
