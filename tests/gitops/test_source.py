"""Reading a repository at a ref: local paths and URLs (over HTTP, served by dulwich)."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from dulwich.server import DictBackend
from dulwich.web import WSGIRequestHandlerLogger, WSGIServerLogger, make_server, make_wsgi_chain

from flowpilot.gitops.source import GitSourceError, read_snapshot, redact, repository_identity
from tests.gitops.gitrepo import AUTHOR, GitRepo, flow_text, flow_yaml


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServerLogger):
    """Serves each connection on its own thread: git's HTTP client may hold one connection
    open while it opens another, which a one-connection-at-a-time server would never answer."""

    daemon_threads = True


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[GitRepo]:
    repo = GitRepo(tmp_path / "repo")
    yield repo
    repo.close()


def test_a_snapshot_holds_the_commit_the_config_and_the_flow_files_only(repo: GitRepo) -> None:
    sha = repo.commit(
        {
            "flows/a.flow.yaml": flow_yaml("a"),
            "flows/deep/er/b.flow": flow_text("b"),
            "flows/notes.md": "not a flow",
            "other/c.flow.yaml": flow_yaml("c"),
            "flowpilot.yaml": "prune: true\n",
        },
        "Add flows\n\nLonger text.",
    )
    snapshot = read_snapshot(str(repo.path))
    assert snapshot.commit.sha == sha
    assert snapshot.commit.author == AUTHOR
    assert snapshot.commit.summary == "Add flows"
    assert snapshot.commit.committed_at is not None
    assert snapshot.config == "prune: true\n"
    assert list(snapshot.files) == ["flows/a.flow.yaml", "flows/deep/er/b.flow"]
    assert snapshot.repository == str(repo.path.resolve())
    assert not snapshot.has_keep_file


def test_a_keep_file_marks_flows_as_deliberately_empty(repo: GitRepo) -> None:
    repo.commit({"flows/.keep": "", "flows/deep/.keep": "", "README.md": "no flows yet"})
    snapshot = read_snapshot(str(repo.path))
    assert snapshot.files == {} and snapshot.has_keep_file
    repo.commit({"flows/deep/.keep": "", "flows/notes.md": "a misnamed flow?"})
    assert not read_snapshot(str(repo.path)).has_keep_file  # only flows/.keep itself counts


def test_refs_are_branches_tags_or_commit_ids(repo: GitRepo) -> None:
    first = repo.commit({"flows/a.flow.yaml": flow_yaml("a", "one")})
    repo.tag("v1", first)
    repo.commit({"flows/a.flow.yaml": flow_yaml("a", "two")})
    repo.commit({"flows/a.flow.yaml": flow_yaml("a", "dev")}, branch="dev")

    def message(ref: str | None) -> bytes:
        return read_snapshot(str(repo.path), ref).files["flows/a.flow.yaml"].split(b"message: ")[1]

    assert message(None) == b"two\n"
    assert message("dev") == b"dev\n"
    assert message("v1") == b"one\n"
    assert message(first[:10]) == b"one\n"
    with pytest.raises(GitSourceError, match=r"no branch, tag or commit 'nope' .*dev, main, v1"):
        read_snapshot(str(repo.path), "nope")


def test_a_sync_root_holds_flows_and_its_config(repo: GitRepo) -> None:
    repo.commit({"ops/flows/a.flow.yaml": flow_yaml("a"), "ops/flowpilot.yaml": "drift: keep\n"})
    snapshot = read_snapshot(str(repo.path), root="ops/")
    assert snapshot.root == "ops" and list(snapshot.files) == ["ops/flows/a.flow.yaml"]
    assert snapshot.config_path == "ops/flowpilot.yaml"
    with pytest.raises(GitSourceError, match="has no directory 'nowhere'"):
        read_snapshot(str(repo.path), root="nowhere")
    with pytest.raises(GitSourceError, match="plain directory inside the repository"):
        read_snapshot(str(repo.path), root="../elsewhere")


def test_a_directory_that_is_not_a_repository_is_said_so(tmp_path: Path) -> None:
    with pytest.raises(GitSourceError, match="is not a git repository"):
        read_snapshot(str(tmp_path))


def test_a_local_repository_is_named_by_its_origin_remote(repo: GitRepo) -> None:
    repo.commit({"flows/a.flow.yaml": flow_yaml("a")})
    config = repo.repo.get_config()
    config.set((b"remote", b"origin"), b"url", b"https://GitHub.com/team/flows.git")
    config.write_to_path()
    assert read_snapshot(str(repo.path)).repository == "https://github.com/team/flows"
    assert read_snapshot(str(repo.path), repository="mine").repository == "mine"


def test_names_never_keep_credentials() -> None:
    assert redact("https://bot:tok@git.example.com/a.git") == "https://git.example.com/a.git"
    assert repository_identity("https://bot:tok@Git.Example.com/a.git/") == (
        "https://git.example.com/a"
    )
    assert repository_identity("git@github.com:team/flows.git") == "git@github.com:team/flows"


def test_a_url_is_fetched_into_memory_at_the_ref(repo: GitRepo) -> None:
    first = repo.commit({"flows/a.flow.yaml": flow_yaml("a", "one")})
    repo.commit({"flows/a.flow.yaml": flow_yaml("a", "two")})
    repo.commit({"flows/a.flow.yaml": flow_yaml("a", "dev")}, branch="dev")
    app = make_wsgi_chain(DictBackend({"/": repo.repo}))
    server = make_server(
        "127.0.0.1",
        0,
        app,
        handler_class=WSGIRequestHandlerLogger,
        server_class=ThreadingWSGIServer,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/"
    try:
        head = read_snapshot(url)
        assert head.repository == url.rstrip("/")
        assert head.files["flows/a.flow.yaml"].endswith(b"two\n")
        assert read_snapshot(url, "dev").files["flows/a.flow.yaml"].endswith(b"dev\n")
        assert read_snapshot(url, first).commit.sha == first
        with pytest.raises(GitSourceError, match=r"'nope' .*\(branches and tags: dev, main\)"):
            read_snapshot(url, "nope")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    with pytest.raises(GitSourceError, match="cannot fetch"):
        read_snapshot(url)
