"""Rows the runtime service reads and writes: a new execution before its insert, an execution
as this process last wrote it, and the statements of the hot path."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from flowpilot.runtime.codec import dumps
from flowpilot.store.ids import uuid7


def iso_ms(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def load_payload(db: sa.Engine, ref: str) -> Any:
    with db.connect() as conn:
        return conn.execute(
            sa.text("SELECT data FROM payloads WHERE id = :id"), {"id": uuid.UUID(ref)}
        ).scalar()


def mock_from_schema(node: dict[str, Any], args: dict[str, Any]) -> tuple[Any, str | None]:
    from flowpilot.runtime.inline import node_type_of
    from flowpilot.runtime.mocks import example_from_schema

    node_type = node_type_of(node["node_type"], node.get("node_version"))
    schema = args.get(node_type.output_from) if node_type.output_from else node_type.output
    value = example_from_schema(schema if isinstance(schema, dict) else {})
    return value, (
        f"dry run: {node['node_type']} was not called; its output was generated from the "
        "output schema (give the step a `mock:` for realistic data)"
    )


LOCK_EXECUTION = (
    "SELECT id, org_id, flow_id, plan_hash, status, inputs, trigger, state, dry_run, priority, "
    "parent_id, parent_step, started_at, version FROM executions WHERE id = %(id)s FOR UPDATE"
)

CLAIM_STEP = (
    "WITH c AS (UPDATE step_runs SET status = 'running', worker = %(w)s, "
    "started_at = coalesce(started_at, now()), "
    "lease_expires_at = now() + make_interval(secs => %(lease)s) "
    "WHERE execution_id = %(e)s AND step_key = %(k)s AND attempt = %(a)s AND "
    "(status IN ('queued', 'scheduled') OR (status = 'running' AND "
    "(lease_expires_at < now() OR worker = %(w)s))) "
    "RETURNING org_id, node_type, args, idempotency_key, lease_expires_at) "
    "SELECT c.*, x.id, x.flow_id, x.plan_hash, x.status, x.inputs, x.trigger, x.state, "
    "x.dry_run, x.priority, x.parent_id, x.parent_step, x.started_at, x.version "
    "FROM c, executions x WHERE x.id = %(e)s"
)


class CachedRow:
    """An execution row as this process last wrote it (attributes of the locked read)."""

    __slots__ = (
        "dry_run",
        "flow_id",
        "id",
        "inputs",
        "org_id",
        "parent_id",
        "parent_step",
        "plan_hash",
        "priority",
        "started_at",
        "status",
        "trigger",
        "version",
    )

    def __init__(self, row: Any, *, status: str, version: int) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(row, name))
        self.status = status
        self.version = version


@dataclass
class NewExecution:
    """An execution about to be inserted (attributes of the locked read, plus workflow and
    creation time)."""

    id: str
    org_id: str
    flow_id: str
    plan_hash: str
    workflow_id: str | None
    status: str
    priority: str
    dry_run: bool
    inputs: dict[str, Any]
    trigger: dict[str, Any]
    state: dict[str, Any]
    parent_id: str | None
    parent_step: str | None
    created_at: datetime
    started_at: datetime | None
    version: int

    @classmethod
    def of(
        cls,
        org_id: str,
        plan: dict[str, Any],
        plan_hash: str,
        inputs: dict[str, Any],
        *,
        trigger: dict[str, Any] | None,
        priority: str,
        workflow_id: str | None,
        dry_run: bool = False,
        parent: tuple[str, str] | None = None,
        state: dict[str, Any] | None = None,
        started: bool = False,
    ) -> NewExecution:
        """A new execution (a fresh UUIDv7), ``started`` now or waiting for a start."""
        now = datetime.now(UTC)
        return cls(
            id=str(uuid7()),
            org_id=org_id,
            flow_id=plan["flow"]["id"],
            plan_hash=plan_hash,
            workflow_id=workflow_id,
            status="pending",
            priority=priority,
            dry_run=dry_run,
            inputs=inputs,
            trigger=trigger or {"type": "manual"},
            state=state or {},
            parent_id=parent[0] if parent else None,
            parent_step=parent[1] if parent else None,
            created_at=now,
            started_at=now if started else None,
            version=0,
        )

    def insert_params(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "org": self.org_id,
            "flow": self.flow_id,
            "hash": self.plan_hash,
            "wf": self.workflow_id,
            "status": self.status,
            "prio": self.priority,
            "dry": self.dry_run,
            "inputs": dumps(self.inputs),
            "trigger": dumps(self.trigger),
            "state": dumps(self.state),
            "parent": self.parent_id,
            "pstep": self.parent_step,
            "now": self.created_at,
            "started": self.started_at,
        }
