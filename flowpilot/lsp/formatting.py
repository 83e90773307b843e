"""Formatting: the canonical printer, exactly as ``flowpilot fmt`` writes the file."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from flowpilot.compiler.pipeline import format_source

if TYPE_CHECKING:
    from flowpilot.lsp.server import FlowServer
    from flowpilot.lsp.workspace import FlowFile


def format_edits(file: FlowFile) -> list[lsp.TextEdit] | None:
    """One edit replacing the whole text with its canonical form; [] when it already is
    canonical; None when the file does not parse (its diagnostics say why)."""
    assert file.positions is not None
    text, _ = format_source(file.text, file.name)
    if text is None:
        return None
    if text == file.text:
        return []
    return [lsp.TextEdit(range=file.positions.whole_range(), new_text=text)]


def register(server: FlowServer) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    def formatting(
        ls: FlowServer, params: lsp.DocumentFormattingParams
    ) -> list[lsp.TextEdit] | None:
        file = ls.current(params.text_document.uri)
        if file is None:
            return None
        edits = format_edits(file)
        if edits is None:
            ls.window_show_message(
                lsp.ShowMessageParams(
                    type=lsp.MessageType.Warning,
                    message="FlowPilot: the flow has syntax errors, so it cannot be formatted",
                )
            )
        return edits
