"""The runtime's tables: organizations, plans, executions and their step runs, logs, events,
timers, payloads, files and dead letters.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

from flowpilot.store.partitions import ensure_partitions

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE organizations (
    id uuid PRIMARY KEY,
    slug text NOT NULL UNIQUE,
    name text NOT NULL,
    max_concurrent_executions integer CHECK (max_concurrent_executions > 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE plans (
    org_id uuid NOT NULL REFERENCES organizations(id),
    hash text NOT NULL,
    flow_id text NOT NULL,
    ir_version integer NOT NULL,
    plan jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, hash)
);

CREATE TABLE executions (
    id uuid NOT NULL,
    org_id uuid NOT NULL,
    flow_id text NOT NULL,
    plan_hash text NOT NULL,
    workflow_id uuid,
    status text NOT NULL CHECK (status IN
        ('pending', 'running', 'waiting', 'succeeded', 'failed', 'cancelled', 'timed_out')),
    priority text NOT NULL DEFAULT 'default' CHECK (priority IN ('high', 'default', 'low')),
    dry_run boolean NOT NULL DEFAULT false,
    inputs jsonb NOT NULL,
    outputs jsonb,
    error jsonb,
    trigger jsonb NOT NULL,
    state jsonb NOT NULL,
    parent_id uuid,
    parent_step text,
    version integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    started_at timestamptz,
    finished_at timestamptz,
    deadline_at timestamptz,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);
CREATE INDEX executions_org_status ON executions (org_id, status, id DESC);
CREATE INDEX executions_org_flow ON executions (org_id, flow_id, id DESC);
CREATE INDEX executions_workflow ON executions (workflow_id, id DESC) WHERE workflow_id IS NOT NULL;
CREATE INDEX executions_parent ON executions (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX executions_active ON executions (org_id, flow_id, status)
    WHERE status IN ('pending', 'running', 'waiting');

CREATE TABLE step_runs (
    execution_id uuid NOT NULL,
    id uuid NOT NULL,
    org_id uuid NOT NULL,
    node_id text NOT NULL,
    step_key text NOT NULL,
    kind text NOT NULL,
    node_type text,
    attempt integer NOT NULL,
    status text NOT NULL CHECK (status IN ('scheduled', 'queued', 'running', 'waiting',
        'succeeded', 'failed', 'skipped', 'cancelled', 'timed_out')),
    args jsonb,
    inputs jsonb,
    output jsonb,
    output_ref uuid,
    error jsonb,
    worker text,
    queue text,
    idempotency_key text,
    due_at timestamptz,
    lease_expires_at timestamptz,
    enqueued_at timestamptz,
    started_at timestamptz,
    finished_at timestamptz,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (execution_id, id),
    UNIQUE (execution_id, step_key, attempt)
) PARTITION BY RANGE (execution_id);
CREATE INDEX step_runs_pending ON step_runs (status, due_at)
    WHERE status IN ('scheduled', 'queued', 'running');

CREATE SEQUENCE execution_logs_id_seq;
CREATE TABLE execution_logs (
    execution_id uuid NOT NULL,
    id bigint NOT NULL DEFAULT nextval('execution_logs_id_seq'),
    org_id uuid NOT NULL,
    step_key text,
    level text NOT NULL CHECK (level IN ('debug', 'info', 'warning', 'error')),
    message text NOT NULL,
    fields jsonb NOT NULL DEFAULT '{}',
    ts timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (execution_id, id)
) PARTITION BY RANGE (execution_id);

CREATE SEQUENCE execution_events_id_seq;
CREATE TABLE execution_events (
    execution_id uuid NOT NULL,
    id bigint NOT NULL DEFAULT nextval('execution_events_id_seq'),
    org_id uuid NOT NULL,
    type text NOT NULL,
    step_key text,
    data jsonb NOT NULL DEFAULT '{}',
    ts timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (execution_id, id)
) PARTITION BY RANGE (execution_id);
CREATE INDEX execution_events_org ON execution_events (org_id, id);

CREATE TABLE timers (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL,
    execution_id uuid NOT NULL,
    kind text NOT NULL,
    due_at timestamptz NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}',
    fired_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX timers_due ON timers (due_at) WHERE fired_at IS NULL;
CREATE INDEX timers_execution ON timers (execution_id);

CREATE TABLE payloads (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL,
    execution_id uuid NOT NULL,
    size integer NOT NULL,
    data jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payloads_execution ON payloads (execution_id);

CREATE TABLE files (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL,
    name text NOT NULL,
    mime_type text NOT NULL,
    size bigint NOT NULL,
    sha256 text NOT NULL,
    content bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dead_letters (
    id uuid PRIMARY KEY,
    org_id uuid,
    queue text NOT NULL,
    actor text NOT NULL,
    message jsonb NOT NULL,
    error text,
    failed_at timestamptz NOT NULL DEFAULT now(),
    requeued_at timestamptz
);
CREATE INDEX dead_letters_pending ON dead_letters (failed_at) WHERE requeued_at IS NULL;
"""


def upgrade() -> None:
    conn = op.get_bind()
    conn.exec_driver_sql(SCHEMA)
    ensure_partitions(conn)


def downgrade() -> None:
    op.get_bind().exec_driver_sql(
        "DROP TABLE dead_letters, files, payloads, timers, execution_events, execution_logs, "
        "step_runs, executions, plans, organizations CASCADE; "
        "DROP SEQUENCE execution_logs_id_seq, execution_events_id_seq;"
    )
