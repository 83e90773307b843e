"""Comments of YAML sources, which PyYAML's composer drops.

A light line scanner finds comment-only lines and trailing ``# …`` comments (outside quotes), so
that comments written above or beside a step can be attached to it and survive conversion to the
text form and back.
"""

from __future__ import annotations


class CommentIndex:
    """Comment lines of one source, by 1-based line number."""

    __slots__ = ("_full", "_trailing")

    def __init__(self, source: str) -> None:
        self._full: dict[int, str] = {}
        self._trailing: dict[int, str] = {}
        if "#" not in source:
            return
        for number, line in enumerate(source.splitlines(), start=1):
            if "#" not in line:
                continue
            stripped = line.lstrip()
            if stripped.startswith("#"):
                self._full[number] = stripped[1:].strip()
                continue
            pos = _trailing_comment_start(line)
            if pos is not None:
                self._trailing[number] = line[pos + 1 :].strip()

    def leading(self, line: int) -> list[str]:
        """Comment-only lines directly above ``line`` (no blank line between), in order."""
        out: list[str] = []
        current = line - 1
        while current in self._full:
            out.append(self._full[current])
            current -= 1
        out.reverse()
        return out

    def for_node(self, line: int) -> list[str]:
        """Leading comments of a node starting on ``line``, then its trailing comment, if any."""
        comments = self.leading(line)
        trailing = self._trailing.get(line)
        if trailing:
            comments.append(trailing)
        return comments


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
