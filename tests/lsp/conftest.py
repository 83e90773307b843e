"""A real language-server session over stdio for the LSP tests.

Each test module starts ``flowpilot lsp`` once (``python -m flowpilot.cli.main lsp``) in a
workspace folder holding two flows — ``child-flow`` and a ``parent`` that calls it — and talks
to it with pytest-lsp's client (a real LSP client over the process's stdin/stdout). Tests open
documents of their own, each under a fresh URI, so they do not disturb one another.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

CHILD = textwrap.dedent(
    """\
    flow: child-flow
    name: Child flow
    description: Sends a greeting
    inputs:
      who: string
    steps:
      - id: greet
        uses: core.log
        with: { message: "hello {{ inputs.who }}" }
    """
)

PARENT = textwrap.dedent(
    """\
    flow: parent
    inputs:
      who: string
    steps:
      - id: run_child
        call: child-flow
        with: { who: "${{ inputs.who }}" }
    """
)


class FlowClient(LanguageClient):
    """pytest-lsp's client, keeping each document's latest published diagnostics *with their
    version*, so a test can wait for the diagnostics of exactly the text it sent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.published: dict[str, lsp.PublishDiagnosticsParams] = {}
        self._versions = itertools.count(1)
        self._uris = itertools.count(1)
        self.root: Path = Path()
        self.registrations: list[lsp.Registration] = []

    def new_uri(self, suffix: str = ".flow.yaml", name: str = "doc") -> str:
        """A fresh URI in the workspace folder (the file need not exist on disk)."""
        return (self.root / f"{name}{next(self._uris)}{suffix}").as_uri()

    async def open(self, uri: str, text: str) -> lsp.PublishDiagnosticsParams:
        """Open a document and wait for its diagnostics."""
        version = next(self._versions)
        language = "flowpilot" if uri.endswith(".flow") else "yaml"
        self.text_document_did_open(
            lsp.DidOpenTextDocumentParams(
                text_document=lsp.TextDocumentItem(
                    uri=uri, language_id=language, version=version, text=text
                )
            )
        )
        return await self.wait_diagnostics(uri, version)

    async def replace(self, uri: str, text: str) -> lsp.PublishDiagnosticsParams:
        """Replace a document's whole text (one incremental change) and wait for its
        diagnostics."""
        version = next(self._versions)
        self.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
        return await self.wait_diagnostics(uri, version)

    async def wait_diagnostics(
        self, uri: str, version: int | None = None, timeout: float = 20.0
    ) -> lsp.PublishDiagnosticsParams:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = self.published.get(uri)
            if found is not None and (version is None or found.version == version):
                return found
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"no diagnostics for {uri} version {version}")
            await asyncio.sleep(0.005)


def _make_client() -> FlowClient:
    client = FlowClient(converter_factory=default_converter)
    features = {
        method: handler
        for method, handler in DEFAULT_CLIENT_FEATURES.items()
        if method != lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS
    }
    register_lsp_features(client, features)

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_publish(ls: FlowClient, params: lsp.PublishDiagnosticsParams) -> None:
        ls.published[params.uri] = params
        ls.diagnostics[params.uri] = params.diagnostics

    @client.feature(lsp.CLIENT_REGISTER_CAPABILITY)
    def on_register(ls: FlowClient, params: lsp.RegistrationParams) -> None:
        ls.registrations.extend(params.registrations)

    return client


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lsp-workspace")
    (root / "flows").mkdir()
    (root / "flows" / "child.flow.yaml").write_text(CHILD, encoding="utf-8")
    (root / "flows" / "parent.flow.yaml").write_text(PARENT, encoding="utf-8")
    return root


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "flowpilot.cli.main", "lsp", "--debounce", "0"],
        client_factory=_make_client,
    ),
)
async def client(lsp_client: FlowClient, workspace: Path):  # type: ignore[no-untyped-def]
    lsp_client.root = workspace
    await lsp_client.initialize_session(
        lsp.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=workspace.as_uri(),
            workspace_folders=[lsp.WorkspaceFolder(uri=workspace.as_uri(), name="flows")],
        )
    )
    yield
    await lsp_client.shutdown_session()


def position_of(text: str, needle: str, offset: int = 0, occurrence: int = 0) -> lsp.Position:
    """The LSP position (UTF-16 columns) of ``needle`` in ``text`` (plus ``offset`` chars)."""
    index = -1
    for _ in range(occurrence + 1):
        index = text.index(needle, index + 1)
    index += offset
    line = text.count("\n", 0, index)
    column_text = text[text.rfind("\n", 0, index) + 1 : index]
    return lsp.Position(line=line, character=len(column_text.encode("utf-16-le")) // 2)


def end_of(text: str, needle: str, occurrence: int = 0) -> lsp.Position:
    """The position just after ``needle``."""
    return position_of(text, needle, len(needle), occurrence)
