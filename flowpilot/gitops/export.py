"""The reverse direction: an organization's flows written as files of the repository
convention (``flows/<flow id>.flow.yaml`` or ``.flow``, by each version's format), and
optionally committed, so that a team can start its repository from what it built in the UI.

Exporting again into that repository updates each flow where it is: a file the team moved
(``flows/billing/invoice.flow.yaml``) keeps its place instead of gaining a second file with
the same flow id, which a sync would refuse (``G002``)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dulwich import porcelain
from dulwich.errors import NotGitRepository
from dulwich.repo import Repo

from flowpilot.compiler.pipeline import is_flow_file, parse_source, syntax_of
from flowpilot.gitops.config import FLOWS_DIR

log = logging.getLogger(__name__)

DEFAULT_AUTHOR = "FlowPilot <flowpilot@localhost>"
_FLOW_ID = re.compile(r"^[a-z][a-z0-9-]{0,62}$")

WriteStatus = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class ExportedFlow:
    flow_id: str
    #: ``yaml`` or ``text``.
    format: str
    source: str


def export_path(flow_id: str, fmt: str) -> str:
    """Where a flow goes in the repository, relative to its root."""
    if not _FLOW_ID.match(flow_id):  # flow ids are checked when saved; never write elsewhere
        raise ValueError(f"{flow_id!r} is not a flow id")
    return f"{FLOWS_DIR}/{flow_id}.flow" if fmt == "text" else f"{FLOWS_DIR}/{flow_id}.flow.yaml"


def existing_flows(directory: Path) -> dict[tuple[str, str], str]:
    """The flow files already under ``directory/flows/``: (flow id, syntax) → path relative
    to ``directory`` (the first in path order when two declare one flow)."""
    found: dict[tuple[str, str], str] = {}
    root = directory / FLOWS_DIR
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder) / name
            if not is_flow_file(name) or path.is_symlink() or not path.is_file():
                continue  # never write through a link to outside the repository
            relative = path.relative_to(directory).as_posix()
            try:
                flow, _ = parse_source(path.read_text(encoding="utf-8"), relative)
            except (OSError, UnicodeDecodeError) as exc:
                log.warning("cannot read %s: %s", path, exc)
                continue
            if flow is not None and flow.id:
                found.setdefault((flow.id, syntax_of(name)), relative)
    return found


def write_flows(directory: Path, flows: Iterable[ExportedFlow]) -> dict[str, WriteStatus]:
    """Write each flow under ``directory``; returns what happened to each path. A flow already
    in a file of its syntax under ``flows/`` is written there, wherever it is; a file whose
    content is already the flow's is left untouched (its modification time too)."""
    written: dict[str, WriteStatus] = {}
    existing = existing_flows(directory)
    for flow in flows:
        syntax = "text" if flow.format == "text" else "yaml"
        relative = existing.get((flow.flow_id, syntax)) or export_path(flow.flow_id, flow.format)
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        data = flow.source.encode("utf-8")
        if target.exists():
            if target.read_bytes() == data:
                written[relative] = "unchanged"
                continue
            written[relative] = "updated"
        else:
            written[relative] = "created"
        target.write_bytes(data)
    return written


def _identity(repo: Repo) -> str:
    config = repo.get_config_stack()
    try:
        name = config.get((b"user",), b"name").decode()
        email = config.get((b"user",), b"email").decode()
    except KeyError:
        return DEFAULT_AUTHOR
    return f"{name} <{email}>"


def commit_files(
    directory: Path, paths: Iterable[str], message: str, author: str | None = None
) -> str | None:
    """Commit ``paths`` (relative to ``directory``) in the repository holding ``directory``
    (as git does from a subdirectory: a sync root inside a checkout), or in a new repository
    made of ``directory`` when none holds it; returns the new commit id, or None when they
    hold nothing new."""
    try:
        repo = Repo.discover(str(directory))
    except NotGitRepository:
        repo = Repo.init(str(directory))
    try:
        absolute = [str((directory / p).resolve()) for p in paths]
        if not absolute:
            return None
        porcelain.add(repo, absolute)
        staged = porcelain.status(repo).staged
        if not any(staged.values()):
            return None
        identity = (author or _identity(repo)).encode()
        sha = porcelain.commit(repo, message=message, author=identity, committer=identity)
        return sha.decode("ascii")
    finally:
        repo.close()
