"""What the user is typing at the cursor, read from the text around it.

Completion runs on half-written text that often does not parse, so the kind of position —
after ``uses:``, an argument key or value inside ``with:``, a path after ``steps.`` in an
expression, a name or a filter in an expression — is read from the characters before the
cursor (the current line, and the lines above it for the ``with:`` block or the argument list
it belongs to). The AST is used afterwards, to know what is valid there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = r"[A-Za-z_][\w]*"
_USES_YAML = re.compile(r"(?:^|[\s{,])uses:\s*(?P<word>[\w.@-]*)$")
_USES_TEXT = re.compile(r"(?:^|\s)step\s+" + _WORD + r"\s*=\s*(?P<word>[\w.@-]*)$")
_PATH = re.compile(
    r"(?P<path>" + _WORD + r"(?:\s*\.\s*" + _WORD + r"|\s*\[[^\[\]]*\])*)\s*\.\s*(?P<word>\w*)$"
)
_NAME = re.compile(r"(?P<word>" + _WORD + r")?$")
_KEY = re.compile(r"^(?P<word>[\w-]*)$")
_KEY_VALUE = re.compile(r"^(?P<key>[\w-]+)\s*:\s*(?P<quote>[\"']?)(?P<word>[\w.@/ -]*)$")
_YAML_KEY_LINE = re.compile(r"^(?P<indent>[ ]*)(?:-[ ]+)*(?P<key>[\w-]+)\s*:")
_USES_VALUE = re.compile(r"(?:^|[\s{,])uses:\s*(?P<name>[\w.@-]+)")
_TEXT_CALLEE = re.compile(r"=\s*(?P<name>[A-Za-z][\w-]*(?:\.[\w-]+)+(?:@\d+)?)\s*$")
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {")", "]", "}"}


@dataclass(frozen=True)
class Cursor:
    """The kind of position at the cursor.

    ``kind`` is one of ``uses`` (a node type), ``arg_key`` / ``arg_value`` (in the ``with:``
    of a ``uses`` step whose node type is ``node``; ``key`` is the argument of a value),
    ``path`` (after ``<path>.`` in an expression), ``name`` (a name in an expression;
    ``after_pipe`` when it is a filter) or ``none``. ``word`` is what is typed of the item
    already, starting at offset ``start``; ``quote`` the quote a value was opened with.
    """

    kind: str
    word: str = ""
    start: int = 0
    node: str | None = None
    key: str | None = None
    path: str | None = None
    after_pipe: bool = False
    quote: str = ""
    text_syntax: bool = False


def _line_start(text: str, offset: int) -> int:
    return text.rfind("\n", 0, offset) + 1


def _expression_start(prefix: str, text_syntax: bool) -> int | None:
    """Where the expression around the end of ``prefix`` (one line) starts, or None."""
    opened = max(prefix.rfind("${{"), prefix.rfind("{{"), prefix.rfind("{%"))
    if opened != -1:
        closed = max(prefix.rfind("}}"), prefix.rfind("%}"))
        if closed < opened:
            return opened + (3 if prefix.startswith("${{", opened) else 2)
    if text_syntax and not _in_string(prefix):
        return 0
    return None


def _in_string(prefix: str) -> bool:
    """Is the end of a line of the text syntax inside a string literal?"""
    quote = ""
    i = 0
    while i < len(prefix):
        ch = prefix[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return True  # a comment: treat as text
        i += 1
    return bool(quote)


def analyse(text: str, offset: int, text_syntax: bool) -> Cursor:
    """The kind of position at code-point ``offset`` of ``text``."""
    line_start = _line_start(text, offset)
    prefix = text[line_start:offset]
    uses = (_USES_TEXT if text_syntax else _USES_YAML).search(prefix)
    if uses is not None:
        return Cursor("uses", uses["word"], offset - len(uses["word"]), text_syntax=text_syntax)
    expr_start = _expression_start(prefix, text_syntax)
    if expr_start is not None:
        found = _expression(prefix[expr_start:], offset, text_syntax)
        if found is not None:
            if not text_syntax or found.kind == "path":
                return found
            # In the text syntax a bare word may also be an argument key: decide below.
            args = _text_arguments(text, offset)
            return args or found
    if text_syntax:
        return _text_arguments(text, offset) or Cursor("none", text_syntax=True)
    return _yaml_arguments(text, offset, prefix) or Cursor("none")


def _expression(expr: str, offset: int, text_syntax: bool) -> Cursor | None:
    path = _PATH.search(expr)
    if path is not None:
        return Cursor(
            "path",
            path["word"],
            offset - len(path["word"]),
            path=re.sub(r"\s+", "", path["path"]),
            text_syntax=text_syntax,
        )
    name = _NAME.search(expr)
    word = name["word"] or "" if name is not None else ""
    before = expr[: len(expr) - len(word)].rstrip()
    if before.endswith("."):
        return None
    return Cursor(
        "name",
        word,
        offset - len(word),
        after_pipe=before.endswith("|"),
        text_syntax=text_syntax,
    )


# -- YAML: the `with:` block or flow mapping ----------------------------------------------------


def _key_column(line: str) -> int | None:
    """The column of a YAML line's key (after any ``- `` item markers), None when the line
    holds no key (blank, a comment, a plain list item)."""
    match = _YAML_KEY_LINE.match(line)
    return match.start("key") if match else None


def _yaml_arguments(text: str, offset: int, prefix: str) -> Cursor | None:
    lines = text[:offset].split("\n")
    inline = _inline_with(prefix)
    if inline is not None:
        segment, with_column = inline
        node = _sibling_uses(text, len(lines) - 1, with_column)
        return _argument_cursor(segment, offset, node, text_syntax=False)
    stripped = prefix.lstrip(" ")
    indent = len(prefix) - len(stripped)
    if stripped.startswith("- "):
        return None
    # The parent of the line being typed: the nearest line above with a smaller key column.
    for row in range(len(lines) - 2, -1, -1):
        line = lines[row]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        column = _key_column(line)
        if column is None or column >= indent:
            continue
        if re.match(r"^\s*(?:-\s+)*with:\s*(?:#.*)?$", line) is None:
            return None
        node = _sibling_uses(text, row, column)
        return _argument_cursor(stripped, offset, node, text_syntax=False)
    return None


def _inline_with(prefix: str) -> tuple[str, int] | None:
    """For ``with: { a: 1, b`` on the cursor's line: (the entry being typed, the column of
    ``with``), else None."""
    matches = list(re.finditer(r"(?:^|[\s{,])(with):\s*\{", prefix))
    if not matches:
        return None
    match = matches[-1]
    depth = 0
    segment_start = match.end()
    for i in range(match.end(), len(prefix)):
        ch = prefix[i]
        if ch in "{[":
            depth += 1
        elif ch in "}]":
            if depth == 0:
                return None  # the mapping is closed before the cursor
            depth -= 1
        elif ch == "," and depth == 0:
            segment_start = i + 1
    if depth:
        return None
    return prefix[segment_start:].lstrip(), match.start(1)


def _sibling_uses(text: str, row: int, column: int) -> str | None:
    """The ``uses:`` of the step whose key at ``column`` is on line ``row``."""
    lines = text.split("\n")
    found = _USES_VALUE.search(lines[row])
    if found is not None:
        return found["name"]
    for step in (-1, 1):
        r = row + step
        while 0 <= r < len(lines):
            line = lines[r]
            key_col = _key_column(line)
            if key_col is not None:
                if key_col < column:
                    break
                if key_col == column:
                    found = _USES_VALUE.search(line)
                    if found is not None:
                        return found["name"]
                    if step == -1 and line.lstrip().startswith("-"):
                        break  # the first key of this list item
                    if step == 1 and line.lstrip().startswith("-"):
                        break  # the next item
            r += step
    return None


def _argument_cursor(segment: str, offset: int, node: str | None, text_syntax: bool) -> Cursor:
    value = _KEY_VALUE.match(segment)
    if value is not None:
        word = value["word"]
        return Cursor(
            "arg_value",
            word,
            offset - len(word),
            node=node,
            key=value["key"],
            quote=value["quote"],
            text_syntax=text_syntax,
        )
    key = _KEY.match(segment)
    if key is not None:
        word = key["word"]
        return Cursor("arg_key", word, offset - len(word), node=node, text_syntax=text_syntax)
    return Cursor("none", text_syntax=text_syntax)


# -- the text syntax: `step x = node.type(key: value, …` ---------------------------------------


def _text_arguments(text: str, offset: int) -> Cursor | None:
    """The argument list around the cursor, when its innermost open bracket is the ``(`` of
    a ``uses`` step. Strings never span lines in the text syntax, so scanning may start at
    any line start."""
    window_start = _line_start(text, max(0, offset - 4000))
    stack: list[list[int]] = []  # [position of an open bracket, start of its current entry]
    quote = ""
    i = window_start
    while i < offset:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote or ch == "\n":
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            newline = text.find("\n", i, offset)
            if newline == -1:
                return None  # in a comment
            i = newline
        elif ch in _OPENERS:
            stack.append([i, i + 1])
        elif ch in _CLOSERS:
            if stack:
                stack.pop()
        elif ch == "," and stack:
            stack[-1][1] = i + 1
        i += 1
    if quote or not stack or text[stack[-1][0]] != "(":
        return None
    opened, entry_start = stack[-1]
    callee = _TEXT_CALLEE.search(text[_line_start(text, opened) : opened])
    if callee is None:
        return None
    segment = text[entry_start:offset].lstrip()
    return _argument_cursor(segment, offset, callee["name"], text_syntax=True)
