"""API keys: credentials of an organization for scripts and services.

A key is shown once (``fp_<prefix>_<secret>``) and stored as its SHA-256; it is found by its
prefix. It holds a role (never ``owner``), optionally narrowed to scopes, each a permission that
role holds. Its creator cannot hand out more than they have: the key's role is at most theirs,
and a key created by a scoped key gets a subset of that key's scopes.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import sqlalchemy as sa

from flowpilot.server import audit
from flowpilot.server.errors import Forbidden, NotFound, invalid_fields
from flowpilot.server.orgs.schemas import ApiKey, ApiKeyCreate, ApiKeyCreated
from flowpilot.server.orgs.services import time_cursor
from flowpilot.server.pagination import encode_cursor
from flowpilot.server.security import PERMISSIONS, Principal, Role, new_api_key, role_allows
from flowpilot.store.ids import uuid7

_COLUMNS = (
    "id, name, prefix, role, scopes, created_at, created_by, last_used_at, expires_at, revoked_at"
)


def _api_key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        role=row.role,
        scopes=list(row.scopes),
        created_at=row.created_at,
        created_by=row.created_by,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def _checked_scopes(acting: Principal, role: Role, scopes: list[str]) -> list[str]:
    """``scopes`` without duplicates, or 422 naming each bad one (``scopes.N``)."""
    problems: dict[str, str] = {}
    for index, scope in enumerate(scopes):
        if scope not in PERMISSIONS:
            problems[f"scopes.{index}"] = (
                f"unknown permission {scope!r} (one of {', '.join(PERMISSIONS)})"
            )
        elif not role_allows(role, scope):
            problems[f"scopes.{index}"] = f"the {role.name} role does not hold {scope!r}"
        elif acting.scopes and scope not in acting.scopes:
            problems[f"scopes.{index}"] = f"the API key creating this one does not hold {scope!r}"
    if acting.scopes and not scopes:
        problems["scopes"] = "a key created by a scoped API key must list its scopes"
    if problems:
        raise invalid_fields(problems, "the scopes are not valid: " + "; ".join(problems.values()))
    return list(dict.fromkeys(scopes))


def create_api_key(conn: sa.Connection, acting: Principal, body: ApiKeyCreate) -> ApiKeyCreated:
    assert acting.role is not None
    role = Role[body.role]
    if role > acting.role:
        raise Forbidden(
            f"the {acting.role.name} role cannot create a key with the {role.name} role",
            code="role_too_high",
            role=role.name,
        )
    name = body.name.strip()
    if not name:
        raise invalid_fields({"name": "must not be blank"}, "the key needs a name")
    scopes = _checked_scopes(acting, role, body.scopes)
    key, prefix, key_hash = new_api_key()
    row = conn.execute(
        sa.text(
            "INSERT INTO api_keys (id, org_id, name, prefix, key_hash, role, scopes, created_by, "
            "expires_at) VALUES (:id, :o, :n, :p, :h, :r, :s, :by, CASE WHEN "
            "CAST(:days AS integer) IS NULL THEN NULL ELSE now() + make_interval(days => :days) "
            f"END) RETURNING {_COLUMNS}"
        ),
        {
            "id": uuid7(),
            "o": acting.org,
            "n": name,
            "p": prefix,
            "h": key_hash,
            "r": role.name,
            "s": scopes,
            "by": acting.user_id,
            "days": body.expires_in_days,
        },
    ).one()
    listed = _api_key(row)
    audit.record(
        conn,
        acting,
        "api_key.created",
        "api_key",
        row.id,
        {"name": name, "prefix": prefix, "role": role.name, "scopes": scopes},
    )
    return ApiKeyCreated(**msgspec.structs.asdict(listed), key=key)


def list_api_keys(
    conn: sa.Connection, org_id: uuid.UUID, *, limit: int, cursor: str | None
) -> tuple[list[ApiKey], str | None]:
    """Newest first, revoked ones included (with ``revoked_at``)."""
    after = time_cursor(cursor, uuid.UUID)
    params: dict[str, Any] = {"o": org_id, "n": limit + 1}
    keyset = ""
    if after is not None:
        keyset = "AND (created_at, id) < (:ts, :id)"
        params["ts"], params["id"] = after
    rows = conn.execute(
        sa.text(
            f"SELECT {_COLUMNS} FROM api_keys WHERE org_id = :o {keyset} "
            "ORDER BY created_at DESC, id DESC LIMIT :n"
        ),
        params,
    ).all()
    last = rows[limit - 1] if len(rows) > limit else None
    return [_api_key(r) for r in rows[:limit]], (
        encode_cursor(last.created_at, last.id) if last else None
    )


def revoke_api_key(conn: sa.Connection, acting: Principal, key_id: uuid.UUID) -> None:
    """Revoke the key at once; revoking a revoked key changes nothing."""
    row = conn.execute(
        sa.text(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) "
            "WHERE id = :id AND org_id = :o RETURNING name, prefix, "
            "revoked_at = now() AS revoked_now"
        ),
        {"id": key_id, "o": acting.org},
    ).one_or_none()
    if row is None:
        raise NotFound(f"no API key {key_id}", code="not_found")
    if row.revoked_now:
        audit.record(
            conn,
            acting,
            "api_key.revoked",
            "api_key",
            key_id,
            {"name": row.name, "prefix": row.prefix},
        )


def get_api_key(conn: sa.Connection, org_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    row = conn.execute(
        sa.text(f"SELECT {_COLUMNS} FROM api_keys WHERE id = :id AND org_id = :o"),
        {"id": key_id, "o": org_id},
    ).one_or_none()
    if row is None:
        raise NotFound(f"no API key {key_id}", code="not_found")
    return _api_key(row)
