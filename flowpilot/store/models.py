"""SQLAlchemy models of the runtime's tables (typed ``Mapped[]`` columns).

The migrations in ``flowpilot/store/migrations`` are the source of truth for the schema (they
also create partitions, which models cannot express); these models mirror them for queries
outside the engine's hot path (the CLI, the API). ``tests/store/test_migrations.py`` checks that
the two agree.

Executions, step runs, logs and events are range-partitioned by month on their UUIDv7 execution
id (ids are time-ordered), so every query by execution id prunes to one partition and old months
can be detached whole. Every tenant-owned table carries ``org_id``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID
from sqlalchemy.dialects.postgresql import base as pg_base
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSONB, Any: JSONB, uuid.UUID: UUID(as_uuid=True)}


_now = sa.text("now()")
TS = sa.DateTime(timezone=True)


class XID8(sa.types.UserDefinedType[str]):
    """PostgreSQL's 64-bit transaction id (read as text)."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "xid8"


# So that reflecting the schema (tests/store) knows the type.
pg_base.ischema_names.setdefault("xid8", XID8)


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.Text, unique=True)
    name: Mapped[str] = mapped_column(sa.Text)
    max_concurrent_executions: Mapped[int | None] = mapped_column(sa.Integer)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(TS, server_default=_now)


class Plan(Base):
    """A compiled plan, content-addressed by its ``plan_hash``."""

    __tablename__ = "plans"

    org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    hash: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    flow_id: Mapped[str] = mapped_column(sa.Text)
    ir_version: Mapped[int] = mapped_column(sa.Integer)
    plan: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(TS, server_default=_now)


class Execution(Base):
    __tablename__ = "executions"
    __table_args__ = {"postgresql_partition_by": "RANGE (id)"}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    org_id: Mapped[uuid.UUID]
    flow_id: Mapped[str] = mapped_column(sa.Text)
    plan_hash: Mapped[str] = mapped_column(sa.Text)
    workflow_id: Mapped[uuid.UUID | None]
    status: Mapped[str] = mapped_column(sa.Text)
    priority: Mapped[str] = mapped_column(sa.Text)
    dry_run: Mapped[bool] = mapped_column(sa.Boolean)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONB)
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    trigger: Mapped[dict[str, Any]] = mapped_column(JSONB)
    state: Mapped[dict[str, Any]] = mapped_column(JSONB)
    parent_id: Mapped[uuid.UUID | None]
    parent_step: Mapped[str | None] = mapped_column(sa.Text)
    version: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(TS)
    started_at: Mapped[datetime | None] = mapped_column(TS)
    finished_at: Mapped[datetime | None] = mapped_column(TS)
    deadline_at: Mapped[datetime | None] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)


class StepRun(Base):
    __tablename__ = "step_runs"
    __table_args__ = {"postgresql_partition_by": "RANGE (execution_id)"}

    execution_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    org_id: Mapped[uuid.UUID]
    node_id: Mapped[str] = mapped_column(sa.Text)
    step_key: Mapped[str] = mapped_column(sa.Text)
    kind: Mapped[str] = mapped_column(sa.Text)
    node_type: Mapped[str | None] = mapped_column(sa.Text)
    attempt: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.Text)
    args: Mapped[Any | None] = mapped_column(JSONB)  # sealed: secrets as references
    inputs: Mapped[Any | None] = mapped_column(JSONB)  # redacted snapshot people see
    output: Mapped[Any | None] = mapped_column(JSONB)
    output_ref: Mapped[uuid.UUID | None]
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    worker: Mapped[str | None] = mapped_column(sa.Text)
    queue: Mapped[str | None] = mapped_column(sa.Text)
    idempotency_key: Mapped[str | None] = mapped_column(sa.Text)
    due_at: Mapped[datetime | None] = mapped_column(TS)
    lease_expires_at: Mapped[datetime | None] = mapped_column(TS)
    enqueued_at: Mapped[datetime | None] = mapped_column(TS)
    started_at: Mapped[datetime | None] = mapped_column(TS)
    finished_at: Mapped[datetime | None] = mapped_column(TS)
    created_at: Mapped[datetime] = mapped_column(TS)


class ExecutionLog(Base):
    __tablename__ = "execution_logs"
    __table_args__ = {"postgresql_partition_by": "RANGE (execution_id)"}

    execution_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    org_id: Mapped[uuid.UUID]
    step_key: Mapped[str | None] = mapped_column(sa.Text)
    level: Mapped[str] = mapped_column(sa.Text)
    message: Mapped[str] = mapped_column(sa.Text)
    fields: Mapped[dict[str, Any]] = mapped_column(JSONB)
    ts: Mapped[datetime] = mapped_column(TS)


