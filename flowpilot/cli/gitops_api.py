"""Every HTTP call ``flowpilot sync`` and ``flowpilot export`` make, in one place.

A thin httpx wrapper until the typed client (:mod:`flowpilot.client`) covers GitOps; then these
methods become calls on it and nothing else in the commands changes. A credential is sent as
``Authorization: Bearer`` (an API key or an access token).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from flowpilot.gitops.source import Snapshot

SERVER_ENV = "FLOWPILOT_SERVER_URL"
API_KEY_ENV = "FLOWPILOT_API_KEY"
API_PREFIX = "/api/v1"


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
    if prune is not None:
        body["prune"] = prune
    if drift is not None:
        body["drift"] = drift
    return body


class GitOpsApi:
    """The GitOps endpoints of one server, as one caller."""

    def __init__(
        self,
        server: str,
        api_key: str | None,
        *,
        timeout: float = 300,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=server.rstrip("/") + API_PREFIX,
            headers=headers,
            timeout=timeout,
            transport=transport,
        )
        self.server = server

    def __enter__(self) -> GitOpsApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise Unreachable(f"cannot reach {self.server}: {exc}") from None
        if response.is_success:
            return response.json()
        try:
            problem = response.json()
        except ValueError:
            problem = {"detail": response.text[:500] or response.reason_phrase}
        if not isinstance(problem, dict):
            problem = {"detail": str(problem)[:500]}
        raise ApiProblem(response.status_code, problem)

    def plan(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """The plan of a sync (``SyncPlan``)."""
        return self._call("POST", "/gitops/plan", json=bundle)  # type: ignore[no-any-return]

    def apply(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """Apply a sync (``Sync``); :class:`ApiProblem` ``flow_has_errors`` carries every
        diagnostic in ``problem["diagnostics"]``."""
        return self._call("POST", "/gitops/apply", json=bundle)  # type: ignore[no-any-return]

    def export(self, *, published: bool = False) -> Iterator[dict[str, Any]]:
        """Every flow of the organization (``ExportedFlow``), page after page."""
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {
                "version": "published" if published else "head",
                "limit": 200,
            }
            if cursor:
                params["cursor"] = cursor
            page = self._call("GET", "/gitops/export", params=params)
            yield from page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return
