"""Organizations and who belongs to them: creating one with a unique slug, the caller's role in
a given organization, and the organizations a user belongs to."""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from flowpilot.server import audit
from flowpilot.server.errors import (
    BadRequest,
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    invalid_fields,
)
from flowpilot.server.orgs.schemas import Organization
from flowpilot.server.pagination import decode_cursor, encode_cursor
from flowpilot.server.security import Principal, Role
from flowpilot.store.ids import uuid7

SLUG_MAX = 40
_ORG_COLUMNS = "o.id, o.slug, o.name, o.created_at"
K = TypeVar("K")


def org_not_found(org_id: object) -> NotFound:
    """The one answer for an organization that does not exist *or* that the caller is not in."""
    return NotFound(f"no organization {org_id}", code="not_found")


def require_user(principal: Principal, action: str) -> uuid.UUID:
    """The caller's user id; API keys act for one organization and cannot do ``action``."""
    if principal.user_id is None:
        raise Forbidden(f"an API key cannot {action}; use a user's access token", code="user_only")
    return principal.user_id


# ---------------------------------------------------------------------------- slugs


def slugify(text: str) -> str:
    """``"Ada Lovelace's Team"`` → ``"ada-lovelace-s-team"`` (ASCII, at most 40 characters)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:SLUG_MAX].strip("-")


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _free_slug(conn: sa.Connection, base: str, *, random_suffix: bool) -> str:
    # Leave room for a suffix; pad what is too short to be a slug.
    base = base[: SLUG_MAX - 7].strip("-") or "org"
    if len(base) < 3 or _is_uuid(base):
        base = f"{base[:28]}-org"
    if random_suffix:
        return f"{base}-{secrets.token_hex(3)}"
    candidates = [base, *(f"{base}-{n}" for n in range(2, 10))]
    taken = set(
        conn.execute(
            sa.text("SELECT slug FROM organizations WHERE slug = ANY(:c)"), {"c": candidates}
        ).scalars()
    )
    free = [c for c in candidates if c not in taken]
    return free[0] if free else f"{base}-{secrets.token_hex(3)}"


# ---------------------------------------------------------------------------- organizations


def _organization(row: Any, role: str) -> Organization:
    return Organization(
        id=row.id, slug=row.slug, name=row.name, created_at=row.created_at, role=role
    )


def create_organization(
    conn: sa.Connection,
    *,
    name: str,
    owner_id: uuid.UUID,
    slug: str | None = None,
    slug_base: str | None = None,
) -> Organization:
    """A new organization with ``owner_id`` as its owner. An explicit ``slug`` that is taken is
    a 409 ``slug_taken``; without one, the slug is derived from ``slug_base`` (default: the
    name) and made unique (``acme``, ``acme-2``, …)."""
    if slug is not None and _is_uuid(slug):
        # Organizations are named by id or by slug (at login): a slug must never read as an id.
        raise invalid_fields({"slug": "must not look like an id"}, "the slug looks like an id")
    if (
        slug is not None
        and conn.execute(
            sa.text("SELECT 1 FROM organizations WHERE slug = :s"), {"s": slug}
        ).first()
    ):
        raise _slug_taken(slug)
    for attempt in range(4):
        chosen = slug or _free_slug(conn, slug_base or slugify(name), random_suffix=attempt > 1)
        try:
            # A savepoint, so losing a race for the slug does not abort the transaction.
            with conn.begin_nested():
                row = conn.execute(
                    sa.text(
                        "INSERT INTO organizations (id, slug, name, created_by) "
                        "VALUES (:id, :s, :n, :u) RETURNING id, slug, name, created_at"
                    ),
                    {"id": uuid7(), "s": chosen, "n": name, "u": owner_id},
                ).one()
        except IntegrityError:
            if slug is not None:
                raise _slug_taken(slug) from None
            continue
        conn.execute(
            sa.text("INSERT INTO org_members (org_id, user_id, role) VALUES (:o, :u, 'owner')"),
            {"o": row.id, "u": owner_id},
        )
        return _organization(row, "owner")
    raise Conflict("could not find a free slug; pass one", code="slug_taken")


def _slug_taken(slug: str) -> Conflict:
    return Conflict(
        f"the slug {slug!r} is taken",
        code="slug_taken",
        errors=[FieldError("slug", "already used by another organization")],
    )


def principal_in(conn: sa.Connection, principal: Principal, org_id: uuid.UUID) -> Principal:
    """The caller acting in ``org_id``, with their role there; 404 when they are not a member,
    so that another organization's existence never shows. An API key acts only in its own."""
    if principal.api_key_id is not None:
        if principal.org_id != org_id:
            raise org_not_found(org_id)
        return principal
    role = conn.execute(
        sa.text("SELECT role FROM org_members WHERE org_id = :o AND user_id = :u"),
        {"o": org_id, "u": principal.user_id},
    ).scalar_one_or_none()
    if role is None:
        raise org_not_found(org_id)
    return Principal(org_id=org_id, role=Role[role], user_id=principal.user_id)


