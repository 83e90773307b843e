"""Request and response bodies of organizations, members, API keys and the audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from flowpilot.server.schemas import Input, Output

RoleName = Literal["owner", "admin", "manager", "member", "viewer"]
#: An API key acts for an organization, never as its owner.
ApiKeyRoleName = Literal["admin", "manager", "member", "viewer"]

#: Text that is shown, stored and searched: no control characters (PostgreSQL refuses NUL).
PLAIN_TEXT = r"^[^\x00-\x1f\x7f]*$"
OrgName = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=PLAIN_TEXT)]
SLUG_PATTERN = "^[a-z0-9-]{3,40}$"
Slug = Annotated[
    str,
    msgspec.Meta(
        pattern=SLUG_PATTERN,
        description="3 to 40 characters of a-z, 0-9 and '-'; part of webhook URLs, so fixed",
    ),
]


# ---------------------------------------------------------------------------- organizations


class Organization(Output):
    """An organization, with the caller's role in it."""

    id: uuid.UUID
    slug: str
    name: str
    created_at: datetime
    role: RoleName


class OrganizationCreate(Input):
    name: OrgName
    #: Derived from the name (and made unique) when omitted.
    slug: Slug | None = None


class OrganizationUpdate(Input):
    name: OrgName | None = None


class OrganizationPage(Output):
    items: list[Organization]
    next_cursor: str | None


# ---------------------------------------------------------------------------- members


class Member(Output):
    user_id: uuid.UUID
    email: str
    name: str
    role: RoleName
    joined_at: datetime


class MemberCreate(Input):
    """Add an existing user (by the email they registered with) to the organization."""

    email: Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=PLAIN_TEXT)]
    role: RoleName = "member"


class MemberUpdate(Input):
    role: RoleName


class MemberPage(Output):
    items: list[Member]
    next_cursor: str | None


# ---------------------------------------------------------------------------- API keys


class ApiKey(Output):
    """An API key as listed: never its secret."""

    id: uuid.UUID
    name: str
    prefix: str
    role: ApiKeyRoleName
    scopes: list[str]
    created_at: datetime
    created_by: uuid.UUID | None
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKey):
    """A new API key; ``key`` is shown this once and cannot be read again."""

    key: str


class ApiKeyCreate(Input):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=PLAIN_TEXT)]
    role: ApiKeyRoleName
    #: Narrow the key to these permissions (each one its role holds); empty: all of the role's.
    scopes: Annotated[list[str], msgspec.Meta(max_length=64)] = msgspec.field(default_factory=list)
    #: Days until the key stops working; it never expires when omitted.
    expires_in_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None


class ApiKeyPage(Output):
    items: list[ApiKey]
    next_cursor: str | None


# ---------------------------------------------------------------------------- audit


class AuditEntry(Output):
    id: int
    ts: datetime
    actor_type: Literal["user", "api_key", "system", "anonymous"]
    actor_id: uuid.UUID | None
    action: str
    resource_type: str
    resource_id: str | None
    data: dict[str, Any]
    request_id: str | None


class AuditPage(Output):
    items: list[AuditEntry]
    next_cursor: str | None
