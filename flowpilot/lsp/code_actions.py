"""Code actions: quick fixes that apply the compiler's did-you-mean hints.

A diagnostic such as ``unknown step 'fetc'`` with the hint ``did you mean 'fetch'?`` becomes
the fix "Change 'fetc' to 'fetch'". The misspelt name is the first quoted name of the message;
the edit replaces it where the diagnostic points — the whole range when the range is exactly
that name (quotes aside), or its one occurrence inside a wider range (a template field's
diagnostic covers the whole string).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from flowpilot.dsl.diagnostics import Diagnostic
from flowpilot.lsp.diagnostics import to_lsp

if TYPE_CHECKING:
    from flowpilot.lsp.server import FlowServer
    from flowpilot.lsp.workspace import FlowFile

_DID_YOU_MEAN = re.compile(r"did you mean '([^']+)'\?")
_QUOTED = re.compile(r"'([^']+)'")
_LATEST_VERSION = re.compile(r"the latest is (\S+@\d+)$")


def _replacement(diagnostic: Diagnostic, source: str) -> tuple[int, int, str, str] | None:
    """(start, end, wrong, right) of the fix a diagnostic's hint suggests, or None."""
    hint = diagnostic.hint or ""
    span = diagnostic.span
    raw = source[span.start : span.end]
    latest = _LATEST_VERSION.search(hint)
    if latest is not None and diagnostic.code == "E101":
        return span.start, span.end, raw, latest.group(1)
    suggestion = _DID_YOU_MEAN.search(hint)
    wrong = _QUOTED.search(diagnostic.message)
    if suggestion is None or wrong is None:
        return None
    old, new = wrong.group(1), suggestion.group(1)
    if raw == old:
        return span.start, span.end, old, new
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"" and raw[1:-1] == old:
        return span.start + 1, span.end - 1, old, new
    hits = [m.start() for m in re.finditer(r"(?<![\w-])" + re.escape(old) + r"(?![\w-])", raw)]
    if len(hits) == 1:
        return span.start + hits[0], span.start + hits[0] + len(old), old, new
    return None


def quick_fixes(file: FlowFile, wanted: lsp.Range) -> list[lsp.CodeAction]:
    """Fixes for the file's diagnostics that touch ``wanted``."""
    if file.result is None or file.positions is None:
        return []
    positions = file.positions
    lo = positions.offset(wanted.start)
    hi = positions.offset(wanted.end)
    actions = []
    for diagnostic in file.result.diagnostics:
        span = diagnostic.span
        if span.file != file.name or span.end < lo or span.start > hi:
            continue
        fix = _replacement(diagnostic, file.result.source)
        if fix is None:
            continue
        start, end, old, new = fix
        edit = lsp.TextEdit(range=positions.offsets_range(start, end), new_text=new)
        actions.append(
            lsp.CodeAction(
                title=f"Change '{old}' to '{new}'",
                kind=lsp.CodeActionKind.QuickFix,
                diagnostics=[to_lsp(diagnostic, positions)],
                is_preferred=True,
                edit=lsp.WorkspaceEdit(changes={file.uri: [edit]}),
            )
        )
    return actions


def register(server: FlowServer) -> None:
    @server.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION,
        lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]),
    )
    def code_actions(ls: FlowServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        file = ls.current(params.text_document.uri)
        if file is None:
            return []
        return quick_fixes(file, params.range)
