"""The FlowPilot language server: assembles the feature modules on a pygls server.

``flowpilot lsp`` runs it over stdio (what editors start) or, with ``--tcp PORT``, listening
on 127.0.0.1 (handy for debugging a client). Each feature lives in its own module and adds its
handlers in ``register``; this module only holds the shared state — the
:class:`~flowpilot.lsp.workspace.FlowWorkspace` and the diagnostics debouncer.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from pathlib import Path

from lsprotocol import types as lsp
from pygls import uris
from pygls.lsp.server import LanguageServer

from flowpilot import __version__
from flowpilot.lsp import (
    code_actions,
    completion,
    diagnostics,
    formatting,
    hover,
    navigation,
    symbols,
)
from flowpilot.lsp.workspace import FlowFile, FlowWorkspace

log = logging.getLogger(__name__)

DEFAULT_DEBOUNCE = 0.1
"""Seconds between two checks of a document while it is being edited."""

FEATURES = (diagnostics, completion, hover, navigation, symbols, formatting, code_actions)


class IdleCollector:
    """Runs the cyclic garbage collector when the server is idle instead of mid-request.

    Every check allocates a fresh plan, context and diagnostics (hundreds of thousands of
    objects for a large flow); an automatic collection triggered while answering the next
    edit scans them all and doubled the tail latency of diagnostics. So automatic collection
    is off while the server runs, and a full collection runs once ``delay`` seconds pass
    without a check — or after ``every`` checks, whichever comes first, so that memory stays
    bounded during a long burst of edits.
    """

    def __init__(self, delay: float = 1.0, every: int = 50) -> None:
        self.delay = delay
        self.every = every
        self._checks = 0
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        gc.disable()

    def after_check(self) -> None:
        self._checks += 1
        if self._checks >= self.every:
            self.collect()
            return
        if self._timer is not None:
            self._timer.cancel()
        try:
            self._timer = asyncio.get_running_loop().call_later(self.delay, self.collect)
        except RuntimeError:  # no event loop: used outside the server (tests, tools)
            self._timer = None

    def collect(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._checks = 0
        gc.collect()


class FlowServer(LanguageServer):
    """A pygls server holding the flows of the workspace."""

    def __init__(self, debounce: float = DEFAULT_DEBOUNCE) -> None:
        super().__init__(
            "flowpilot",
            __version__,
            text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental,
        )
        self.flows = FlowWorkspace()
        self.checks = diagnostics.Debouncer(
            lambda uri: diagnostics.check_and_publish(self, uri), debounce
        )
        self.collector = IdleCollector()

    def current(self, uri: str) -> FlowFile | None:
        """The file with its latest text checked: a request never answers from a version
        older than the text the client sees (a pending debounced check runs now)."""
        file = self.flows.get(uri)
        if file is not None and (file.stale or file.result is None):
            self.checks.cancel(uri)
            diagnostics.check_and_publish(self, uri)
        return file


def _workspace_roots(params: lsp.InitializeParams) -> list[Path]:
    found = [f.uri for f in params.workspace_folders or []]
    if not found and params.root_uri:
        found = [params.root_uri]
    roots = []
    for uri in found:
        path = uris.to_fs_path(uri)
        if path:
            roots.append(Path(path))
    return roots


def _encoding(params: lsp.InitializeParams) -> str:
    """The position encoding pygls negotiated (it picks the client's first supported one)."""
    general = params.capabilities.general
    offered = general.position_encodings if general is not None else None
    for encoding in offered or ():
        if encoding in ("utf-8", "utf-16", "utf-32"):
            return str(encoding)
    return "utf-16"


def create_server(debounce: float = DEFAULT_DEBOUNCE) -> FlowServer:
    server = FlowServer(debounce)

    @server.feature(lsp.INITIALIZE)
    def initialize(ls: FlowServer, params: lsp.InitializeParams) -> None:
        ls.flows.encoding = _encoding(params)
        ls.flows.set_roots(_workspace_roots(params))

    @server.feature(lsp.INITIALIZED)
    async def initialized(ls: FlowServer, params: lsp.InitializedParams) -> None:
        watch = ls.client_capabilities.workspace
        if (
            watch is not None
            and watch.did_change_watched_files is not None
            and watch.did_change_watched_files.dynamic_registration
        ):
            ls.client_register_capability(diagnostics.watched_files_registration())
        await check_workspace(ls)

    for feature in FEATURES:
        feature.register(server)
    return server


async def check_workspace(server: FlowServer) -> None:
    """Check every flow file of the workspace folders and publish its diagnostics, yielding
    to the editor's requests between files.

    Files with ``call:`` steps checked before the flows they call were loaded are checked once
    more at the end, so each file is published once, with the complete set of flow ids.
    """
    found = server.flows.scan()
    for uri in found:
        file = server.flows.get(uri)
        if file is not None and file.result is None:
            server.flows.check(file)
            server.collector.after_check()
        await asyncio.sleep(0)
    scanned = set(found)
    for caller in server.flows.callers():
        if caller.uri in scanned and not caller.is_open:
            server.flows.check(caller)
    for uri in found:
        file = server.flows.get(uri)
        if file is not None and not file.is_open and file.result is not None:
            diagnostics.publish(server, file)


def run_stdio(debounce: float = DEFAULT_DEBOUNCE) -> None:
    server = create_server(debounce)
    server.collector.start()
    server.start_io()


def run_tcp(port: int, host: str = "127.0.0.1", debounce: float = DEFAULT_DEBOUNCE) -> None:
    server = create_server(debounce)
    server.collector.start()
    server.start_tcp(host, port)
