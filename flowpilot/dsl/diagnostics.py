"""Diagnostics: the one currency of every front end and compiler pass.

Passes never raise on bad user input; they append :class:`Diagnostic` values to a
:class:`DiagnosticSink`. The CLI reports them all and exits 1 on errors; the language server
publishes them and keeps going.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from flowpilot.dsl.span import Span


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    span: Span
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "code": self.code,
            "severity": str(self.severity),
            "message": self.message,
            **self.span.to_json(),
        }
        if self.hint:
            data["hint"] = self.hint
        return data

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.span.file, self.span.line, self.span.column, self.code)


@dataclass(slots=True)
class DiagnosticSink:
    """Collects diagnostics; ``error``/``warning`` are the usual way to add one."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.items.append(Diagnostic(code, Severity.ERROR, message, span, hint))

    def warning(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.items.append(Diagnostic(code, Severity.WARNING, message, span, hint))

    def add(self, diagnostic: Diagnostic) -> None:
        self.items.append(diagnostic)

    def extend(self, diagnostics: list[Diagnostic]) -> None:
        self.items.extend(diagnostics)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        seen: set[tuple[object, ...]] = set()
        unique = []
        for d in sorted(self.items, key=Diagnostic.sort_key):
            key = (d.code, d.span.start, d.span.end, d.message)
            if key not in seen:
                seen.add(key)
                unique.append(d)
        return unique


def did_you_mean(name: str, candidates: object) -> str | None:
    """A ``did you mean 'x'?`` hint for the closest candidate, or None."""
    import difflib

    pool = [c for c in candidates if isinstance(c, str)]  # type: ignore[attr-defined]
    match = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    return f"did you mean '{match[0]}'?" if match else None
