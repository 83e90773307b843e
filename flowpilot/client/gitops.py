"""GitOps through the client: plan and apply a repository read at one commit (a bundle, what
``flowpilot sync`` sends), the sync history, the export of every flow, and the repositories
the server syncs by itself (registered, fetched on demand or on a push webhook).

Reached as ``client.gitops`` (and ``client.gitops.repositories``) on both clients.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowpilot.client import endpoints as ep
from flowpilot.client.endpoints import Id
from flowpilot.client.models import (
    Bundle,
    ExportedFlow,
    Page,
    Repository,
    RepositoryCreated,
    Sync,
    SyncPlan,
    SyncSummary,
)
from flowpilot.client.paging import AsyncPager, Pager

if TYPE_CHECKING:
    from flowpilot.client.aio import AsyncTransport
    from flowpilot.client.sync import Transport

BundleLike = Bundle | Mapping[str, Any]


class GitOps:
    """Syncs from git, their history, and the export of an organization's flows."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport
        self.repositories = Repositories(transport)

    def plan(self, bundle: BundleLike) -> SyncPlan:
        """What applying ``bundle`` would do to each flow — ``create``, ``update``,
        ``unchanged``, ``drifted``, ``delete`` (with ``prune``) — by content hash. A flow with
        errors makes ``ok`` False, with every diagnostic; nothing is written."""
        return self._t.call(ep.plan_bundle(bundle))

    def apply(self, bundle: BundleLike) -> Sync:
        """Apply ``bundle`` in one transaction; the result is the sync's history entry. If any
        flow has errors nothing changes: :class:`ValidationFailed` (``flow_has_errors``)
        with every diagnostic."""
        return self._t.call(ep.apply_bundle(bundle))

    def syncs(
        self, *, repository_id: Id | None = None, page_size: int | None = None
    ) -> Pager[SyncSummary]:
        """The sync history, newest first (of one registered repository with
        ``repository_id``)."""

        def fetch(cursor: str | None) -> Page[SyncSummary]:
            call = ep.list_syncs(repository_id=repository_id, limit=page_size, cursor=cursor)
            return self._t.call(call)

        return Pager(fetch)

    def sync(self, sync_id: Id) -> Sync:
        """One sync: what it did to each flow, and its diagnostics."""
        return self._t.call(ep.get_sync(sync_id))

    def export(self, *, version: str = "head", page_size: int | None = None) -> Pager[ExportedFlow]:
        """Every live workflow as a file: its head (or, with ``version="published"``, its
        published version; unpublished workflows are then left out) with its source and the
        path ``flowpilot export`` writes it to."""

        def fetch(cursor: str | None) -> Page[ExportedFlow]:
            return self._t.call(ep.export_flows(version=version, limit=page_size, cursor=cursor))

        return Pager(fetch)


