"""The audit trail: who did what to which resource, written in the same transaction as the
change itself (so a rolled-back change leaves no entry, and no change goes unrecorded)."""

from __future__ import annotations

import contextvars
import json
from typing import Any

import sqlalchemy as sa

from flowpilot.server.security import Principal

#: Set by the request-id middleware for the duration of each request.
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "flowpilot_request_id", default=None
)


def record(
    conn: sa.Connection,
    principal: Principal | None,
    action: str,
    resource_type: str,
    resource_id: object = None,
    data: dict[str, Any] | None = None,
    *,
    org_id: object = None,
    actor: tuple[str, object] | None = None,
) -> None:
    """Append an entry (``action`` like ``workflow.created``); never put secrets in ``data``.
    ``actor`` overrides the (type, id) taken from ``principal`` (e.g. ``("anonymous", None)``
    for a failed login)."""
    actor_type, actor_id = actor or (principal.actor if principal else ("system", None))
    conn.execute(
        sa.text(
            "INSERT INTO audit_log (org_id, actor_type, actor_id, action, resource_type, "
            "resource_id, data, request_id) VALUES (:org, :at, :aid, :action, :rt, :rid, "
            "CAST(:data AS jsonb), :req)"
        ),
        {
            "org": org_id or (principal.org_id if principal else None),
            "at": actor_type,
            "aid": actor_id,
            "action": action,
            "rt": resource_type,
            "rid": str(resource_id) if resource_id is not None else None,
            "data": json.dumps(data or {}, default=str),
            "req": request_id_var.get(),
        },
    )
