"""Every flow of a snapshot, compiled together, with every diagnostic.

The flows a sync would write, or the reasons it cannot: a file that does not compile, two
files declaring one flow id (``G002``), no flow file at all (``G003``: a wrong ``--path`` or
ref must not look like "every flow was deleted" to a pruning sync; a repository that means to
hold no flow says so with a ``flows/.keep`` file), a ``flowpilot.yaml`` with problems
(``G001``). Diagnostics name the repository path of the file, so they read
``flows/billing/invoice.flow.yaml:12:7 E104 …``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from flowpilot.compiler.pipeline import compile_source, decode_error, syntax_of
from flowpilot.dsl.diagnostics import Diagnostic, Severity
from flowpilot.dsl.span import Span
from flowpilot.gitops.config import RepoConfig, load_config
from flowpilot.gitops.source import Snapshot

DUPLICATE_FLOW = "G002"
NO_FLOWS = "G003"


def source_hash(source: str) -> str:
    """The content hash of a flow: the SHA-256 of its text (what workflow versions store)."""
    return hashlib.sha256(source.encode()).hexdigest()


@dataclass(frozen=True)
class FlowFile:
    """A flow file that compiles."""

    path: str
    flow_id: str
    #: ``yaml`` or ``text``, by the file's name.
    format: str
    source: str
    hash: str
    plan_hash: str


@dataclass
class Prepared:
    snapshot: Snapshot
    config: RepoConfig
    flows: list[FlowFile] = field(default_factory=list)
    #: Flow files under ``flows/`` that ``flowpilot.yaml`` leaves out.
    excluded: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors


def decode_file(path: str, data: bytes) -> tuple[str | None, Diagnostic | None]:
    """The text of a flow file, or the diagnostic saying it is not UTF-8."""
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, decode_error(data, exc, path)


def prepare(snapshot: Snapshot) -> Prepared:
    """Compile every flow file of ``snapshot`` that ``flowpilot.yaml`` selects."""
    config, problems = load_config(snapshot.config, snapshot.config_path)
    prepared = Prepared(snapshot=snapshot, config=config, diagnostics=list(problems))
    if not snapshot.files:
        if not snapshot.has_keep_file:
            where = snapshot.flows_path + "/"
            prepared.diagnostics.append(
                Diagnostic(
                    NO_FLOWS,
                    Severity.ERROR,
                    f"commit {snapshot.commit.sha[:12]} has no flow file under {where}",
                    Span(where, 1, 1, 1, 1, 0, 0),
                    "check the ref and the sync root (--path); keep the directory with a "
                    f"{where}.keep file when the repository should hold no flow",
                )
            )
        return prepared
    prefix = snapshot.flows_path + "/"
    first_of: dict[str, FlowFile] = {}
    for path, data in snapshot.files.items():
        if not config.selects(path.removeprefix(prefix)):
            prepared.excluded.append(path)
            continue
        source, problem = decode_file(path, data)
        if source is None:
            assert problem is not None
            prepared.diagnostics.append(problem)
            continue
        fmt = syntax_of(path)
        result = compile_source(source, path, syntax=fmt)
        prepared.diagnostics.extend(result.diagnostics)
        if result.flow is None or not result.ok or result.plan_hash is None:
            continue
        flow_id = result.flow.id
        earlier = first_of.get(flow_id)
        if earlier is not None:
            prepared.diagnostics.append(
                Diagnostic(
                    DUPLICATE_FLOW,
                    Severity.ERROR,
                    f"flow id '{flow_id}' is also declared by {earlier.path}",
                    result.flow.id_span,
                    "each flow id names one workflow: rename one of the flows",
                )
            )
            continue
        first_of[flow_id] = FlowFile(
            path=path,
            flow_id=flow_id,
            format=fmt,
            source=source,
            hash=source_hash(source),
            plan_hash=result.plan_hash,
        )
    prepared.flows = sorted(first_of.values(), key=lambda f: f.flow_id)
    prepared.diagnostics.sort(key=Diagnostic.sort_key)
    return prepared
