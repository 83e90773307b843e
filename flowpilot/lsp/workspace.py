"""The flows the server knows: open documents and the flow files of the workspace folders.

Every file has its own :class:`~flowpilot.compiler.pipeline.CompileSession`, so re-checking
after an edit reuses the unchanged steps. All sessions share one
:class:`~flowpilot.compiler.context.CompileOptions` whose ``flows`` maps every flow id of the
workspace to its flow: that is how a ``call:`` in one file is checked against the flows of the
others. Open documents take precedence over the text on disk.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pygls import uris

from flowpilot.compiler.context import CompileOptions
from flowpilot.compiler.pipeline import CompileResult, CompileSession, is_flow_file, syntax_of
from flowpilot.dsl import ast
from flowpilot.lsp.positions import UTF16, PositionMap
from flowpilot.stdlib.registry import Registry, default_registry

log = logging.getLogger(__name__)

# Directories never scanned for flows (dependencies, build output, version control).
SKIPPED_DIRS = frozenset(
    {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".tox", "dist"}
)
MAX_WORKSPACE_FILES = 5000


@dataclass
class FlowFile:
    """One flow file: its current text and the latest compile of it.

    ``result`` and ``positions`` always describe the same text (the one last checked), which
    may lag ``text`` by a pending edit; features answer from the checked version.
    """

    uri: str
    name: str  # the file name the compiler sees: a path for file:// URIs, else the URI
    text: str
    version: int | None = None
    is_open: bool = False
    session: CompileSession | None = None
    result: CompileResult | None = None
    positions: PositionMap | None = None
    checked_text: str | None = field(default=None, repr=False)
    # The latest check whose text parsed: completion falls back on it while the text is
    # half-written.
    last_good: CompileResult | None = field(default=None, repr=False)

    @property
    def syntax(self) -> str:
        return syntax_of(self.name)

    @property
    def flow(self) -> ast.Flow | None:
        return self.result.flow if self.result is not None else None

    @property
    def stale(self) -> bool:
        """True when the text changed since the last check."""
        return self.checked_text != self.text


def uri_name(uri: str) -> str:
    """The file name the compiler reports for ``uri``."""
    path = uris.to_fs_path(uri)
    return path if path else uri


class FlowWorkspace:
    """Flow files by URI, and the compile options that tie them together."""

    def __init__(self, registry: Registry | None = None, encoding: str = UTF16) -> None:
        self.registry = registry or default_registry()
        self.encoding = encoding
        self.roots: list[Path] = []
        self.files: dict[str, FlowFile] = {}
        # `flows` stays None without a workspace folder: a lone file's `call:` targets live
        # elsewhere (on the server), so they must not be reported as unknown.
        self.options = CompileOptions(flows=None)
        self._flow_ids: frozenset[str] = frozenset()

    # -- the set of files --------------------------------------------------------------------

    def set_roots(self, paths: list[Path]) -> None:
        self.roots = [p for p in paths if p.is_dir()]
        self.options.flows = {} if self.roots else None

    def scan(self) -> list[str]:
        """Load every flow file under the workspace folders; returns their URIs."""
        found: list[str] = []
        for path in self._flow_paths():
            uri = uris.from_fs_path(str(path))
            if uri is None or uri in self.files:
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                log.warning("cannot read %s: %s", path, exc)
                continue
            self.files[uri] = FlowFile(uri=uri, name=str(path), text=text)
            found.append(uri)
        return found

    def _flow_paths(self) -> Iterator[Path]:
        count = 0
        for root in self.roots:
            for folder, dirs, names in os.walk(root):
                dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
                for name in sorted(names):
                    if is_flow_file(name):
                        count += 1
                        if count > MAX_WORKSPACE_FILES:
                            log.warning("more than %d flow files; not scanning further", count)
                            return
                        yield Path(folder) / name

    def in_roots(self, uri: str) -> bool:
        path = uris.to_fs_path(uri)
        if not path:
            return False
        resolved = Path(path)
        return any(resolved.is_relative_to(root) for root in self.roots)

    def get(self, uri: str) -> FlowFile | None:
        return self.files.get(uri)

    def open(
        self, uri: str, text: str, version: int | None, language_id: str = ""
    ) -> FlowFile | None:
        """Track an opened document. Editors usually send every YAML file to the server
        (``*.flow.yaml`` has no language of its own), so only flow files are taken: a name
        ending in ``.flow``, ``.flow.yaml`` or ``.flow.yml``, or a ``flowpilot`` language id.
        Returns None for any other document."""
        if not is_flow_file(uri_name(uri)) and not language_id.startswith("flowpilot"):
            return None
        file = self.files.get(uri)
        if file is None:
            file = self.files[uri] = FlowFile(uri=uri, name=uri_name(uri), text=text)
        file.text, file.version, file.is_open = text, version, True
        return file

    def change(self, uri: str, text: str, version: int | None) -> FlowFile | None:
        file = self.files.get(uri)
        if file is not None:
            file.text, file.version = text, version
        return file

    def close(self, uri: str) -> FlowFile | None:
        """Forget the editor's text: a workspace file goes back to its text on disk (returned,
        to be checked again); any other file is dropped (None)."""
        file = self.files.get(uri)
        if file is None:
            return None
        if self.in_roots(uri) and is_flow_file(file.name):
            return self.reload(uri)
        del self.files[uri]
        self._forget(file)
        return None

    def reload(self, uri: str) -> FlowFile | None:
        """Re-read a file that is not open from disk (it changed, or it was closed).

        Returns the file, or None when it is gone (then it is forgotten).
        """
        file = self.files.get(uri)
        path = uris.to_fs_path(uri)
        try:
            text = Path(path).read_text(encoding="utf-8") if path else None
        except (OSError, UnicodeDecodeError):
            text = None
        if text is None:
            if file is not None and not file.is_open:
                del self.files[uri]
                self._forget(file)
            return None
        if file is None:
            file = self.files[uri] = FlowFile(uri=uri, name=str(path), text=text)
        elif not file.is_open:
            file.text, file.version = text, None
        file.is_open = False
        return file

    def _forget(self, file: FlowFile) -> None:
        file.result = None
        self._index_flows()

    # -- checking ----------------------------------------------------------------------------

    def check(self, file: FlowFile) -> bool:
        """Compile the file's current text. Returns True when the workspace's set of flow ids
        changed (a flow was added, removed or renamed), so files with ``call:`` steps need a
        new check."""
        if file.session is None:
            file.session = CompileSession(file.name, registry=self.registry, options=self.options)
        text = file.text
        file.result = file.session.compile(text)
        file.positions = PositionMap(text, self.encoding)
        file.checked_text = text
        if file.result.flow is not None:
            file.last_good = file.result
        return self._index_flows()

    def _index_flows(self) -> bool:
        flows: dict[str, ast.Flow] = {}
        for file in self.files.values():
            flow = file.flow
            if flow is not None and flow.id:
                flows.setdefault(flow.id, flow)
        if self.options.flows is not None:
            self.options.flows.clear()
            self.options.flows.update(flows)
        ids = frozenset(flows)
        changed = ids != self._flow_ids
        self._flow_ids = ids
        return changed

    def callers(self) -> list[FlowFile]:
        """Checked files with at least one ``call:`` step."""
        return [
            f
            for f in self.files.values()
            if f.flow is not None and any(isinstance(s, ast.CallStep) for s in f.flow.all_steps())
        ]

    def flow_file(self, flow_id: str) -> FlowFile | None:
        """The file that defines flow ``flow_id``."""
        for file in self.files.values():
            if file.flow is not None and file.flow.id == flow_id:
                return file
        return None

    def checked(self) -> Iterator[FlowFile]:
        return (f for f in self.files.values() if f.result is not None)