class Repositories:
    """Repositories the server fetches and syncs by itself (``gitops:manage`` to change)."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def list(self) -> list[Repository]:
        return self._t.call(ep.list_repositories()).items

    def get(self, repository_id: Id) -> Repository:
        return self._t.call(ep.get_repository(repository_id))

    def create(
        self,
        name: str,
        url: str,
        *,
        ref: str | None = None,
        path: str | None = None,
        username: str | None = None,
        password: str | None = None,
        webhook_secret: str | None = None,
        prune: bool | None = None,
        drift: str | None = None,
        publish: bool | None = None,
    ) -> RepositoryCreated:
        """Register a repository. ``username``/``password`` (or an access token as the
        password) are stored sealed and never returned; the answer shows the webhook secret
        this once (generated when not given)."""
        call = ep.create_repository(
            name,
            url,
            ref=ref,
            path=path,
            username=username,
            password=password,
            webhook_secret=webhook_secret,
            prune=prune,
            drift=drift,
            publish=publish,
        )
        return self._t.call(call)

    def update(
        self,
        repository_id: Id,
        *,
        name: str | None = None,
        url: str | None = None,
        ref: str | None = None,
        path: str | None = None,
        username: str | None = None,
        password: str | None = None,
        remove_credentials: bool = False,
        webhook_secret: str | None = None,
        prune: bool | None = None,
        drift: str | None = None,
        publish: bool | None = None,
    ) -> Repository:
        """Change the fields given; ``ref=""`` follows the repository's HEAD again,
        ``remove_credentials=True`` forgets the stored credentials."""
        call = ep.update_repository(
            repository_id,
            name=name,
            url=url,
            ref=ref,
            path=path,
            username=username,
            password=password,
            remove_credentials=remove_credentials,
            webhook_secret=webhook_secret,
            prune=prune,
            drift=drift,
            publish=publish,
        )
        return self._t.call(call)

    def delete(self, repository_id: Id) -> None:
        """Forget the repository; its workflows and its sync history stay."""
        self._t.call(ep.delete_repository(repository_id))

    def plan(
        self,
        repository_id: Id,
        *,
        ref: str | None = None,
        prune: bool | None = None,
        drift: str | None = None,
        publish: bool | None = None,
    ) -> SyncPlan:
        """The server fetches the repository (at ``ref``, default its own) and plans."""
        call = ep.plan_repository(repository_id, ref=ref, prune=prune, drift=drift, publish=publish)
        return self._t.call(call)

    def apply(
        self,
        repository_id: Id,
        *,
        ref: str | None = None,
        prune: bool | None = None,
        drift: str | None = None,
        publish: bool | None = None,
    ) -> Sync:
        """Fetch, plan and apply now, atomically; a failure is recorded in the history too."""
        call = ep.apply_repository(
            repository_id, ref=ref, prune=prune, drift=drift, publish=publish
        )
        return self._t.call(call)


class AsyncGitOps:
    """GitOps for the async client; see :class:`GitOps`."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport
        self.repositories = AsyncRepositories(transport)

    async def plan(self, bundle: BundleLike) -> SyncPlan:
        return await self._t.call(ep.plan_bundle(bundle))

    async def apply(self, bundle: BundleLike) -> Sync:
        return await self._t.call(ep.apply_bundle(bundle))

    def syncs(
        self, *, repository_id: Id | None = None, page_size: int | None = None
    ) -> AsyncPager[SyncSummary]:
        async def fetch(cursor: str | None) -> Page[SyncSummary]:
            call = ep.list_syncs(repository_id=repository_id, limit=page_size, cursor=cursor)
            return await self._t.call(call)

        return AsyncPager(fetch)

    async def sync(self, sync_id: Id) -> Sync:
        return await self._t.call(ep.get_sync(sync_id))

    def export(
        self, *, version: str = "head", page_size: int | None = None
    ) -> AsyncPager[ExportedFlow]:
        async def fetch(cursor: str | None) -> Page[ExportedFlow]:
            call = ep.export_flows(version=version, limit=page_size, cursor=cursor)
            return await self._t.call(call)

        return AsyncPager(fetch)


class AsyncRepositories:
    """Registered repositories for the async client; see :class:`Repositories`."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    async def list(self) -> list[Repository]:
        return (await self._t.call(ep.list_repositories())).items

    async def get(self, repository_id: Id) -> Repository:
        return await self._t.call(ep.get_repository(repository_id))

    async def create(self, name: str, url: str, **options: Any) -> RepositoryCreated:
        return await self._t.call(ep.create_repository(name, url, **options))

    async def update(self, repository_id: Id, **changes: Any) -> Repository:
        return await self._t.call(ep.update_repository(repository_id, **changes))

    async def delete(self, repository_id: Id) -> None:
        await self._t.call(ep.delete_repository(repository_id))

    async def plan(self, repository_id: Id, **options: Any) -> SyncPlan:
        return await self._t.call(ep.plan_repository(repository_id, **options))

    async def apply(self, repository_id: Id, **options: Any) -> Sync:
        return await self._t.call(ep.apply_repository(repository_id, **options))
