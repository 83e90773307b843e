"""`flowpilot lsp --tcp PORT`, and the server noticing flow files changed on disk."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

from tests.lsp.conftest import FlowClient

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_tcp_server_answers_over_a_socket(tmp_path: Path):
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "flowpilot.cli.main", "lsp", "--tcp", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = LanguageClient("tcp-test", "1")
    published: asyncio.Queue[lsp.PublishDiagnosticsParams] = asyncio.Queue()

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_publish(params: lsp.PublishDiagnosticsParams) -> None:
        published.put_nowait(params)

    try:
        for _ in range(200):
            try:
                await client.start_tcp("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.05)
        else:
            pytest.fail("the TCP server did not start")
        await client.initialize_async(lsp.InitializeParams(capabilities=lsp.ClientCapabilities()))
        client.initialized(lsp.InitializedParams())
        uri = (tmp_path / "t.flow.yaml").as_uri()
        client.text_document_did_open(
            lsp.DidOpenTextDocumentParams(
                text_document=lsp.TextDocumentItem(
                    uri=uri,
                    language_id="yaml",
                    version=1,
                    text="flow: t\nsteps:\n  - id: a\n    uses: core.lgo\n",
                )
            )
        )
        params = await asyncio.wait_for(published.get(), 20)
        assert [d.code for d in params.diagnostics] == ["E101"]
        await client.shutdown_async(None)
        client.exit(None)
    finally:
        await client.stop()
        server.terminate()
        server.wait(10)


async def test_server_asks_to_watch_flow_files(client: FlowClient):
    # The server registers the watcher once initialized, so the request may still be coming.
    for _ in range(1000):
        if client.registrations:
            break
        await asyncio.sleep(0.01)
    (registration,) = client.registrations
    assert registration.method == lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES
    globs = [w["globPattern"] for w in registration.register_options["watchers"]]  # type: ignore[index]
    assert "**/*.flow" in globs and "**/*.flow.yaml" in globs


async def test_a_flow_changed_on_disk_is_checked_again(client: FlowClient):
    path = client.root / "flows" / "disk.flow.yaml"
    path.write_text("flow: on-disk\nsteps:\n  - id: a\n    uses: core.noop\n", encoding="utf-8")
    uri = path.as_uri()
    client.workspace_did_change_watched_files(
        lsp.DidChangeWatchedFilesParams(
            changes=[lsp.FileEvent(uri=uri, type=lsp.FileChangeType.Created)]
        )
    )
    assert not (await client.wait_diagnostics(uri)).diagnostics
    path.write_text(
        textwrap.dedent("""\
        flow: on-disk
        steps:
          - id: a
            uses: core.nop
        """),
        encoding="utf-8",
    )
    client.published.pop(uri)
    client.workspace_did_change_watched_files(
        lsp.DidChangeWatchedFilesParams(
            changes=[lsp.FileEvent(uri=uri, type=lsp.FileChangeType.Changed)]
        )
    )
    assert [d.code for d in (await client.wait_diagnostics(uri)).diagnostics] == ["E101"]
    path.unlink()
    client.published.pop(uri)
    client.workspace_did_change_watched_files(
        lsp.DidChangeWatchedFilesParams(
            changes=[lsp.FileEvent(uri=uri, type=lsp.FileChangeType.Deleted)]
        )
    )
    assert not (await client.wait_diagnostics(uri)).diagnostics
