"""Who belongs to an organization, and the rules for changing it.

- Nobody grants a role above their own, or changes or removes a member whose role is above
  their own; so only an owner makes or unmakes owners.
- An organization always keeps an owner: the last one can be neither demoted nor removed
  (409 ``last_owner``).

Every change first locks the organization's row, so that two owners demoting each other at
the same time cannot both succeed and leave it ownerless.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from flowpilot.server import audit
from flowpilot.server.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from flowpilot.server.orgs.schemas import Member
from flowpilot.server.orgs.services import principal_in, time_cursor
from flowpilot.server.pagination import encode_cursor
from flowpilot.server.security import Principal, Role

_MEMBER_COLUMNS = "u.id AS user_id, u.email, u.name, m.role, m.created_at AS joined_at"


def _member(row: Any) -> Member:
    return Member(
        user_id=row.user_id, email=row.email, name=row.name, role=row.role, joined_at=row.joined_at
    )


def check_role_change(acting: Principal, current: Role | None, new: Role | None) -> None:
    """403 unless ``acting`` may move a member from ``current`` to ``new`` (None: not a member)."""
    assert acting.role is not None
    for role in (current, new):
        if role is not None and role > acting.role:
            if role is Role.owner:
                detail = "only an owner can grant or take away the owner role"
            else:
                detail = f"the {acting.role.name} role cannot manage the {role.name} role"
            raise Forbidden(detail, code="role_too_high", role=role.name)


def _lock_org(conn: sa.Connection, org_id: uuid.UUID) -> None:
    # NO KEY UPDATE: serializes membership changes without blocking inserts that reference
    # the organization (those take KEY SHARE).
    conn.execute(
        sa.text("SELECT 1 FROM organizations WHERE id = :o FOR NO KEY UPDATE"), {"o": org_id}
    )


def _keep_an_owner(conn: sa.Connection, org_id: uuid.UUID, current: Role, new: Role | None) -> None:
    if current is not Role.owner or new is Role.owner:
        return
    owners = conn.execute(
        sa.text("SELECT count(*) FROM org_members WHERE org_id = :o AND role = 'owner'"),
        {"o": org_id},
    ).scalar_one()
    if owners <= 1:
        raise Conflict(
            "the organization would be left without an owner: make another member owner first",
            code="last_owner",
        )


def _current_role(conn: sa.Connection, org_id: uuid.UUID, user_id: uuid.UUID) -> Role:
    role = conn.execute(
        sa.text("SELECT role FROM org_members WHERE org_id = :o AND user_id = :u"),
        {"o": org_id, "u": user_id},
    ).scalar_one_or_none()
    if role is None:
        raise NotFound(f"no member {user_id} in this organization", code="not_found")
    return Role[role]


def list_members(
    conn: sa.Connection, org_id: uuid.UUID, *, limit: int, cursor: str | None
) -> tuple[list[Member], str | None]:
    """Members in the order they joined."""
    after = time_cursor(cursor, uuid.UUID)
    params: dict[str, Any] = {"o": org_id, "n": limit + 1}
    keyset = ""
    if after is not None:
        keyset = "AND (m.created_at, m.user_id) > (:ts, :id)"
        params["ts"], params["id"] = after
    rows = conn.execute(
        sa.text(
            f"SELECT {_MEMBER_COLUMNS} FROM org_members m JOIN users u ON u.id = m.user_id "
            f"WHERE m.org_id = :o {keyset} ORDER BY m.created_at, m.user_id LIMIT :n"
        ),
        params,
    ).all()
    last = rows[limit - 1] if len(rows) > limit else None
    return [_member(r) for r in rows[:limit]], (
        encode_cursor(last.joined_at, last.user_id) if last else None
    )


def _get_member(conn: sa.Connection, org_id: uuid.UUID, user_id: uuid.UUID) -> Member:
    row = conn.execute(
        sa.text(
            f"SELECT {_MEMBER_COLUMNS} FROM org_members m JOIN users u ON u.id = m.user_id "
            "WHERE m.org_id = :o AND m.user_id = :u"
        ),
        {"o": org_id, "u": user_id},
    ).one()
    return _member(row)


def add_member(conn: sa.Connection, acting: Principal, email: str, role_name: str) -> Member:
    """Add the registered user ``email`` with ``role_name``."""
    org_id, role = acting.org, Role[role_name]
    check_role_change(acting, None, role)
    user_id = conn.execute(
        sa.text("SELECT id FROM users WHERE lower(email) = lower(:e) AND disabled_at IS NULL"),
        {"e": email.strip()},
    ).scalar_one_or_none()
    if user_id is None:
        raise Invalid(
            f"no account uses the email {email!r}; they must register first",
            code="unknown_user",
            errors=[FieldError("email", "no registered user with this email")],
        )
    added = conn.execute(
        sa.text(
            "INSERT INTO org_members (org_id, user_id, role) VALUES (:o, :u, :r) "
            "ON CONFLICT DO NOTHING"
        ),
        {"o": org_id, "u": user_id, "r": role.name},
    ).rowcount
    if not added:
        raise Conflict(
            f"{email} is already a member; change their role instead",
            code="already_member",
            errors=[FieldError("email", "already a member of this organization")],
        )
    audit.record(
        conn, acting, "member.added", "member", user_id, {"email": email, "role": role.name}
    )
    return _get_member(conn, org_id, user_id)


def change_role(
    conn: sa.Connection,
    principal: Principal,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    role_name: str,
) -> Member:
    """Give ``user_id`` the role ``role_name`` (needs ``members:manage``)."""
    _lock_org(conn, org_id)
    # Read the caller's role only once the organization is locked: a concurrent change may
    # just have demoted them.
    acting = principal_in(conn, principal, org_id)
    acting.require("members:manage")
    new = Role[role_name]
    current = _current_role(conn, org_id, user_id)
    check_role_change(acting, current, new)
    if new is not current:
        _keep_an_owner(conn, org_id, current, new)
        conn.execute(
            sa.text("UPDATE org_members SET role = :r WHERE org_id = :o AND user_id = :u"),
            {"r": new.name, "o": org_id, "u": user_id},
        )
        audit.record(
            conn,
            acting,
            "member.role_changed",
            "member",
            user_id,
            {"from": current.name, "to": new.name},
        )
    return _get_member(conn, org_id, user_id)


def remove_member(
    conn: sa.Connection, principal: Principal, org_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Remove ``user_id`` (needs ``members:manage``, except to remove yourself: leaving)."""
    _lock_org(conn, org_id)
    acting = principal_in(conn, principal, org_id)
    leaving = user_id == acting.user_id
    if not leaving:
        acting.require("members:manage")
    current = _current_role(conn, org_id, user_id)
    if not leaving:
        check_role_change(acting, current, None)
    _keep_an_owner(conn, org_id, current, None)
    conn.execute(
        sa.text("DELETE FROM org_members WHERE org_id = :o AND user_id = :u"),
        {"o": org_id, "u": user_id},
    )
    audit.record(
        conn, acting, "member.removed", "member", user_id, {"role": current.name, "left": leaving}
    )
