"""Sessions as refresh-token families.

A login starts a family; each refresh marks the presented token used and issues the next one
of the same family. A refresh token is an opaque random string stored only as its SHA-256, so a
leaked table cannot be replayed. Presenting a token that was already used means two parties
hold it (the client and a thief): the whole family is revoked, which logs both out.
"""

from __future__ import annotations

import secrets
import uuid

import sqlalchemy as sa

from flowpilot.server import audit
from flowpilot.server.auth.schemas import TokenPair
from flowpilot.server.config import Settings
from flowpilot.server.errors import ApiError, Unauthorized
from flowpilot.server.orgs.schemas import Organization
from flowpilot.server.orgs.services import find_membership
from flowpilot.server.security import Principal, Role, issue_access_token, sha256_hex
from flowpilot.store.ids import uuid7


def issue_tokens(
    conn: sa.Connection,
    settings: Settings,
    user_id: uuid.UUID,
    org: Organization | None,
    *,
    family_id: uuid.UUID | None = None,
) -> TokenPair:
    """A new access token for ``org`` and a refresh token (of ``family_id``, or a new family)."""
    refresh_token = secrets.token_urlsafe(32)
    conn.execute(
        sa.text(
            "INSERT INTO refresh_tokens (id, family_id, user_id, org_id, token_hash, expires_at) "
            "VALUES (:id, :family, :u, :o, :h, now() + make_interval(secs => :ttl))"
        ),
        {
            "id": uuid7(),
            "family": family_id or uuid7(),
            "u": user_id,
            "o": org.id if org else None,
            "h": sha256_hex(refresh_token),
            "ttl": settings.refresh_token_seconds,
        },
    )
    access_token, expires_in = issue_access_token(
        settings.secret_key, user_id, org.id if org else None, settings.access_token_seconds
    )
    return TokenPair(
        access_token=access_token,
        refresh_token=refresh_token,
        token_type="bearer",
        expires_in=expires_in,
        organization=org,
    )


def _revoke_family(conn: sa.Connection, family_id: uuid.UUID) -> int:
    return conn.execute(
        sa.text(
            "UPDATE refresh_tokens SET revoked_at = now() "
            "WHERE family_id = :f AND revoked_at IS NULL"
        ),
        {"f": family_id},
    ).rowcount


def _user_principal(row: sa.Row) -> Principal:
    return Principal(org_id=row.org_id, role=None, user_id=row.user_id)


def refresh_session(db: sa.Engine, settings: Settings, presented: str) -> TokenPair:
    """Rotate ``presented`` into a new pair of the same family, or raise 401 saying why.

    The row is locked (``FOR UPDATE``), so of two concurrent refreshes with one token the
    second sees it used: it counts as reuse, and the family is revoked.
    """
    failure: ApiError | None = None
    with db.begin() as conn:
        row = conn.execute(
            sa.text(
                "SELECT t.id, t.family_id, t.user_id, t.org_id, t.used_at, t.revoked_at, "
                "t.expires_at <= now() AS expired, u.disabled_at FROM refresh_tokens t "
                "JOIN users u ON u.id = t.user_id WHERE t.token_hash = :h FOR UPDATE OF t"
            ),
            {"h": sha256_hex(presented)},
        ).one_or_none()
        if row is None or row.revoked_at is not None:
            failure = Unauthorized(
                "the refresh token is not valid or was revoked; log in again",
                code="invalid_refresh_token",
            )
        elif row.used_at is not None:
            revoked = _revoke_family(conn, row.family_id)
            audit.record(
                conn,
                _user_principal(row),
                "auth.refresh_token_reused",
                "user",
                row.user_id,
                {"family_id": row.family_id, "tokens_revoked": revoked},
            )
            failure = Unauthorized(
                "this refresh token was already used, so it may have been stolen: its session "
                "is now logged out; log in again",
                code="refresh_token_reused",
            )
        elif row.expired:
            failure = Unauthorized(
                "the refresh token has expired; log in again", code="refresh_token_expired"
            )
        elif row.disabled_at is not None:
            _revoke_family(conn, row.family_id)
            failure = Unauthorized("this account is disabled", code="invalid_refresh_token")
        else:
            conn.execute(
                sa.text("UPDATE refresh_tokens SET used_at = now() WHERE id = :id"),
                {"id": row.id},
            )
            # Still a member of the organization the session acted in? Otherwise fall back to
            # the first one the user belongs to (or none).
            org = (row.org_id and find_membership(conn, row.user_id, row.org_id)) or (
                find_membership(conn, row.user_id)
            )
            return issue_tokens(conn, settings, row.user_id, org, family_id=row.family_id)
    # Outside the transaction, so the revocation above is committed before answering.
    assert failure is not None
    raise failure


def end_session(db: sa.Engine, presented: str) -> None:
    """Revoke the family of ``presented`` (a no-op for a token that is unknown or revoked)."""
    with db.begin() as conn:
        row = conn.execute(
            sa.text(
                "SELECT family_id, user_id, org_id FROM refresh_tokens "
                "WHERE token_hash = :h AND revoked_at IS NULL"
            ),
            {"h": sha256_hex(presented)},
        ).one_or_none()
        if row is not None and _revoke_family(conn, row.family_id):
            audit.record(
                conn,
                _user_principal(row),
                "auth.logout",
                "user",
                row.user_id,
                {"family_id": row.family_id},
            )


def session_principal(user_id: uuid.UUID, org: Organization | None) -> Principal:
    """The principal a fresh session acts as (for the audit trail of logins and switches)."""
    return Principal(
        org_id=org.id if org else None, role=Role[org.role] if org else None, user_id=user_id
    )
