"""What the API answers, as typed, immutable msgspec structs.

Each struct mirrors a schema of the server's OpenAPI document (``/api/schema/openapi.json``;
tests/client/test_models.py checks the fields agree). Unknown fields are ignored, so a newer
server that adds fields still works with this client; statuses and other enumerations are
plain strings for the same reason (their values are listed in the docstrings).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec

T = TypeVar("T")

#: The statuses an execution ends in; ``pending``, ``running`` and ``waiting`` come before.
FINISHED = frozenset({"succeeded", "failed", "cancelled", "timed_out"})


class Model(msgspec.Struct, kw_only=True, frozen=True):
    """Base of every answer: immutable, with :meth:`to_dict` for JSON output."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form (ids and times as strings), as the server sent it."""
        return msgspec.to_builtins(self)  # type: ignore[no-any-return]


class Page(Model, Generic[T]):
    """One page of a list; ``next_cursor`` is None on the last page."""

    items: list[T]
    next_cursor: str | None


# ---------------------------------------------------------------------------- accounts


class Organization(Model):
    id: uuid.UUID
    slug: str
    name: str
    created_at: datetime
    #: Your role in it: ``owner``, ``admin``, ``manager``, ``member`` or ``viewer``.
    role: str


class User(Model):
    id: uuid.UUID
    email: str
    name: str
    created_at: datetime


class ApiKey(Model):
    id: uuid.UUID
    name: str
    prefix: str
    role: str
    scopes: list[str]
    created_at: datetime
    created_by: uuid.UUID | None
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenPair(Model):
    """An access token (valid ``expires_in`` seconds) and the refresh token for the next
    pair; a refresh token works once."""

    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    organization: Organization | None


class Me(Model):
    """Who the credential is: a user or an API key, where it acts, and what it may do."""

    user: User | None
    api_key: ApiKey | None
    organizations: list[Organization]
    organization: Organization | None
    role: str | None
    permissions: list[str]


# ---------------------------------------------------------------------------- workflows


class Diagnostic(Model):
    """A compiler finding; lines and columns are 1-based, ``end_column`` exclusive."""

    code: str
    #: ``error``, ``warning`` or ``info``.
    severity: str
    message: str
    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    hint: str | None = None


class VersionSummary(Model):
    id: uuid.UUID
    number: int
    #: SHA-256 of the source.
    hash: str
    plan_hash: str
    #: ``yaml`` or ``text``.
    format: str
    message: str
    author_id: uuid.UUID | None
    created_at: datetime


class Workflow(Model):
    id: uuid.UUID
    flow_id: str
    name: str
    description: str
    labels: dict[str, str]
    head: VersionSummary
    published: VersionSummary | None
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    #: The head's source, when asked for (``include_source=True``).
    source: str | None = None


class WorkflowSaved(Workflow, kw_only=True):
    """A save: ``created`` is False when the source equalled the head's and nothing was
    written; ``version`` is the version the source is now in."""

    created: bool
    version: VersionSummary
    warnings: list[Diagnostic]


class Validation(Model):
    ok: bool
    diagnostics: list[Diagnostic]
    flow_id: str | None
    plan_hash: str | None


class CompiledPlan(Model):
    version: VersionSummary
    plan_hash: str
    #: The execution plan (docs/ir.md).
    plan: dict[str, Any]
    warnings: list[Diagnostic]


class WorkflowGraph(Model):
    version: VersionSummary
    #: The editor's graph view (the JSON ``flowpilot graph`` prints).
    graph: dict[str, Any]


class VersionInfo(VersionSummary, kw_only=True):
    parent_id: uuid.UUID | None
    author_name: str | None
    #: Where the version came from: ``{}`` for a save, ``{"type": "rollback", …}`` …
    origin: dict[str, Any]
    tags: list[str]
    head: bool
    published: bool


class VersionDetail(VersionInfo, kw_only=True):
    source: str


class StepRef(Model):
    id: str
    kind: str
    parent: str | None


class StepChange(Model):
    """A step in both versions whose definition differs; ``fields`` are dotted paths into
    its plan node (``args.message``, ``retry.max_attempts`` …)."""

    id: str
    kind: str
    fields: list[str]
    before: dict[str, Any]
    after: dict[str, Any]


class StepsDiff(Model):
    added: list[StepRef]
    removed: list[StepRef]
    changed: list[StepChange]


class KeyedDiff(Model):
    added: list[str]
    removed: list[str]
    changed: list[str]


