"""Comments of YAML sources, which PyYAML's composer drops.

A light line scanner finds comment-only lines and trailing ``# …`` comments (outside quotes), so
that comments written above or beside steps, keys and entries can be put back by the printers.
Comment text is what follows ``#`` less one space, so indentation inside a comment survives.
"""

from __future__ import annotations


def comment_text(raw: str) -> str:
    """``raw`` is the comment from just after ``#``: drop one leading space and the line end."""
    text = raw[1:] if raw.startswith(" ") else raw
    return text.rstrip()


class CommentIndex:
    """Comment lines of one source, by 1-based line number."""

    __slots__ = ("_blank", "_full", "_trailing", "any")

    def __init__(self, source: str) -> None:
        self._full: dict[int, str] = {}
        self._trailing: dict[int, str] = {}
        self._blank: set[int] = set()
        for number, line in enumerate(source.splitlines(), start=1):
            stripped = line.lstrip()
            if not stripped:
                self._blank.add(number)
                continue
            if "#" not in line:
                continue
            if stripped.startswith("#"):
                self._full[number] = comment_text(stripped[1:])
                continue
            pos = _trailing_comment_start(line)
            if pos is not None:
                self._trailing[number] = comment_text(line[pos + 1 :])
        self.any = bool(self._full or self._trailing or self._blank)

    @property
    def blank_lines(self) -> set[int]:
        """Numbers of the blank lines."""
        return self._blank

    @property
    def full_lines(self) -> dict[int, str]:
        """Comment-only lines by number."""
        return self._full

    def leading(self, line: int) -> list[str]:
        """Comment-only lines directly above ``line`` (no blank line between), in order."""
        out: list[str] = []
        current = line - 1
        while current in self._full:
            out.append(self._full[current])
            current -= 1
        out.reverse()
        return out

    def loose(self, line: int) -> list[str]:
        """Comment lines further up, separated from ``line``'s leading comments by blank
        lines, back to the previous line of content (no other node claims them)."""
        out: list[str] = []
        current = line - 1 - len(self.leading(line))
        while current in self._blank or current in self._full:
            if current in self._full:
                out.append(self._full[current])
            current -= 1
        out.reverse()
        return out

    def after(self, line: int) -> list[str]:
        """Comment lines after ``line`` (the end of the document's content)."""
        return [text for number, text in sorted(self._full.items()) if number > line]

    def trailing(self, line: int) -> list[str]:
        found = self._trailing.get(line)
        return [found] if found else []

    def for_node(self, line: int) -> list[str]:
        """Leading comments of a node starting on ``line``, then its trailing comment, if any."""
        return self.leading(line) + self.trailing(line)

    def blank_before(self, line: int) -> bool:
        """Is there a blank line above ``line`` and its leading comments?"""
        return (line - 1 - len(self.leading(line))) in self._blank


def _trailing_comment_start(line: str) -> int | None:
    """Index of the ``#`` that starts a trailing comment, ignoring ``#`` inside quotes."""
    quote: str | None = None
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "'\"" and (i == 0 or line[i - 1] in " \t[{,:-"):
            quote = ch
        elif ch == "#" and i > 0 and line[i - 1] in " \t":
            return i
        i += 1
    return None
