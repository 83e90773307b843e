"""Who is calling and what they may do: passwords, tokens, API keys, roles and permissions.

A request authenticates with ``Authorization: Bearer <token>`` where the token is either a JWT
access token (a user acting in their active organization) or an API key (``fp_…``, bound to one
organization); ``X-API-Key: fp_…`` works too. Authorization is by permission: each endpoint names
one (``opt={"permission": "workflows:write"}``) and :data:`ROLE_PERMISSIONS` says which roles
hold it. An API key holds what its role holds, narrowed to its scopes when it has any.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import jwt
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from flowpilot.server.errors import Forbidden, Unauthorized

API_KEY_PREFIX = "fp_"
JWT_ALGORITHM = "HS256"


class Role(IntEnum):
    """Built-in roles, each holding every permission of the ones below it."""

    viewer = 10
    member = 20
    manager = 30
    admin = 40
    owner = 50

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name]
        except KeyError:
            names = ", ".join(r.name for r in sorted(cls, reverse=True))
            raise ValueError(f"unknown role {name!r} (one of {names})") from None


#: The lowest role that holds each permission.
PERMISSIONS: dict[str, Role] = {
    "workflows:read": Role.viewer,
    "executions:read": Role.viewer,
    "events:read": Role.viewer,
    "org:read": Role.viewer,
    "gitops:read": Role.viewer,
    "workflows:write": Role.member,
    "executions:run": Role.member,
    "executions:approve": Role.member,
    "events:emit": Role.member,
    "workflows:publish": Role.manager,
    "workflows:delete": Role.manager,
    "members:manage": Role.admin,
    "api_keys:manage": Role.admin,
    "audit:read": Role.admin,
    "gitops:manage": Role.admin,
    "org:manage": Role.owner,
}


def role_allows(role: Role, permission: str) -> bool:
    needed = PERMISSIONS.get(permission)
    if needed is None:
        raise KeyError(f"unknown permission {permission!r}")
    return role >= needed


# ---------------------------------------------------------------------------- passwords

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Verifying against this when the user does not exist keeps "no such user" and "wrong
# password" equally slow, so timing does not reveal which emails have accounts.
DUMMY_PASSWORD_HASH = _hasher.hash(secrets.token_urlsafe(16))


# ---------------------------------------------------------------------------- tokens


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def issue_access_token(
    secret_key: str, user_id: uuid.UUID | str, org_id: uuid.UUID | str | None, ttl: int
) -> tuple[str, int]:
    """A signed access token and its lifetime in seconds."""
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "org": str(org_id) if org_id else None,
        "typ": "access",
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret_key, algorithm=JWT_ALGORITHM), ttl


def decode_access_token(secret_key: str, token: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(
            token,
            secret_key,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["sub", "exp", "typ"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the access token has expired", code="token_expired") from None
    except jwt.PyJWTError:
        raise Unauthorized("the access token is not valid", code="invalid_token") from None
    if claims.get("typ") != "access":
        raise Unauthorized("not an access token", code="invalid_token")
    return claims


def new_api_key() -> tuple[str, str, str]:
    """A new API key: (the key shown once, its lookup prefix, the hash stored)."""
    prefix = secrets.token_hex(6)
    key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, sha256_hex(key)


def _api_key_prefix(key: str) -> str | None:
    parts = key.split("_")
    if len(parts) < 3 or parts[0] + "_" != API_KEY_PREFIX:
        return None
    return parts[1]


# ---------------------------------------------------------------------------- principal


@dataclass(frozen=True)
class Principal:
    """The caller of a request, in one organization."""

    org_id: uuid.UUID | None
    role: Role | None
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def actor(self) -> tuple[str, uuid.UUID | None]:
        """(actor type, actor id) for the audit trail."""
        if self.api_key_id is not None:
            return "api_key", self.api_key_id
        return "user", self.user_id

    def can(self, permission: str) -> bool:
        if self.role is None or self.org_id is None:
            return False
        if self.scopes and permission not in self.scopes:
            return False
        return role_allows(self.role, permission)

    def require(self, permission: str) -> None:
        """Raise 403 naming the permission unless this principal holds it."""
        if self.org_id is None:
            raise Forbidden(
                "you belong to no organization: create one or ask to be invited",
                code="no_organization",
            )
        if not self.can(permission):
            who = "this API key" if self.api_key_id else f"the {self.role.name} role"  # type: ignore[union-attr]
            raise Forbidden(
                f"{who} may not do this (needs the '{permission}' permission)",
                permission=permission,
            )

    @property
    def org(self) -> uuid.UUID:
        """The organization (every org-scoped endpoint has one once :meth:`require` passed)."""
        if self.org_id is None:
            raise Forbidden("no active organization", code="no_organization")
        return self.org_id


def bearer_of(headers: Any) -> str | None:
    api_key = headers.get("x-api-key")
    if api_key:
        return api_key.strip()
    auth = headers.get("authorization")
    if not auth:
        return None
    scheme, _, value = auth.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("use 'Authorization: Bearer <token>'", code="invalid_token")
    return value.strip()


def authenticate(conn: sa.Connection, secret_key: str, credential: str) -> Principal:
    """Resolve a bearer credential (JWT or API key) to a principal, reading the current role
    from the database so that a removed member or a revoked key stops working at once."""
    if credential.startswith(API_KEY_PREFIX):
        return _authenticate_api_key(conn, credential)
    claims = decode_access_token(secret_key, credential)
    user_id = uuid.UUID(claims["sub"])
    org_id = uuid.UUID(claims["org"]) if claims.get("org") else None
    row = conn.execute(
        sa.text(
            "SELECT u.disabled_at, m.role FROM users u LEFT JOIN org_members m "
            "ON m.user_id = u.id AND m.org_id = :o WHERE u.id = :u"
        ),
        {"u": user_id, "o": org_id},
    ).one_or_none()
    if row is None or row.disabled_at is not None:
        raise Unauthorized("this account no longer exists or is disabled", code="invalid_token")
    if org_id is not None and row.role is None:
        # Removed from the organization since the token was issued.
        return Principal(org_id=None, role=None, user_id=user_id)
    return Principal(org_id=org_id, role=Role[row.role] if row.role else None, user_id=user_id)


def _authenticate_api_key(conn: sa.Connection, key: str) -> Principal:
    prefix = _api_key_prefix(key)
    row = None
    if prefix is not None:
        row = conn.execute(
            sa.text(
                "UPDATE api_keys SET last_used_at = now() WHERE prefix = :p "
                "AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) "
                "AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute') "
                "RETURNING id, org_id, key_hash, role, scopes"
            ),
            {"p": prefix},
        ).one_or_none()
        if row is None:  # used within the last minute: read without writing
            row = conn.execute(
                sa.text(
                    "SELECT id, org_id, key_hash, role, scopes FROM api_keys WHERE prefix = :p "
                    "AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())"
                ),
                {"p": prefix},
            ).one_or_none()
    if row is None or not hmac.compare_digest(row.key_hash, sha256_hex(key)):
        raise Unauthorized("the API key is not valid, revoked or expired", code="invalid_api_key")
    return Principal(
        org_id=row.org_id,
        role=Role[row.role],
        api_key_id=row.id,
        scopes=frozenset(row.scopes or ()),
    )
