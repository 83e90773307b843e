"""Source positions.

Every AST node carries a :class:`Span`. Lines and columns are 1-based and count Unicode code
points; ``end_column`` is exclusive (one past the last character), as in rustc's diagnostics.
``start``/``end`` are code-point offsets into the source text, handy for slicing and for the
language server, which converts them to UTF-16 positions itself.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import NamedTuple


class Span(NamedTuple):
    # A NamedTuple rather than a frozen dataclass: the front ends make one for nearly every
    # token, and a tuple is immutable and hashable at a fraction of the construction cost.
    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    start: int = 0
    end: int = 0

    def to_json(self) -> dict[str, int | str]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
        }

    def cover(self, other: Span) -> Span:
        """The smallest span that covers both ``self`` and ``other``."""
        first, last = (self, other) if self.start <= other.start else (other, self)
        end = self if self.end >= other.end else other
        del last
        return Span(
            self.file, first.line, first.column, end.end_line, end.end_column, first.start, end.end
        )


NO_SPAN = Span("<unknown>", 1, 1, 1, 1, 0, 0)


class LineIndex:
    """Maps code-point offsets of one source text to 1-based (line, column)."""

    __slots__ = ("_starts", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        starts = [0]
        find = text.find
        pos = find("\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = find("\n", pos + 1)
        self._starts = starts

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self._starts, offset) - 1
        return line + 1, offset - self._starts[line] + 1

    def line_start(self, line: int) -> int:
        """The offset where 0-based ``line`` starts."""
        return self._starts[line]

    def span(self, file: str, start: int, end: int) -> Span:
        line, col = self.position(start)
        end_line, end_col = self.position(end)
        return Span(file, line, col, end_line, end_col, start, end)

    def line_text(self, line: int) -> str:
        """The text of 1-based ``line`` without its newline."""
        if line < 1 or line > len(self._starts):
            return ""
        start = self._starts[line - 1]
        end = self._starts[line] - 1 if line < len(self._starts) else len(self.text)
        return self.text[start:end].rstrip("\r")

    @property
    def line_count(self) -> int:
        return len(self._starts)


class Origin(NamedTuple):
    """Where a piece of embedded text (an expression, a template) starts in its file.

    ``span_of(text, start, end)`` gives the file span of ``text[start:end]``. When the text was
    unescaped from a quoted or folded YAML scalar its characters no longer line up with the file;
    the caller then sets ``fallback`` (the scalar's span) and every position maps to it.
    """

    file: str
    line: int
    column: int
    offset: int
    fallback: Span | None = None
    indent: int = 0  # literal block scalars: every line after the first is indented this much
    # For text unescaped from a quoted string: the file offset of each character of the text
    # (plus one past the end), and the file's line index to turn offsets into positions.
    offsets: tuple[int, ...] | None = None
    index: LineIndex | None = None

    def span_of(self, text: str, start: int, end: int) -> Span:
        if self.fallback is not None:
            return self.fallback
        if self.offsets is not None and self.index is not None:
            last = len(self.offsets) - 1
            return self.index.span(
                self.file, self.offsets[min(start, last)], self.offsets[min(end, last)]
            )
        line, col = self._advance(text, start)
        end_line, end_col = self._advance(text, end)
        return Span(
            self.file,
            line,
            col,
            end_line,
            end_col,
            self._offset(text, start),
            self._offset(text, end),
        )

    def _offset(self, text: str, pos: int) -> int:
        if not self.indent:
            return self.offset + pos
        return self.offset + pos + text.count("\n", 0, pos) * self.indent

    def shifted(self, text: str, start: int) -> Origin:
        """The origin of ``text[start:]``."""
        if self.fallback is not None:
            return self
        if self.offsets is not None and self.index is not None:
            rest = self.offsets[start:] or self.offsets[-1:]
            line, col = self.index.position(rest[0])
            return Origin(self.file, line, col, rest[0], offsets=rest, index=self.index)
        line, col = self._advance(text, start)
        return Origin(self.file, line, col, self._offset(text, start), indent=self.indent)

    def _advance(self, text: str, pos: int) -> tuple[int, int]:
        newlines = text.count("\n", 0, pos)
        if not newlines:
            return self.line, self.column + pos
        return self.line + newlines, pos - text.rfind("\n", 0, pos) + self.indent
