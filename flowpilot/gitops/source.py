"""A git repository at a ref, read with dulwich (pure Python, no ``git`` binary needed).

A local repository is read where it is; anything else is a URL dulwich can fetch (``https://``,
``http://``, ``git://``, ``ssh://``, ``file://``): only the objects of the wanted ref are
fetched, into memory. What is read is a :class:`Snapshot`: the commit, ``flowpilot.yaml`` and
every flow file under ``flows/`` of the repository's sync root. The working tree is never
read: a sync is of committed content.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dulwich.client import default_urllib3_manager, get_transport_and_path
from dulwich.errors import NotGitRepository
from dulwich.object_store import iter_tree_contents, tree_lookup_path
from dulwich.objects import Commit, Tag
from dulwich.objectspec import parse_commit
from dulwich.repo import BaseRepo, MemoryRepo, Repo

from flowpilot.compiler.pipeline import is_flow_file
from flowpilot.gitops.config import CONFIG_FILE, FLOWS_DIR, join

_HEX = re.compile(r"^[0-9a-fA-F]{7,64}$")
#: Seconds an HTTP(S) fetch waits for the server to connect or to send more.
HTTP_TIMEOUT = 60.0
_PEELED = b"^{}"
#: Files that keep an otherwise empty ``flows/`` in git (git stores no empty directory).
KEEP_FILES = frozenset({".keep", ".gitkeep"})


class GitSourceError(Exception):
    """The repository cannot be read: the message says which part and what to check."""


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    #: ``Name <email>`` as recorded in the commit.
    author: str
    message: str
    committed_at: datetime | None = None

    @property
    def summary(self) -> str:
        """The first line of the message."""
        return self.message.strip().splitlines()[0] if self.message.strip() else ""


@dataclass(frozen=True)
class Snapshot:
    """What a sync reads from a repository at one commit."""

    #: How versions name the repository in their ``origin`` (see :func:`repository_identity`).
    repository: str
    #: The ref asked for (None: the repository's HEAD).
    ref: str | None
    commit: CommitInfo
    #: The directory of the repository holding ``flows/`` and ``flowpilot.yaml`` ('' = root).
    root: str = ""
    #: The text of ``flowpilot.yaml``, None when the repository has none.
    config: str | None = None
    #: Repository path → content of every flow file under ``<root>/flows/``.
    files: Mapping[str, bytes] = field(default_factory=dict)
    #: Whether ``<root>/flows/`` holds a ``.keep`` (or ``.gitkeep``) file: without a flow file
    #: beside it, the repository deliberately holds no flow (not a wrong ref or path).
    has_keep_file: bool = False

    @property
    def config_path(self) -> str:
        return join(self.root, CONFIG_FILE)

    @property
    def flows_path(self) -> str:
        return join(self.root, FLOWS_DIR)


# ---------------------------------------------------------------------------- naming


def is_local(location: str) -> bool:
    """Whether ``location`` is a repository on this machine (a path or a ``file://`` URL)."""
    return location.startswith("file://") or ("://" not in location and not _scp_like(location))


def _scp_like(location: str) -> bool:
    """``git@host:owner/repo.git``: ssh in scp syntax (a Windows drive letter is not)."""
    return bool(re.match(r"^[\w.-]+@[\w.-]+:", location))


def local_path(location: str) -> str:
    path = location[len("file://") :] if location.startswith("file://") else location
    return os.path.realpath(os.path.expanduser(path))


def redact(location: str) -> str:
    """``location`` without a password or token in it (safe to show and to store)."""
    if "://" not in location:
        return location
    parts = urlsplit(location)
    if parts.password is None and parts.username is None:
        return location
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def repository_identity(location: str) -> str:
    """The name versions record as their repository: a URL without credentials, scheme and host
    in lower case, without a trailing ``/`` or ``.git``; a local path made absolute.

    The same repository read from a CI checkout (whose ``origin`` remote is the URL) and
    registered on the server under its URL then has one name, so drift is seen across both."""
    if is_local(location):
        return local_path(location)
    location = redact(location.strip())
    if "://" in location:
        parts = urlsplit(location)
        location = urlunsplit(
            (parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query, "")
        )
    location = location.rstrip("/")
    return location[: -len(".git")] if location.endswith(".git") else location


def origin_url(repo: Repo) -> str | None:
    """The URL of the ``origin`` remote of a local repository, if it has one."""
    try:
        url = repo.get_config().get((b"remote", b"origin"), b"url")
    except KeyError:
        return None
    return url.decode("utf-8", "replace") if url else None


def check_root(root: str) -> str:
    """``root`` normalised ('' for the repository's top); ValueError when it leaves it."""
    root = root.strip().strip("/")
    if root in ("", "."):
        return ""
    parts = root.split("/")
    if any(p in ("", ".", "..") for p in parts) or "\\" in root or "\x00" in root:
        raise ValueError(f"the path {root!r} must be a plain directory inside the repository")
    return root


# ---------------------------------------------------------------------------- reading


def read_snapshot(
    location: str,
    ref: str | None = None,
    *,
    root: str = "",
    username: str | None = None,
    password: str | None = None,
    repository: str | None = None,
) -> Snapshot:
    """The repository at ``location`` as it is at ``ref`` (a branch, tag or commit; default
    the repository's HEAD). ``repository`` names it in origins; by default a local
    repository is named by its ``origin`` remote when it has one, else by its path."""
    try:
        root = check_root(root)
    except ValueError as exc:
        raise GitSourceError(str(exc)) from None
    if is_local(location):
        path = local_path(location)
        try:
            repo: BaseRepo = Repo(path)
        except (NotGitRepository, FileNotFoundError, NotADirectoryError):
            raise GitSourceError(f"{path} is not a git repository") from None
        try:
            if repository is None:
                remote = origin_url(repo)  # type: ignore[arg-type]
                repository = repository_identity(remote) if remote else path
            commit = _resolve(repo, ref, location)
            return _snapshot(repo, commit, repository, ref, root)
        finally:
            repo.close()
    repo = _fetch(location, ref, username, password)
    commit = _resolve(repo, ref, location)
    return _snapshot(repo, commit, repository or repository_identity(location), ref, root)


def _fetch(
    location: str, ref: str | None, username: str | None, password: str | None
) -> MemoryRepo:
    """The objects of ``ref`` (all refs when it may be a commit id) fetched into memory."""
    shown = redact(location)
    try:
        # HTTP gets a timeout per request, so a stalled server cannot hold a sync forever.
        extra: dict[str, Any] = {}
        if location.startswith(("http://", "https://")):
            extra["pool_manager"] = default_urllib3_manager(None, timeout=HTTP_TIMEOUT)
        client, path = get_transport_and_path(
            location, username=username, password=password, **extra
        )
    except Exception as exc:  # dulwich raises several kinds for a URL it cannot use
        raise GitSourceError(f"cannot read {shown}: {exc}") from None
    repo = MemoryRepo()
    advertised: dict[bytes, bytes] = {}
    # A branch or tag needs its last commit only; a commit id may be anywhere in the history.
    depth = None if ref is not None and _HEX.match(ref) else 1

    def wants(refs: Mapping[bytes, bytes], depth: int | None = None) -> list[bytes]:
        advertised.update(refs)
        named = _named_ref(refs, ref)
        if named is not None:
            return [refs[named]]
        if ref is not None and _HEX.match(ref):
            return sorted({sha for name, sha in refs.items() if not name.endswith(_PEELED)})
        return []

    try:
        result = client.fetch(path, repo, determine_wants=wants, depth=depth)
    except Exception as exc:  # network, protocol and authentication errors alike
        message = _scrub(str(exc) or type(exc).__name__, location, password)
        raise GitSourceError(f"cannot fetch {shown}: {message}") from None
    for name, sha in (result.refs or {}).items():
        if sha is not None and not name.endswith(_PEELED) and sha in repo.object_store:
            repo.refs[name] = sha
    head = advertised.get(b"HEAD")
    if head is not None and head in repo.object_store:
        repo.refs[b"HEAD"] = head
    if not advertised:
        raise GitSourceError(f"{shown} has no commits")
    if ref is not None and _named_ref(advertised, ref) is None and not _HEX.match(ref):
        names = _names(advertised)
        raise GitSourceError(
            f"no branch, tag or commit {ref!r} in {shown} (branches and tags: {names})"
        )
    return repo


def _scrub(message: str, location: str, password: str | None) -> str:
    """``message`` without the credentials of ``location`` or ``password`` (a library's error
    may quote the URL it used, credentials included)."""
    hidden = [password] if password else []
    if "://" in location and urlsplit(location).password:
        hidden.append(str(urlsplit(location).password))
    for secret in hidden:
        message = message.replace(secret, "***")
    return message


def _named_ref(refs: Mapping[bytes, bytes], ref: str | None) -> bytes | None:
    if ref is None:
        return b"HEAD" if b"HEAD" in refs else None
    name = ref.encode()
    for candidate in (name, b"refs/heads/" + name, b"refs/tags/" + name, b"refs/" + name):
        if candidate in refs and not candidate.endswith(_PEELED):
            return candidate
    return None


def _names(refs: Iterable[bytes]) -> str:
    """The branch and tag names among ``refs``, for an error message."""
    names = sorted(
        n.decode("utf-8", "replace").removeprefix("refs/heads/").removeprefix("refs/tags/")
        for n in refs
        if n.startswith((b"refs/heads/", b"refs/tags/")) and not n.endswith(_PEELED)
    )
    return ", ".join(names[:20]) + (", …" if len(names) > 20 else "") if names else "none"


def _resolve(repo: BaseRepo, ref: str | None, location: str) -> Commit:
    try:
        if ref is None:
            found: Any = repo[repo.head()]
        else:
            found = parse_commit(repo, ref)
    except (KeyError, ValueError):
        where = redact(location)
        if ref is None:
            raise GitSourceError(f"{where} has no commits (its HEAD names nothing)") from None
        names = _names(repo.refs.allkeys())
        raise GitSourceError(
            f"no branch, tag or commit {ref!r} in {where} (branches and tags: {names})"
        ) from None
    while isinstance(found, Tag):
        found = repo[found.object[1]]
    if not isinstance(found, Commit):
        raise GitSourceError(f"{ref!r} names a {found.type_name.decode()}, not a commit")
    return found


def commit_info(commit: Commit) -> CommitInfo:
    encoding = (commit.encoding or b"utf-8").decode("ascii", "replace")
    zone = timezone(timedelta(seconds=commit.commit_timezone))
    return CommitInfo(
        sha=commit.id.decode("ascii"),
        author=commit.author.decode(encoding, "replace"),
        message=commit.message.decode(encoding, "replace"),
        committed_at=datetime.fromtimestamp(commit.commit_time, zone).astimezone(UTC),
    )


def _lookup(repo: BaseRepo, tree: bytes, path: str) -> tuple[int, bytes] | None:
    if not path:
        return stat.S_IFDIR, tree
    try:
        return tree_lookup_path(repo.__getitem__, tree, path.encode())
    except (KeyError, NotADirectoryError):
        return None
    except Exception as exc:  # dulwich raises NotTreeError for a path through a file
        if type(exc).__name__ == "NotTreeError":
            return None
        raise


def _snapshot(
    repo: BaseRepo, commit: Commit, repository: str, ref: str | None, root: str
) -> Snapshot:
    info = commit_info(commit)
    base = _lookup(repo, commit.tree, root)
    if base is None or not stat.S_ISDIR(base[0]):
        raise GitSourceError(f"commit {info.sha[:12]} has no directory {root!r}")
    config = None
    found = _lookup(repo, base[1], CONFIG_FILE)
    if found is not None and stat.S_ISREG(found[0]):
        config = repo[found[1]].data.decode("utf-8", "replace")  # type: ignore[attr-defined]
    files: dict[str, bytes] = {}
    flows = _lookup(repo, base[1], FLOWS_DIR)
    has_keep_file = False
    if flows is not None and stat.S_ISDIR(flows[0]):
        prefix = join(root, FLOWS_DIR)
        for entry in iter_tree_contents(repo.object_store, flows[1]):
            name = entry.path.decode("utf-8", "replace")
            if name in KEEP_FILES:
                has_keep_file = True
            elif stat.S_ISREG(entry.mode) and is_flow_file(name):
                blob = repo[entry.sha]
                files[f"{prefix}/{name}"] = blob.data  # type: ignore[attr-defined]
    return Snapshot(
        repository=repository,
        ref=ref,
        commit=info,
        root=root,
        config=config,
        files=dict(sorted(files.items())),
        has_keep_file=has_keep_file,
    )