class VersionDiff(Model):
    from_version: VersionSummary
    to_version: VersionSummary
    identical: bool
    #: The unified diff of the two sources.
    unified: str
    steps: StepsDiff
    inputs: KeyedDiff
    vars: KeyedDiff
    outputs: KeyedDiff
    triggers: KeyedDiff
    settings: list[str]


class Tag(Model):
    name: str
    version: VersionSummary
    created_by: uuid.UUID | None
    created_at: datetime


class TagList(Model):
    items: list[Tag]


class PublishedTrigger(Model):
    id: str
    #: ``webhook``, ``cron`` or ``event``.
    type: str
    route: str | None
    url_path: str | None
    next_fire_at: datetime | None


class Publication(Model):
    workflow: Workflow
    triggers: list[PublishedTrigger]


class Template(Model):
    id: str
    flow_id: str
    name: str
    description: str
    labels: dict[str, str]
    formats: list[str]
    node_types: list[str]
    trigger_types: list[str]


class TemplateDetail(Template, kw_only=True):
    #: The source in each form (``yaml``, ``text``).
    sources: dict[str, str]


class TemplateList(Model):
    items: list[Template]


# ---------------------------------------------------------------------------- executions


class ExecutionLinks(Model):
    """Paths (under the server's URL) of what to do next."""

    self_: str = msgspec.field(name="self")
    logs: str
    events: str
    cancel: str
    retry: str


class ExecutionSummary(Model):
    """An execution as lists show it (no inputs, outputs or state)."""

    id: uuid.UUID
    workflow_id: uuid.UUID | None
    flow_id: str
    #: ``pending``, ``running``, ``waiting``, then ``succeeded``, ``failed``, ``cancelled``
    #: or ``timed_out`` (see :data:`FINISHED`).
    status: str
    trigger_type: str | None
    dry_run: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    error_message: str | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


class Execution(Model):
    """An execution: what started it, with which inputs, and how it ended."""

    id: uuid.UUID
    workflow_id: uuid.UUID | None
    flow_id: str
    plan_hash: str
    status: str
    #: ``high``, ``default`` or ``low``.
    priority: str
    dry_run: bool
    #: What started it: ``{"type": "manual", "by": {…}}``, a webhook, a retry …
    trigger: dict[str, Any]
    #: The inputs after defaults; inputs of type ``secret`` are masked.
    inputs: dict[str, Any]
    outputs: Any
    #: How it failed: ``type``, ``message``, ``step`` …
    error: dict[str, Any] | None
    parent_id: uuid.UUID | None
    parent_step: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    links: ExecutionLinks

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


class StepRun(Model):
    """One attempt of one step instance (``step_key``: ``each[2]/show`` inside loops)."""

    step_key: str
    node_id: str
    node_type: str | None
    kind: str
    attempt: int
    #: ``scheduled``, ``queued``, ``running``, ``waiting``, ``succeeded``, ``failed``,
    #: ``skipped``, ``cancelled`` or ``timed_out``.
    status: str
    inputs: Any
    output: Any
    error: dict[str, Any] | None
    worker: str | None
    created_at: datetime
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    due_at: datetime | None
    duration_ms: int | None


class ExecutionDetail(Execution, kw_only=True):
    """An execution with every step run, in the order they began."""

    steps: list[StepRun]


class LogEntry(Model):
    id: int
    ts: datetime
    #: ``debug``, ``info``, ``warning`` or ``error``.
    level: str
    step_key: str | None
    message: str
    fields: dict[str, Any]


class ExecutionEvent(Model):
    """One event of the live streams: ``execution.started``, ``step.succeeded``,
    ``approval.requested`` … (docs/executions.md lists them). Ids increase; resuming after
    one id sends every later event once."""

    id: int
    execution_id: uuid.UUID
    type: str
    #: The step key, for step events.
    step: str | None
    data: dict[str, Any]
    ts: datetime


# ---------------------------------------------------------------------------- gitops


class Repository(Model):
    """A git repository registered for syncing (its credentials are never returned)."""

    id: uuid.UUID
    name: str
    url: str
    #: The branch, tag or commit it syncs (None: the repository's HEAD).
    ref: str | None
    #: The directory that holds ``flows/`` and ``flowpilot.yaml`` ("" for the top).
    path: str
    prune: bool
    #: ``keep`` or ``overwrite`` flows edited after the last sync.
    drift: str
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
    """A new repository with its webhook secret, shown this once."""

    webhook_secret: str


class RepositoryList(Model):
    items: list[Repository]


