"""Request and response bodies of the GitOps API: repositories, bundles, plans, syncs, the
export and the push-webhook outcome."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from flowpilot.server.schemas import Input, Output
from flowpilot.server.workflows.schemas import NO_NUL, PLAIN_TEXT, Diagnostic, Format

DriftPolicy = Literal["keep", "overwrite"]
Action = Literal["create", "update", "unchanged", "drifted", "delete"]
SyncTrigger = Literal["bundle", "manual", "push"]
SyncStatus = Literal["applied", "failed"]

RefName = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=255,
        pattern=PLAIN_TEXT,
        description="A branch, tag or commit id (default: the repository's HEAD).",
    ),
]
SyncRoot = Annotated[
    str,
    msgspec.Meta(
        max_length=500,
        pattern=PLAIN_TEXT,
        description="The directory of the repository that holds `flows/` and `flowpilot.yaml` "
        "('' for its top).",
    ),
]
RepositoryName = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=1000,
        pattern=PLAIN_TEXT,
        description="How versions name the repository in their `origin` (its URL, without "
        "credentials, or a path).",
    ),
]
CommitId = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{40}([0-9a-f]{24})?$")]

# ---------------------------------------------------------------------------- bundles


class BundleFile(Input):
    path: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=1000,
            pattern=PLAIN_TEXT,
            description="The file's path in the repository, like `flows/billing/invoice.flow`.",
        ),
    ]
    source: Annotated[str, msgspec.Meta(pattern=NO_NUL, description="The file's text.")]


class SyncBundle(Input):
    """A repository as a client read it at one commit: what `flowpilot sync` sends. `files` are
    the flow files under `<path>/flows/`, `config` the text of `<path>/flowpilot.yaml`."""

    repository: RepositoryName
    commit: CommitId
    files: Annotated[list[BundleFile], msgspec.Meta(max_length=10_000)]
    ref: RefName | None = None
    author: Annotated[str, msgspec.Meta(max_length=1000, pattern=PLAIN_TEXT)] = ""
    message: Annotated[str, msgspec.Meta(max_length=100_000, pattern=NO_NUL)] = ""
    committed_at: datetime | None = None
    path: SyncRoot = ""
    config: Annotated[str, msgspec.Meta(max_length=100_000, pattern=NO_NUL)] | None = None
    prune: bool | None = None
    drift: DriftPolicy | None = None
    publish: bool = False
    #: True when `<path>/flows/` holds a `.keep` file: with no `files`, the repository then
    #: deliberately holds no flow (a prune deletes what it synced) instead of being refused
    #: (`G003`) as a wrong ref or path.
    has_keep_file: bool = False


class SyncRequest(Input):
    """Options of a sync of a registered repository; each defaults to `flowpilot.yaml`, then to
    the repository's setting."""

    ref: RefName | None = None
    prune: bool | None = None
    drift: DriftPolicy | None = None
    publish: bool | None = None


# ---------------------------------------------------------------------------- repositories

Secret = Annotated[str, msgspec.Meta(min_length=1, max_length=4000, pattern=PLAIN_TEXT)]


class Credentials(Input):
    """HTTP(S) credentials: a user name and a password or access token (stored sealed, never
    returned)."""

    password: Secret
    username: Annotated[str, msgspec.Meta(max_length=200, pattern=PLAIN_TEXT)] = ""


WebhookSecret = Annotated[
    str,
    msgspec.Meta(
        min_length=16,
        max_length=200,
        pattern=PLAIN_TEXT,
        description="The secret the git host signs push webhooks with (generated when absent).",
    ),
]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=PLAIN_TEXT)]
Url = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=2000,
        pattern=PLAIN_TEXT,
        description="`https://…`, `http://…`, `ssh://…`, `git://…` or `git@host:path`; local "
        "paths only where the server allows them.",
    ),
]


