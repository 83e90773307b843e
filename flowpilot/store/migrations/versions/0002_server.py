"""The server's tables: users and their organizations, tokens and API keys, workflows with their
immutable versions and tags, the triggers a published version declares, custom events, and the
audit trail.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE users (
    id uuid PRIMARY KEY,
    email text NOT NULL,
    name text NOT NULL,
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

ALTER TABLE organizations ADD COLUMN created_by uuid REFERENCES users(id);

CREATE TABLE org_members (
    org_id uuid NOT NULL REFERENCES organizations(id),
    user_id uuid NOT NULL REFERENCES users(id),
    role text NOT NULL CHECK (role IN ('owner', 'admin', 'manager', 'member', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user ON org_members (user_id);

-- A refresh token is stored as its SHA-256; rotation marks the old one used and issues the next
-- of the same family; presenting a used token again revokes the whole family.
CREATE TABLE refresh_tokens (
    id uuid PRIMARY KEY,
    family_id uuid NOT NULL,
    user_id uuid NOT NULL REFERENCES users(id),
    org_id uuid REFERENCES organizations(id),
    token_hash text NOT NULL UNIQUE,
    issued_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE api_keys (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organizations(id),
    name text NOT NULL,
    prefix text NOT NULL UNIQUE,
    key_hash text NOT NULL,
    role text NOT NULL CHECK (role IN ('admin', 'manager', 'member', 'viewer')),
    scopes text[] NOT NULL DEFAULT '{}',
    created_by uuid REFERENCES users(id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX api_keys_org ON api_keys (org_id, created_at);

CREATE TABLE workflows (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organizations(id),
    flow_id text NOT NULL,
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    labels jsonb NOT NULL DEFAULT '{}',
    head_version_id uuid,
    published_version_id uuid,
    created_by uuid REFERENCES users(id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    search tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', coalesce(name, '') || ' ' || flow_id), 'A')
        || setweight(to_tsvector('simple', coalesce(description, '')), 'B')
    ) STORED
);
-- One live workflow per flow id in an organization; a deleted one keeps its id free.
CREATE UNIQUE INDEX workflows_org_flow ON workflows (org_id, flow_id) WHERE deleted_at IS NULL;
CREATE INDEX workflows_org_updated ON workflows (org_id, updated_at DESC, id DESC);
CREATE INDEX workflows_search ON workflows USING gin (search);
CREATE INDEX workflows_labels ON workflows USING gin (labels jsonb_path_ops);

-- Every save is an immutable version; ``hash`` is the SHA-256 of the source text.
CREATE TABLE workflow_versions (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organizations(id),
    workflow_id uuid NOT NULL REFERENCES workflows(id),
    number integer NOT NULL,
    hash text NOT NULL,
    parent_id uuid REFERENCES workflow_versions(id),
    format text NOT NULL CHECK (format IN ('yaml', 'text')),
    source text NOT NULL,
    plan_hash text NOT NULL,
    author_id uuid REFERENCES users(id),
    message text NOT NULL DEFAULT '',
    origin jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workflow_id, number),
    FOREIGN KEY (org_id, plan_hash) REFERENCES plans (org_id, hash)
);
CREATE INDEX workflow_versions_hash ON workflow_versions (workflow_id, hash);
ALTER TABLE workflows ADD FOREIGN KEY (head_version_id) REFERENCES workflow_versions(id)
    DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE workflows ADD FOREIGN KEY (published_version_id) REFERENCES workflow_versions(id)
    DEFERRABLE INITIALLY DEFERRED;

CREATE TABLE workflow_tags (
    workflow_id uuid NOT NULL REFERENCES workflows(id),
    name text NOT NULL,
    org_id uuid NOT NULL REFERENCES organizations(id),
    version_id uuid NOT NULL REFERENCES workflow_versions(id),
    created_by uuid REFERENCES users(id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, name)
);

-- The triggers of a workflow's published version (rewritten on every publish).
CREATE TABLE triggers (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organizations(id),
    workflow_id uuid NOT NULL REFERENCES workflows(id),
    version_id uuid NOT NULL REFERENCES workflow_versions(id),
    trigger_id text NOT NULL,
    type text NOT NULL CHECK (type IN ('webhook', 'cron', 'event')),
    config jsonb NOT NULL,
    -- webhook: the route key '<org slug>/<flow id>/<path>'; event: the event type listened to
    route text,
    next_fire_at timestamptz,
    last_fired_at timestamptz,
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workflow_id, trigger_id)
);
CREATE UNIQUE INDEX triggers_webhook_route ON triggers (route) WHERE type = 'webhook';
CREATE INDEX triggers_event_route ON triggers (org_id, route) WHERE type = 'event';
CREATE INDEX triggers_due ON triggers (next_fire_at) WHERE type = 'cron' AND enabled;

-- One row per cron occurrence that fired: the primary key is what stops two schedulers from
-- firing the same occurrence twice.
CREATE TABLE trigger_fires (
    trigger_id uuid NOT NULL REFERENCES triggers(id) ON DELETE CASCADE,
    occurrence timestamptz NOT NULL,
    execution_id uuid,
    fired_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (trigger_id, occurrence)
);

-- Signatures of accepted webhook deliveries, kept for the replay window.
CREATE TABLE webhook_deliveries (
    route text NOT NULL,
    signature text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (route, signature)
);
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at);

-- Event triggers on ``execution.*`` read the event stream after a cursor that advances in the
-- transaction that fires them. Event ids come from a sequence, so an event can commit after one
-- with a higher id: a cursor on ids would skip it. ``tx`` is the writing transaction's id; every
-- event written by a transaction older than the oldest one still running (the snapshot's xmin)
-- is visible, so the cursor (tx, id) passes nothing it has not seen.
ALTER TABLE execution_events ADD COLUMN tx xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX execution_events_finished ON execution_events (tx, id)
    WHERE type IN ('execution.succeeded', 'execution.failed', 'execution.cancelled',
                   'execution.timed_out');
CREATE TABLE trigger_cursors (
    name text PRIMARY KEY,
    tx xid8 NOT NULL,
    event_id bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE custom_events (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organizations(id),
    type text NOT NULL,
    data jsonb NOT NULL,
    source text,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX custom_events_org ON custom_events (org_id, created_at DESC);

CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id uuid,
    actor_type text NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system', 'anonymous')),
    actor_id uuid,
    action text NOT NULL,
    resource_type text NOT NULL,
    resource_id text,
    data jsonb NOT NULL DEFAULT '{}',
    request_id text,
    ts timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_org ON audit_log (org_id, ts DESC);

-- Listing executions: per workflow by status and time, and by trigger type.
CREATE INDEX executions_org_workflow_status ON executions (org_id, workflow_id, status, id DESC);
CREATE INDEX executions_org_trigger ON executions (org_id, ((trigger->>'type')), id DESC);
"""

DROP = """
DROP INDEX IF EXISTS executions_org_trigger;
DROP INDEX IF EXISTS executions_org_workflow_status;
DROP TABLE audit_log, custom_events, trigger_cursors, webhook_deliveries, trigger_fires,
    triggers, workflow_tags;
DROP INDEX IF EXISTS execution_events_finished;
ALTER TABLE execution_events DROP COLUMN tx;
ALTER TABLE workflows DROP COLUMN head_version_id, DROP COLUMN published_version_id;
DROP TABLE workflow_versions, workflows, api_keys, refresh_tokens, org_members;
ALTER TABLE organizations DROP COLUMN created_by;
DROP TABLE users;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