class SyncItem(Model):
    """What a sync does (or did) to one flow."""

    #: ``create``, ``update``, ``unchanged``, ``drifted`` or ``delete``.
    action: str
    flow_id: str
    path: str | None
    workflow_id: uuid.UUID | None
    format: str | None
    hash: str | None
    head_version: int | None
    head_hash: str | None
    #: Whether applying writes something.
    writes: bool
    publishes: bool
    detail: str
    #: The version the apply wrote (or, unchanged, the head).
    version: int | None = None


class SyncCounts(Model):
    create: int
    update: int
    unchanged: int
    drifted: int
    delete: int


class SyncPlan(Model):
    """A plan; ``ok`` is False when a flow has errors (``diagnostics`` lists every one, and
    an apply would change nothing)."""

    ok: bool
    repository: str
    repository_id: uuid.UUID | None
    ref: str | None
    commit: str
    author: str
    message: str
    committed_at: datetime | None
    prune: bool
    drift: str
    publish: bool
    counts: SyncCounts
    items: list[SyncItem]
    #: Flow files left out by ``flowpilot.yaml``'s globs.
    excluded: list[str]
    diagnostics: list[Diagnostic]


class SyncError(Model):
    code: str
    detail: str


class SyncSummary(Model):
    """A sync as the history lists it."""

    id: uuid.UUID
    repository_id: uuid.UUID | None
    repository: str
    ref: str | None
    commit: str | None
    author: str | None
    message: str | None
    #: ``bundle`` (``flowpilot sync``), ``manual`` or ``push`` (a webhook).
    trigger: str
    #: ``applied`` or ``failed``.
    status: str
    counts: SyncCounts
    error: SyncError | None
    actor_type: str
    actor_id: uuid.UUID | None
    created_at: datetime


class Sync(SyncSummary, kw_only=True):
    """A sync with what it did to each flow, and its diagnostics."""

    items: list[SyncItem]
    diagnostics: list[Diagnostic]


class ExportedFlow(Model):
    workflow_id: uuid.UUID
    flow_id: str
    format: str
    version: int
    hash: str
    #: Where ``flowpilot export`` writes it: ``flows/<flow id>.flow.yaml`` or ``.flow``.
    path: str
    source: str


# ---------------------------------------------------------------------------- gitops requests


class BundleFile(msgspec.Struct, frozen=True):
    """A flow file of a bundle: its path in the repository (``flows/…``) and its text."""

    path: str
    source: str


class Bundle(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """A repository as read at one commit, for :meth:`GitOps.plan` and :meth:`GitOps.apply`
    (what ``flowpilot sync`` sends). Options left out follow ``flowpilot.yaml``."""

    #: How versions name the repository in their ``origin`` (its URL, or a path).
    repository: str
    #: The commit id (40 hex digits).
    commit: str
    #: The flow files under ``<path>/flows/``.
    files: list[BundleFile]
    ref: str | None = None
    author: str = ""
    message: str = ""
    committed_at: datetime | None = None
    #: The directory holding ``flows/`` ("" for the top).
    path: str = ""
    #: The text of ``<path>/flowpilot.yaml``.
    config: str | None = None
    prune: bool | None = None
    #: ``keep`` or ``overwrite`` flows edited since the last sync.
    drift: str | None = None
    publish: bool = False
    #: True when ``<path>/flows/`` holds a ``.keep`` file: with no ``files``, the repository
    #: deliberately holds no flow instead of being refused (``G003``).
    has_keep_file: bool = False


__all__ = [
    "FINISHED",
    "ApiKey",
    "Bundle",
    "BundleFile",
    "CompiledPlan",
    "Diagnostic",
    "Execution",
    "ExecutionDetail",
    "ExecutionEvent",
    "ExecutionLinks",
    "ExecutionSummary",
    "ExportedFlow",
    "KeyedDiff",
    "LogEntry",
    "Me",
    "Model",
    "Organization",
    "Page",
    "Publication",
    "PublishedTrigger",
    "Repository",
    "RepositoryCreated",
    "RepositoryList",
    "StepChange",
    "StepRef",
    "StepRun",
    "StepsDiff",
    "Sync",
    "SyncCounts",
    "SyncError",
    "SyncItem",
    "SyncPlan",
    "SyncSummary",
    "Tag",
    "TagList",
    "Template",
    "TemplateDetail",
    "TemplateList",
    "TokenPair",
    "User",
    "Validation",
    "VersionDetail",
    "VersionDiff",
    "VersionInfo",
    "VersionSummary",
    "Workflow",
    "WorkflowGraph",
    "WorkflowSaved",
]
