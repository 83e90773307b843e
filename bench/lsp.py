"""Language-server benchmark: diagnostics latency after a one-line edit, through the real server.

Starts ``flowpilot lsp`` over stdio, opens a generated 500-step flow (the generator of
``bench/compile.py``), then sends one-line edits (``textDocument/didChange`` with an incremental
range) and times each until the ``textDocument/publishDiagnostics`` of that document version
arrives. Edits are spaced by a typing pause longer than the server's debounce interval, so
each is checked on the leading edge (as a single edit after a pause is). A second figure
times a burst of keystrokes: from the last keystroke to the diagnostics of the final text.
Target (2-core machine): median <= 50 ms for a single edit.

    python bench/lsp.py [--steps 500] [--edits 40] [--pause 0.15]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from compile import generate_yaml


class _Client(LanguageClient):
    def __init__(self) -> None:
        super().__init__("flowpilot-bench", "1")
        self.arrived: dict[int, float] = {}
        self.errors: dict[int, int] = {}


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def _wait_version(client: _Client, version: int, timeout: float = 30.0) -> float:
    deadline = time.perf_counter() + timeout
    while version not in client.arrived:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no diagnostics for version {version}")
        await asyncio.sleep(0.0005)
    return client.arrived[version]


def _edit(client: _Client, uri: str, version: int, line: int, old: str, new: str) -> None:
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                lsp.TextDocumentContentChangePartial(
                    range=lsp.Range(
                        start=lsp.Position(line=line, character=0),
                        end=lsp.Position(line=line, character=len(old)),
                    ),
                    text=new,
                )
            ],
        )
    )


async def run(steps: int, edits: int, pause: float) -> None:
    client = _Client()

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_publish(params: lsp.PublishDiagnosticsParams) -> None:
        if params.version is not None:
            client.arrived[params.version] = time.perf_counter()
            client.errors[params.version] = sum(
                1 for d in params.diagnostics if d.severity == lsp.DiagnosticSeverity.Error
            )

    await client.start_io(sys.executable, "-m", "flowpilot.cli.main", "lsp")
    await client.initialize_async(lsp.InitializeParams(capabilities=lsp.ClientCapabilities()))
    client.initialized(lsp.InitializedParams())

    source = generate_yaml(steps)
    lines = source.split("\n")
    targets = [i for i, line in enumerate(lines) if 'message: "step' in line]
    uri = Path("/tmp/flowpilot-bench/bench.flow.yaml").as_uri()
    opened = time.perf_counter()
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(uri=uri, language_id="yaml", version=1, text=source)
        )
    )
    first = await _wait_version(client, 1) - opened
    print(f"{steps}-step flow: {len(lines)} lines, {len(source) / 1024:.0f} KiB")
    print(f"open → first diagnostics: {first * 1000:.1f} ms (cold compile)")

    version = 1
    samples: list[float] = []
    for n in range(edits):
        await asyncio.sleep(pause)
        line = targets[n % len(targets)]
        old = lines[line]
        new = old.replace('message: "', f'message: "edit{n} ', 1)
        lines[line] = new
        version += 1
        sent = time.perf_counter()
        _edit(client, uri, version, line, old, new)
        samples.append((await _wait_version(client, version) - sent) * 1000)
    if client.errors.get(version):
        raise SystemExit("the edited flow has errors: the benchmark would not measure a full check")
    print(
        f"one-line edit → diagnostics ({edits} edits, {pause * 1000:.0f} ms apart): "
        f"median {statistics.median(samples):.1f} ms, p95 {_percentile(samples, 0.95):.1f} ms "
        "(target: median <= 50 ms)"
    )

    await asyncio.sleep(pause)
    line = targets[0]
    burst: list[float] = []
    for _ in range(5):
        for key in range(8):  # eight keystrokes 30 ms apart
            old = lines[line]
            lines[line] = old + "x"
            version += 1
            _edit(client, uri, version, line, old, lines[line])
            last = time.perf_counter()
            if key < 7:
                await asyncio.sleep(0.03)
        burst.append((await _wait_version(client, version) - last) * 1000)
        await asyncio.sleep(pause)
    checked = sum(1 for v in client.arrived if v > version - 40)
    print(
        f"burst of 8 keystrokes 30 ms apart → diagnostics of the final text: median "
        f"{statistics.median(burst):.1f} ms after the last keystroke "
        f"({checked} checks for 40 keystrokes)"
    )
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--edits", type=int, default=40)
    parser.add_argument("--pause", type=float, default=0.15, help="seconds between edits")
    args = parser.parse_args()
    asyncio.run(run(args.steps, args.edits, args.pause))


if __name__ == "__main__":
    main()
