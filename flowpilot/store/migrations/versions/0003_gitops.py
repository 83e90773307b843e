"""GitOps: the git repositories an organization syncs flows from, and the history of syncs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = """
-- Credentials and the webhook secret are sealed with AES-256-GCM (key id, nonce, ciphertext):
-- the database never holds them in clear, and the API never returns them.
CREATE TABLE gitops_repositories (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organizations(id),
    name text NOT NULL,
    url text NOT NULL,
    ref text,
    path text NOT NULL DEFAULT '',
    credentials bytea,
    webhook_secret bytea NOT NULL,
    prune boolean NOT NULL DEFAULT false,
    drift text NOT NULL DEFAULT 'keep' CHECK (drift IN ('keep', 'overwrite')),
    publish boolean NOT NULL DEFAULT false,
    last_commit text,
    last_synced_at timestamptz,
    created_by uuid REFERENCES users(id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX gitops_repositories_org_name ON gitops_repositories (org_id, lower(name));

-- One row per applied (or failed) sync, written in the sync's own transaction when it applied
-- and in a transaction of its own when it failed (the failed one rolled back).
CREATE TABLE gitops_syncs (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organizations(id),
    repository_id uuid REFERENCES gitops_repositories(id) ON DELETE SET NULL,
    repository text NOT NULL,
    ref text,
    commit_sha text,
    author text,
    message text,
    trigger text NOT NULL CHECK (trigger IN ('bundle', 'manual', 'push')),
    status text NOT NULL CHECK (status IN ('applied', 'failed')),
    counts jsonb NOT NULL DEFAULT '{}',
    items jsonb NOT NULL DEFAULT '[]',
    diagnostics jsonb NOT NULL DEFAULT '[]',
    error jsonb,
    actor_type text NOT NULL,
    actor_id uuid,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gitops_syncs_org ON gitops_syncs (org_id, id DESC);
CREATE INDEX gitops_syncs_repository ON gitops_syncs (repository_id, id DESC);

-- A plan looks up, per workflow, the newest version a repository synced.
CREATE INDEX workflow_versions_git_origin
    ON workflow_versions (workflow_id, (origin->>'repository'), number DESC)
    WHERE origin->>'type' = 'git';
"""

DROP = """
DROP INDEX IF EXISTS workflow_versions_git_origin;
DROP TABLE gitops_syncs, gitops_repositories;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
