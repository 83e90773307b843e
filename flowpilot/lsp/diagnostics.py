"""Diagnostics: the compiler's list, published on open and (debounced) on every change.

A change is checked at once when the document has been quiet for ``interval`` seconds (the
leading edge: one edit after a pause gets its diagnostics as fast as the compiler can give
them); changes that arrive sooner are coalesced into one check at the end of the interval on
the latest text (the trailing edge), so fast typing never queues up stale checks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp

from flowpilot.dsl.diagnostics import Diagnostic, Severity
from flowpilot.lsp.positions import PositionMap

if TYPE_CHECKING:
    from flowpilot.lsp.server import FlowServer
    from flowpilot.lsp.workspace import FlowFile

log = logging.getLogger(__name__)

SOURCE = "flowpilot"

_SEVERITY = {
    Severity.ERROR: lsp.DiagnosticSeverity.Error,
    Severity.WARNING: lsp.DiagnosticSeverity.Warning,
    Severity.INFO: lsp.DiagnosticSeverity.Information,
}


def to_lsp(diagnostic: Diagnostic, positions: PositionMap) -> lsp.Diagnostic:
    """One compiler diagnostic as an LSP diagnostic.

    LSP has no place for a hint, so it follows the message on its own line (as ``flowpilot
    check`` prints it) and is also kept in ``data`` for code actions.
    """
    message = diagnostic.message
    if diagnostic.hint:
        message += f"\nhint: {diagnostic.hint}"
    return lsp.Diagnostic(
        range=positions.span_range(diagnostic.span),
        severity=_SEVERITY[diagnostic.severity],
        code=diagnostic.code,
        source=SOURCE,
        message=message,
        data={"hint": diagnostic.hint} if diagnostic.hint else None,
    )


def file_diagnostics(file: FlowFile) -> list[lsp.Diagnostic]:
    """The LSP diagnostics of the file's latest check (those of this file only)."""
    if file.result is None or file.positions is None:
        return []
    return [
        to_lsp(d, file.positions)
        for d in file.result.diagnostics
        if d.span.file == file.name or d.span.file == "<unknown>"
    ]


class Debouncer:
    """Runs ``action(key)`` at most once per ``interval`` per key, always on the latest state."""

    def __init__(self, action: Callable[[str], None], interval: float) -> None:
        self.action = action
        self.interval = interval
        self._pending: dict[str, asyncio.TimerHandle] = {}
        self._last: dict[str, float] = {}

    def request(self, key: str) -> None:
        if key in self._pending:
            return  # the pending run will see the latest text
        loop = asyncio.get_running_loop()
        last = self._last.get(key)
        wait = 0.0 if last is None else max(0.0, last + self.interval - loop.time())
        self._pending[key] = loop.call_later(wait, self._run, key)

    def cancel(self, key: str) -> None:
        handle = self._pending.pop(key, None)
        if handle is not None:
            handle.cancel()

    def _run(self, key: str) -> None:
        self._pending.pop(key, None)
        self._last[key] = asyncio.get_running_loop().time()
        try:
            self.action(key)
        except Exception:  # a failed check must not stop the server
            log.exception("checking %s failed", key)


def publish(server: FlowServer, file: FlowFile) -> None:
    server.text_document_publish_diagnostics(
        lsp.PublishDiagnosticsParams(
            uri=file.uri,
            version=file.version if file.is_open else None,
            diagnostics=file_diagnostics(file),
        )
    )


def check_and_publish(server: FlowServer, uri: str) -> None:
    """Check one file and publish its diagnostics; when the workspace's flow ids changed,
    re-check the files that call other flows (their ``call:`` targets may now resolve)."""
    file = server.flows.get(uri)
    if file is None:
        return
    ids_changed = server.flows.check(file)
    publish(server, file)
    server.collector.after_check()
    if ids_changed:
        for caller in server.flows.callers():
            if caller.uri != uri:
                server.checks.request(caller.uri)


def register(server: FlowServer) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: FlowServer, params: lsp.DidOpenTextDocumentParams) -> None:
        doc = params.text_document
        if ls.flows.open(doc.uri, doc.text, doc.version, doc.language_id) is None:
            return
        ls.checks.cancel(doc.uri)
        check_and_publish(ls, doc.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: FlowServer, params: lsp.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        document = ls.workspace.get_text_document(uri)
        if ls.flows.change(uri, document.source, params.text_document.version) is not None:
            ls.checks.request(uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: FlowServer, params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        if ls.flows.get(uri) is None:
            return  # not a flow
        ls.checks.cancel(uri)
        file = ls.flows.close(uri)
        if file is None:
            ls.text_document_publish_diagnostics(
                lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[])
            )
            for caller in ls.flows.callers():  # a flow they call may have gone with it
                ls.checks.request(caller.uri)
        else:
            check_and_publish(ls, uri)

    @server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched(ls: FlowServer, params: lsp.DidChangeWatchedFilesParams) -> None:
        for change in params.changes:
            file = ls.flows.get(change.uri)
            if file is not None and file.is_open:
                continue  # the editor's text wins over the disk
            if ls.flows.reload(change.uri) is None:
                ls.text_document_publish_diagnostics(
                    lsp.PublishDiagnosticsParams(uri=change.uri, diagnostics=[])
                )
                for caller in ls.flows.callers():
                    ls.checks.request(caller.uri)
            elif ls.flows.in_roots(change.uri):
                ls.checks.request(change.uri)


def watched_files_registration() -> lsp.RegistrationParams:
    """Asks the client to report changes to flow files made outside the editor."""
    patterns = ["**/*.flow", "**/*.flow.yaml", "**/*.flow.yml"]
    options: Any = lsp.DidChangeWatchedFilesRegistrationOptions(
        watchers=[lsp.FileSystemWatcher(glob_pattern=p) for p in patterns]
    )
    return lsp.RegistrationParams(
        registrations=[
            lsp.Registration(
                id="flowpilot-watched-files",
                method=lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                register_options=options,
            )
        ]
    )
