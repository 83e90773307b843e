"""The reverse direction: an organization's flows written as files of the repository
convention (``flows/<flow id>.flow.yaml`` or ``.flow``, by each version's format), and
optionally committed, so that a team can start its repository from what it built in the UI."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dulwich import porcelain
from dulwich.errors import NotGitRepository
from dulwich.repo import Repo

from flowpilot.gitops.config import FLOWS_DIR

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


def write_flows(directory: Path, flows: Iterable[ExportedFlow]) -> dict[str, WriteStatus]:
    """Write each flow under ``directory``; returns what happened to each path. A file whose
    content is already the flow's is left untouched (its modification time too)."""
    written: dict[str, WriteStatus] = {}
    for flow in flows:
        relative = export_path(flow.flow_id, flow.format)
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
    """Commit ``paths`` (relative to ``directory``, made a repository if it is not one);
    returns the new commit id, or None when they hold nothing new."""
    try:
        repo = Repo(str(directory))
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