def organization_for(conn: sa.Connection, principal: Principal, org_id: uuid.UUID) -> Organization:
    """``org_id`` as the caller sees it (404 unless they belong to it)."""
    acting = principal_in(conn, principal, org_id)
    row = conn.execute(
        sa.text(f"SELECT {_ORG_COLUMNS} FROM organizations o WHERE o.id = :o"), {"o": org_id}
    ).one()
    assert acting.role is not None
    return _organization(row, acting.role.name)


def find_membership(
    conn: sa.Connection, user_id: uuid.UUID, ref: str | uuid.UUID | None = None
) -> Organization | None:
    """The organization ``ref`` (an id or a slug) if the user belongs to it; with no ``ref``,
    the one they joined first. None when there is none."""
    where, params = "", {"u": user_id}
    if ref is not None:
        try:
            params["id"] = uuid.UUID(str(ref))
            where = "AND o.id = :id"
        except ValueError:
            params["slug"] = str(ref)
            where = "AND o.slug = :slug"
    row = conn.execute(
        sa.text(
            f"SELECT {_ORG_COLUMNS}, m.role FROM org_members m "
            f"JOIN organizations o ON o.id = m.org_id WHERE m.user_id = :u {where} "
            "ORDER BY m.created_at, o.id LIMIT 1"
        ),
        params,
    ).one_or_none()
    return _organization(row, row.role) if row else None


def list_memberships(
    conn: sa.Connection, principal: Principal, *, limit: int, cursor: str | None = None
) -> tuple[list[Organization], str | None]:
    """The caller's organizations in the order they joined them (an API key: its own)."""
    if principal.api_key_id is not None:
        assert principal.org_id is not None
        return ([] if cursor else [organization_for(conn, principal, principal.org_id)]), None
    after = time_cursor(cursor, uuid.UUID)
    params: dict[str, Any] = {"u": principal.user_id, "n": limit + 1}
    keyset = ""
    if after is not None:
        keyset = "AND (m.created_at, o.id) > (:ts, :id)"
        params["ts"], params["id"] = after
    rows = conn.execute(
        sa.text(
            f"SELECT {_ORG_COLUMNS}, m.role, m.created_at AS joined_at FROM org_members m "
            f"JOIN organizations o ON o.id = m.org_id WHERE m.user_id = :u {keyset} "
            "ORDER BY m.created_at, o.id LIMIT :n"
        ),
        params,
    ).all()
    items = [_organization(r, r.role) for r in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    return items, encode_cursor(last.joined_at, last.id) if last else None


# ---------------------------------------------------------------------------- cursors


def bigint(text: str) -> int:
    """An id of a ``bigint`` column, or ValueError (so a forged one never overflows in SQL)."""
    value = int(text)
    if not 0 < value < 2**63:
        raise ValueError(f"{value} is out of range")
    return value


def time_cursor(cursor: str | None, key: Callable[[str], K]) -> tuple[datetime, K] | None:
    """The (timestamp, key) of a cursor made by ``encode_cursor(ts, key)``, or 400 naming it
    (checked here, so that a forged cursor never reaches the database as a bad value)."""
    values = decode_cursor(cursor, 2)
    if values is None:
        return None
    try:
        return datetime.fromisoformat(str(values[0])), key(str(values[1]))
    except (TypeError, ValueError, OverflowError):
        raise BadRequest(
            "the cursor is not valid (pass back the next_cursor of a previous page)",
            code="invalid_cursor",
            errors=[FieldError("query.cursor", "not a cursor this endpoint issued")],
        ) from None


def rename_organization(conn: sa.Connection, acting: Principal, name: str) -> None:
    """Rename the organization ``acting`` is in (audited when the name changes)."""
    old = conn.execute(
        sa.text("SELECT name FROM organizations WHERE id = :o FOR NO KEY UPDATE"),
        {"o": acting.org},
    ).scalar_one()
    if old == name:
        return
    conn.execute(
        sa.text("UPDATE organizations SET name = :n WHERE id = :o"), {"n": name, "o": acting.org}
    )
    audit.record(
        conn, acting, "org.updated", "organization", acting.org, {"name": {"from": old, "to": name}}
    )