class ExecutionEvent(Base):
    """Every state change, in order; ``id`` is global so a stream can resume after any id."""

    __tablename__ = "execution_events"
    __table_args__ = {"postgresql_partition_by": "RANGE (execution_id)"}

    execution_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    org_id: Mapped[uuid.UUID]
    type: Mapped[str] = mapped_column(sa.Text)
    step_key: Mapped[str | None] = mapped_column(sa.Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    ts: Mapped[datetime] = mapped_column(TS)
    #: The writing transaction's id (see migration 0002: what makes event cursors exact).
    tx: Mapped[str] = mapped_column(XID8, server_default=sa.text("pg_current_xact_id()"))


class Timer(Base):
    __tablename__ = "timers"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    org_id: Mapped[uuid.UUID]
    execution_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(sa.Text)
    due_at: Mapped[datetime] = mapped_column(TS)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    fired_at: Mapped[datetime | None] = mapped_column(TS)
    created_at: Mapped[datetime] = mapped_column(TS, server_default=_now)


class Payload(Base):
    """A large value (step output or input snapshot) stored apart and referenced by id."""

    __tablename__ = "payloads"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    org_id: Mapped[uuid.UUID]
    execution_id: Mapped[uuid.UUID]
    size: Mapped[int] = mapped_column(sa.Integer)
    data: Mapped[Any] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(TS, server_default=_now)


class StoredFile(Base):
    __tablename__ = "files"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    org_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(sa.Text)
    mime_type: Mapped[str] = mapped_column(sa.Text)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.Text)
    content: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(TS, server_default=_now)


class DeadLetter(Base):
    __tablename__ = "dead_letters"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    org_id: Mapped[uuid.UUID | None]
    queue: Mapped[str] = mapped_column(sa.Text)
    actor: Mapped[str] = mapped_column(sa.Text)
    message: Mapped[dict[str, Any]] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(sa.Text)
    failed_at: Mapped[datetime] = mapped_column(TS, server_default=_now)
    requeued_at: Mapped[datetime | None] = mapped_column(TS)


# ---------------------------------------------------------------------------- server (0002)


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.Text)
    name: Mapped[str] = mapped_column(sa.Text)
    password_hash: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(TS, server_default=_now)
    disabled_at: Mapped[datetime | None] = mapped_column(TS)


class OrgMember(Base):
    __tablename__ = "org_members"

    org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(TS, server_default=_now)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    family_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID]
    org_id: Mapped[uuid.UUID | None]
    token_hash: Mapped[str] = mapped_column(sa.Text)
    issued_at: Mapped[datetime] = mapped_column(TS, server_default=_now)
    expires_at: Mapped[datetime] = mapped_column(TS)
    used_at: Mapped[datetime | None] = mapped_column(TS)
    revoked_at: Mapped[datetime | None] = mapped_column(TS)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    org_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(sa.Text)
    prefix: Mapped[str] = mapped_column(sa.Text)
    key_hash: Mapped[str] = mapped_column(sa.Text)
    role: Mapped[str] = mapped_column(sa.Text)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(sa.Text))
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(TS, server_default=_now)
    expires_at: Mapped[datetime | None] = mapped_column(TS)
    last_used_at: Mapped[datetime | None] = mapped_column(TS)
    revoked_at: Mapped[datetime | None] = mapped_column(TS)


class Workflow(Base):
    __tablename__ = "workflows"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    org_id: Mapped[uuid.UUID]
    flow_id: Mapped[str] = mapped_column(sa.Text)
    name: Mapped[str] = mapped_column(sa.Text)
    description: Mapped[str] = mapped_column(sa.Text)
    labels: Mapped[dict[str, Any]] = mapped_column(JSONB)
    head_version_id: Mapped[uuid.UUID | None]
    published_version_id: Mapped[uuid.UUID | None]
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(TS, server_default=_now)
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=_now)
    deleted_at: Mapped[datetime | None] = mapped_column(TS)
    search: Mapped[Any] = mapped_column(TSVECTOR, sa.Computed("", persisted=True))


class WorkflowVersion(Base):
    __tablename__ = "workflow_versions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    org_id: Mapped[uuid.UUID]
    workflow_id: Mapped[uuid.UUID]
    number: Mapped[int] = mapped_column(sa.Integer)
    hash: Mapped[str] = mapped_column(sa.Text)
    parent_id: Mapped[uuid.UUID | None]
    format: Mapped[str] = mapped_column(sa.Text)
    source: Mapped[str] = mapped_column(sa.Text)
    plan_hash: Mapped[str] = mapped_column(sa.Text)
    author_id: Mapped[uuid.UUID | None]
    message: Mapped[str] = mapped_column(sa.Text)
    origin: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(TS, server_default=_now)


