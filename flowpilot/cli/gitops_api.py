"""Every server call ``flowpilot sync`` and ``flowpilot export`` make, in one place, through
the typed client (:mod:`flowpilot.client`). The credential is sent as ``Authorization:
Bearer`` (an API key, or an access token).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import msgspec

from flowpilot.gitops.source import Snapshot

SERVER_ENV = "FLOWPILOT_SERVER_URL"
API_KEY_PREFIX = "fp_"
API_KEY_ENV = "FLOWPILOT_API_KEY"


class ApiProblem(Exception):
    """The server refused a request; ``problem`` is its RFC 9457 body."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        super().__init__(self.describe())

    @property
    def code(self) -> str:
        return str(self.problem.get("code") or "error")

    def describe(self) -> str:
        detail = self.problem.get("detail") or self.problem.get("title") or "request failed"
        text = f"{detail} ({self.status} {self.code})"
        fields = [e for e in self.problem.get("errors") or () if isinstance(e, dict)]
        if fields and self.code != "flow_has_errors":  # diagnostics are printed apart
            text += "".join(f"\n  {e.get('field')}: {e.get('message')}" for e in fields)
        return text


class Unreachable(Exception):
    """The server could not be reached at all."""


def bundle_of(
    snapshot: Snapshot,
    sources: dict[str, str],
    *,
    prune: bool | None = None,
    drift: str | None = None,
    publish: bool = False,
) -> dict[str, Any]:
    """The body of ``POST /gitops/plan`` and ``/apply`` for a snapshot read here."""
    commit = snapshot.commit
    body: dict[str, Any] = {
        "repository": snapshot.repository,
        "commit": commit.sha,
        "ref": snapshot.ref,
        "author": commit.author,
        "message": commit.message,
        "committed_at": commit.committed_at.isoformat() if commit.committed_at else None,
        "path": snapshot.root,
        "config": snapshot.config,
        "files": [{"path": path, "source": source} for path, source in sources.items()],
        "publish": publish,
    }
    if snapshot.has_keep_file:  # sent only when set: servers before it refuse the field
        body["has_keep_file"] = True
    if prune is not None:
        body["prune"] = prune
    if drift is not None:
        body["drift"] = drift
    return body


class GitOpsApi:
    """The GitOps endpoints of one server, as one caller, through :mod:`flowpilot.client`.

    Answers come back as plain JSON-like data (what the commands print with ``--format
    json``); the client's errors become :class:`ApiProblem` and :class:`Unreachable`."""

    def __init__(
        self,
        server: str,
        api_key: str | None,
        *,
        timeout: float = 300,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        from flowpilot.client import FlowPilot

        self.server = server
        # ``--api-key`` takes an API key or, for scripts holding a session, an access token.
        token = api_key if api_key and not api_key.startswith(API_KEY_PREFIX) else None
        try:
            self._client = FlowPilot(
                server,
                api_key=None if token else api_key,
                access_token=token,
                timeout=timeout,
                transport=transport,
            )
        except ValueError as exc:  # a server URL the client cannot use
            raise Unreachable(str(exc)) from None

    def __enter__(self) -> GitOpsApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def _call(self, call: Callable[[], Any]) -> Any:
        from flowpilot.client import ConnectionFailed, FlowPilotError

        try:
            return msgspec.to_builtins(call())
        except ConnectionFailed as exc:
            raise Unreachable(f"cannot reach {self.server}: {exc.detail}") from None
        except FlowPilotError as exc:
            problem: dict[str, Any] = {
                "detail": exc.detail,
                "code": exc.code,
                "errors": [{"field": e.field, "message": e.message} for e in exc.errors],
                "request_id": exc.request_id,
                **exc.extra,
            }
            raise ApiProblem(exc.status or 0, problem) from None

    def plan(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """The plan of a sync (``SyncPlan``)."""
        return self._call(lambda: self._client.gitops.plan(bundle))  # type: ignore[no-any-return]

    def apply(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """Apply a sync (``Sync``); :class:`ApiProblem` ``flow_has_errors`` carries every
        diagnostic in ``problem["diagnostics"]``."""
        return self._call(lambda: self._client.gitops.apply(bundle))  # type: ignore[no-any-return]

    def export(self, *, published: bool = False) -> list[dict[str, Any]]:
        """Every flow of the organization (``ExportedFlow``), all pages."""
        version = "published" if published else "head"
        return self._call(  # type: ignore[no-any-return]
            lambda: list(self._client.gitops.export(version=version, page_size=200))
        )
