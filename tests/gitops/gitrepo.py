"""Real git repositories for tests, built with dulwich: each commit is the full set of files
of the repository at that commit, so renames and deletions are just other file sets."""

from __future__ import annotations

from pathlib import Path

from dulwich.index import commit_tree
from dulwich.objects import Blob, Commit
from dulwich.repo import Repo

AUTHOR = "Ada Lovelace <ada@example.com>"


class GitRepo:
    """A repository on disk whose commits the test writes."""

    def __init__(self, path: Path, branch: str = "main") -> None:
        self.path = path
        self.repo = Repo.init(str(path), mkdir=not path.exists())
        self.repo.refs.set_symbolic_ref(b"HEAD", f"refs/heads/{branch}".encode())
        self._clock = 1_780_000_000

    def commit(
        self,
        files: dict[str, str | bytes],
        message: str = "Change flows",
        *,
        branch: str = "main",
        author: str = AUTHOR,
    ) -> str:
        """Commit ``files`` (path → content) as the whole tree on top of ``branch``."""
        entries = []
        for path, content in sorted(files.items()):
            blob = Blob.from_string(content.encode() if isinstance(content, str) else content)
            self.repo.object_store.add_object(blob)
            entries.append((path.encode(), blob.id, 0o100644))
        ref = f"refs/heads/{branch}".encode()
        commit = Commit()
        commit.tree = commit_tree(self.repo.object_store, entries)
        commit.parents = [self.repo.refs[ref]] if ref in self.repo.refs else []
        commit.author = commit.committer = author.encode()
        self._clock += 60
        commit.author_time = commit.commit_time = self._clock
        commit.author_timezone = commit.commit_timezone = 0
        commit.encoding = b"UTF-8"
        commit.message = message.encode()
        self.repo.object_store.add_object(commit)
        self.repo.refs[ref] = commit.id
        return commit.id.decode()

    def tag(self, name: str, sha: str) -> None:
        self.repo.refs[f"refs/tags/{name}".encode()] = sha.encode()

    def close(self) -> None:
        self.repo.close()


def flow_yaml(flow_id: str, message: str = "hi") -> str:
    return (
        f"flow: {flow_id}\n"
        "steps:\n"
        "  - id: greet\n"
        "    uses: core.log\n"
        "    with:\n"
        f"      message: {message}\n"
    )


def flow_text(flow_id: str, message: str = "hi") -> str:
    return f'flow {flow_id} {{\n  step greet = core.log(message: "{message}")\n}}\n'


#: A flow with an unknown node type on line 4, column 11.
BROKEN = "flow: broken\nsteps:\n  - id: greet\n    uses: core.nope\n"
