"""Human rendering of diagnostics, rustc style: the source line, a caret under the token, a hint."""

from __future__ import annotations

from collections.abc import Iterable

from flowpilot.dsl.diagnostics import Diagnostic
from flowpilot.dsl.span import LineIndex

_COLORS = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m", "info": "\x1b[1;36m"}
_BLUE = "\x1b[1;34m"
_BOLD = "\x1b[1m"
_RESET = "\x1b[0m"


def render_diagnostic(diagnostic: Diagnostic, index: LineIndex | None, *, color: bool) -> str:
    """One diagnostic as text with the offending line and carets."""
    d = diagnostic
    severity = str(d.severity)

    def paint(text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    lines = [
        paint(f"{severity}[{d.code}]", _COLORS.get(severity, _BOLD))
        + paint(f": {d.message}", _BOLD)
    ]
    gutter = len(str(d.span.end_line if d.span.end_line == d.span.line else d.span.line))
    pad = " " * gutter
    lines.append(f"{pad}{paint('-->', _BLUE)} {d.span.file}:{d.span.line}:{d.span.column}")
    text = index.line_text(d.span.line) if index is not None else ""
    if text:
        start = max(d.span.column - 1, 0)
        if d.span.end_line == d.span.line:
            width = max(d.span.end_column - d.span.column, 1)
        else:
            width = max(len(text) - start, 1)
        width = min(width, max(len(text) - start, 1))
        text, start, width = _window(text, start, width)
        expanded = text.replace("\t", " ")
        lines.append(f"{pad} {paint('|', _BLUE)}")
        lines.append(
            f"{paint(str(d.span.line).rjust(gutter), _BLUE)} {paint('|', _BLUE)} {expanded}"
        )
        marker = " " * start + "^" * width
        lines.append(f"{pad} {paint('|', _BLUE)} {paint(marker, _COLORS.get(severity, _BOLD))}")
    if d.hint:
        lines.append(f"{pad} {paint('=', _BLUE)} {paint('hint', _BOLD)}: {d.hint}")
    return "\n".join(lines)


_MAX_LINE = 120


def _window(text: str, start: int, width: int) -> tuple[str, int, int]:
    """Cut a long source line to the part around the problem (with … marks)."""
    width = min(width, _MAX_LINE // 2)
    if len(text) <= _MAX_LINE:
        return text, start, width
    left = max(0, start - 40)
    right = min(len(text), left + _MAX_LINE)
    shown = text[left:right]
    if left > 0:
        shown = "…" + shown
        start = start - left + 1
    if right < len(text):
        shown += "…"
    return shown, start, min(width, len(shown) - start)


def summarize(diagnostics: Iterable[Diagnostic], files: int) -> str:
    errors = warnings = 0
    for d in diagnostics:
        if d.is_error:
            errors += 1
        else:
            warnings += 1

    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    where = plural(files, "file")
    if not errors and not warnings:
        return f"{where} checked: no problems"
    return f"{where} checked: {plural(errors, 'error')}, {plural(warnings, 'warning')}"