class RepositoryCreate(Input):
    name: Name
    url: Url
    ref: RefName | None = None
    path: SyncRoot = ""
    credentials: Credentials | None = None
    webhook_secret: WebhookSecret | None = None
    prune: bool = False
    drift: DriftPolicy = "keep"
    publish: bool = False


class RepositoryUpdate(Input):
    """Fields to change; `ref: ""` follows the repository's HEAD again, `remove_credentials`
    forgets the stored credentials."""

    name: Name | None = None
    url: Url | None = None
    ref: Annotated[str, msgspec.Meta(max_length=255, pattern=PLAIN_TEXT)] | None = None
    path: SyncRoot | None = None
    credentials: Credentials | None = None
    remove_credentials: bool = False
    webhook_secret: WebhookSecret | None = None
    prune: bool | None = None
    drift: DriftPolicy | None = None
    publish: bool | None = None


class Repository(Output):
    id: uuid.UUID
    name: str
    url: str
    ref: str | None
    path: str
    prune: bool
    drift: DriftPolicy
    publish: bool
    has_credentials: bool
    #: Where the git host delivers push webhooks.
    webhook_url: str
    last_commit: str | None
    last_synced_at: datetime | None
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class RepositoryCreated(Repository, kw_only=True):
    """The new repository, with its webhook secret: shown this once."""

    webhook_secret: str


class RepositoryList(Output):
    items: list[Repository]


# ---------------------------------------------------------------------------- plans and syncs


class SyncItem(Output):
    """What the sync does (or did) to one flow."""

    action: Action
    flow_id: str
    path: str | None
    workflow_id: uuid.UUID | None
    format: Format | None
    #: The content hash of the file (None for a deletion).
    hash: str | None
    head_version: int | None
    head_hash: str | None
    #: Whether applying writes something (false for unchanged, and drifted under `keep`).
    writes: bool
    #: Whether applying publishes the flow's new head (with `publish`).
    publishes: bool
    detail: str
    #: The version the apply wrote (or, unchanged, the head).
    version: int | None = None


class SyncCounts(Output):
    create: int
    update: int
    unchanged: int
    drifted: int
    delete: int


class SyncPlan(Output):
    """A plan: `ok` is false when a flow has errors (`diagnostics` lists every one, and an
    apply would change nothing)."""

    ok: bool
    repository: str
    repository_id: uuid.UUID | None
    ref: str | None
    commit: str
    author: str
    message: str
    committed_at: datetime | None
    prune: bool
    drift: DriftPolicy
    publish: bool
    counts: SyncCounts
    items: list[SyncItem]
    excluded: list[str]
    diagnostics: list[Diagnostic]


class SyncError(Output):
    code: str
    detail: str


class SyncSummary(Output):
    id: uuid.UUID
    repository_id: uuid.UUID | None
    repository: str
    ref: str | None
    commit: str | None
    author: str | None
    message: str | None
    trigger: SyncTrigger
    status: SyncStatus
    counts: SyncCounts
    error: SyncError | None
    actor_type: str
    actor_id: uuid.UUID | None
    created_at: datetime


class Sync(SyncSummary, kw_only=True):
    items: list[SyncItem]
    diagnostics: list[Diagnostic]


class SyncList(Output):
    items: list[SyncSummary]
    next_cursor: str | None


# ---------------------------------------------------------------------------- export and hooks


class ExportedFlow(Output):
    workflow_id: uuid.UUID
    flow_id: str
    format: Format
    version: int
    hash: str
    #: Where `flowpilot export` writes it: `flows/<flow id>.flow.yaml` or `.flow`.
    path: str
    source: str


class ExportPage(Output):
    items: list[ExportedFlow]
    next_cursor: str | None


class WebhookOutcome(Output):
    """What a push delivery did: `synced` (see `sync_id`), `failed` (the sync's error is in its
    history entry), or `ignored` (another branch, a ping, another event)."""

    provider: Literal["github", "gitlab", "gitea"]
    event: str
    status: Literal["synced", "failed", "ignored"]
    detail: str
    sync_id: uuid.UUID | None = None