class WorkflowTag(Base):
    __tablename__ = "workflow_tags"

    workflow_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    org_id: Mapped[uuid.UUID]
    version_id: Mapped[uuid.UUID]
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(TS, server_default=_now)


class Trigger(Base):
    """A trigger of a workflow's published version (webhook, cron or event)."""

    __tablename__ = "triggers"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    org_id: Mapped[uuid.UUID]
    workflow_id: Mapped[uuid.UUID]
    version_id: Mapped[uuid.UUID]
    trigger_id: Mapped[str] = mapped_column(sa.Text)
    type: Mapped[str] = mapped_column(sa.Text)
    config: Mapped[dict[str, Any]] = mapped_column(JSONB)
    route: Mapped[str | None] = mapped_column(sa.Text)
    next_fire_at: Mapped[datetime | None] = mapped_column(TS)
    last_fired_at: Mapped[datetime | None] = mapped_column(TS)
    enabled: Mapped[bool] = mapped_column(sa.Boolean)
    created_at: Mapped[datetime] = mapped_column(TS, server_default=_now)


class TriggerFire(Base):
    __tablename__ = "trigger_fires"

    trigger_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    occurrence: Mapped[datetime] = mapped_column(TS, primary_key=True)
    execution_id: Mapped[uuid.UUID | None]
    fired_at: Mapped[datetime] = mapped_column(TS, server_default=_now)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"

    route: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    signature: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(TS, server_default=_now)


class TriggerCursor(Base):
    """How far a reader of the event stream (the ``execution.*`` event triggers) has fired."""

    __tablename__ = "trigger_cursors"

    name: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    tx: Mapped[str] = mapped_column(XID8)
    event_id: Mapped[int] = mapped_column(sa.BigInteger, server_default=sa.text("0"))
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=_now)


class CustomEvent(Base):
    __tablename__ = "custom_events"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    org_id: Mapped[uuid.UUID]
    type: Mapped[str] = mapped_column(sa.Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    source: Mapped[str | None] = mapped_column(sa.Text)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(TS, server_default=_now)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    org_id: Mapped[uuid.UUID | None]
    actor_type: Mapped[str] = mapped_column(sa.Text)
    actor_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(sa.Text)
    resource_type: Mapped[str] = mapped_column(sa.Text)
    resource_id: Mapped[str | None] = mapped_column(sa.Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    request_id: Mapped[str | None] = mapped_column(sa.Text)
    ts: Mapped[datetime] = mapped_column(TS, server_default=_now)


# ---------------------------------------------------------------------------- gitops (0003)


class GitOpsRepository(Base):
    """A git repository an organization syncs flows from (credentials and the webhook secret
    sealed with AES-256-GCM)."""

    __tablename__ = "gitops_repositories"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    org_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(sa.Text)
    url: Mapped[str] = mapped_column(sa.Text)
    ref: Mapped[str | None] = mapped_column(sa.Text)
    path: Mapped[str] = mapped_column(sa.Text, server_default="")
    credentials: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    webhook_secret: Mapped[bytes] = mapped_column(sa.LargeBinary)
    prune: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    drift: Mapped[str] = mapped_column(sa.Text, server_default="keep")
    publish: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    last_commit: Mapped[str | None] = mapped_column(sa.Text)
    last_synced_at: Mapped[datetime | None] = mapped_column(TS)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(TS, server_default=_now)
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=_now)


class GitOpsSync(Base):
    """One applied or failed sync, with its plan items and diagnostics."""

    __tablename__ = "gitops_syncs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    org_id: Mapped[uuid.UUID]
    repository_id: Mapped[uuid.UUID | None]
    repository: Mapped[str] = mapped_column(sa.Text)
    ref: Mapped[str | None] = mapped_column(sa.Text)
    commit_sha: Mapped[str | None] = mapped_column(sa.Text)
    author: Mapped[str | None] = mapped_column(sa.Text)
    message: Mapped[str | None] = mapped_column(sa.Text)
    trigger: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.Text)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB)
    items: Mapped[Any] = mapped_column(JSONB)
    diagnostics: Mapped[Any] = mapped_column(JSONB)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    actor_type: Mapped[str] = mapped_column(sa.Text)
    actor_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(TS, server_default=_now)
