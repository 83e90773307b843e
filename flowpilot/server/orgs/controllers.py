"""Organizations, members, API keys and the audit trail.

Two kinds of paths, on purpose:

- ``/orgs/{org_id}`` and ``/orgs/{org_id}/members`` name the organization: the caller acts
  with the role they hold *there* (not in their active organization), so a user can see and
  manage every organization they belong to without switching. Not a member: 404.
- ``/api-keys`` and ``/audit``, like workflows and executions, belong to the organization the
  credential acts in (the access token's, or the API key's own).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody, Parameter

from flowpilot.server import audit
from flowpilot.server.auth.schemas import TokenPair
from flowpilot.server.auth.tokens import issue_tokens, session_principal
from flowpilot.server.deps import DB, Caller, SettingsDep, permission
from flowpilot.server.errors import invalid_fields
from flowpilot.server.orgs import api_keys, members
from flowpilot.server.orgs.audit_trail import list_audit
from flowpilot.server.orgs.schemas import (
    PLAIN_TEXT,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPage,
    AuditPage,
    Member,
    MemberCreate,
    MemberPage,
    MemberUpdate,
    Organization,
    OrganizationCreate,
    OrganizationPage,
    OrganizationUpdate,
)
from flowpilot.server.orgs.services import (
    create_organization,
    find_membership,
    list_memberships,
    org_not_found,
    organization_for,
    principal_in,
    rename_organization,
    require_user,
)
from flowpilot.server.pagination import check_limit

ORGS = ["organizations"]
KEYS = ["api keys"]
Limit = Annotated[int, Parameter(description="Items per page (1 to 200)")]
Cursor = Annotated[
    str | None, Parameter(description="The next_cursor of the previous page", max_length=512)
]
Filter = Annotated[str | None, Parameter(max_length=200, pattern=PLAIN_TEXT)]


def _clean_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise invalid_fields({"name": "must not be blank"}, "the name must not be blank")
    return cleaned


# ---------------------------------------------------------------------------- organizations


@post(
    "/orgs",
    summary="Create an organization (you become its owner)",
    tags=ORGS,
    status_code=201,
    sync_to_thread=True,
)
def create_org(
    data: JSONBody[OrganizationCreate], db: DB, principal: Caller
) -> Response[Organization]:
    user_id = require_user(principal, "create organizations")
    with db.begin() as conn:
        org = create_organization(
            conn, name=_clean_name(data.name), owner_id=user_id, slug=data.slug
        )
        audit.record(
            conn,
            session_principal(user_id, org),
            "org.created",
            "organization",
            org.id,
            {"slug": org.slug, "name": org.name},
        )
    return Response(org, status_code=201, headers={"Location": f"/api/v1/orgs/{org.id}"})


@get(
    "/orgs",
    summary="The organizations you belong to, with your role",
    tags=ORGS,
    sync_to_thread=True,
)
def list_orgs(
    db: DB, principal: Caller, limit: Limit = 50, cursor: Cursor = None
) -> OrganizationPage:
    with db.connect() as conn:
        items, next_cursor = list_memberships(
            conn, principal, limit=check_limit(limit), cursor=cursor
        )
    return OrganizationPage(items=items, next_cursor=next_cursor)


@get("/orgs/{org_id:uuid}", summary="An organization you belong to", tags=ORGS, sync_to_thread=True)
def get_org(org_id: FromPath[uuid.UUID], db: DB, principal: Caller) -> Organization:
    with db.connect() as conn:
        return organization_for(conn, principal, org_id)


@patch(
    "/orgs/{org_id:uuid}",
    summary="Rename an organization (needs 'org:manage' there)",
    description="The slug cannot change: it is part of the organization's webhook URLs.",
    tags=ORGS,
    sync_to_thread=True,
)
def update_org(
    org_id: FromPath[uuid.UUID], data: JSONBody[OrganizationUpdate], db: DB, principal: Caller
) -> Organization:
    with db.begin() as conn:
        acting = principal_in(conn, principal, org_id)
        acting.require("org:manage")
        if data.name is not None:
            rename_organization(conn, acting, _clean_name(data.name))
        return organization_for(conn, acting, org_id)


@post(
    "/orgs/{org_id:uuid}/switch",
    summary="A new token pair acting in this organization",
    tags=ORGS,
    status_code=200,
    sync_to_thread=True,
)
def switch_org(
    org_id: FromPath[uuid.UUID], db: DB, settings: SettingsDep, principal: Caller
) -> TokenPair:
    user_id = require_user(principal, "switch organizations")
    with db.begin() as conn:
        org = find_membership(conn, user_id, org_id)
        if org is None:
            raise org_not_found(org_id)
        pair = issue_tokens(conn, settings, user_id, org)
        audit.record(conn, session_principal(user_id, org), "auth.org_switched", "user", user_id)
    return pair


# ---------------------------------------------------------------------------- members


@get(
    "/orgs/{org_id:uuid}/members",
    summary="The members of an organization, in the order they joined",
    tags=ORGS,
    sync_to_thread=True,
)
def list_members(
    org_id: FromPath[uuid.UUID], db: DB, principal: Caller, limit: Limit = 50, cursor: Cursor = None
) -> MemberPage:
    with db.connect() as conn:
        principal_in(conn, principal, org_id).require("org:read")
        items, next_cursor = members.list_members(
            conn, org_id, limit=check_limit(limit), cursor=cursor
        )
    return MemberPage(items=items, next_cursor=next_cursor)


@post(
    "/orgs/{org_id:uuid}/members",
    summary="Add a registered user to an organization (needs 'members:manage' there)",
    description="Nobody can grant a role above their own; only an owner can make an owner.",
    tags=ORGS,
    status_code=201,
    sync_to_thread=True,
)
def add_member(
    org_id: FromPath[uuid.UUID], data: JSONBody[MemberCreate], db: DB, principal: Caller
) -> Response[Member]:
    with db.begin() as conn:
        acting = principal_in(conn, principal, org_id)
        acting.require("members:manage")
        member = members.add_member(conn, acting, data.email, data.role)
    return Response(
        member,
        status_code=201,
        headers={"Location": f"/api/v1/orgs/{org_id}/members/{member.user_id}"},
    )


@patch(
    "/orgs/{org_id:uuid}/members/{user_id:uuid}",
    summary="Change a member's role (needs 'members:manage' there)",
    description=(
        "Nobody can grant a role above their own or change a member whose role is above "
        "their own; the last owner cannot be demoted (409 last_owner)."
    ),
    tags=ORGS,
    sync_to_thread=True,
)
def change_member_role(
    org_id: FromPath[uuid.UUID],
    user_id: FromPath[uuid.UUID],
    data: JSONBody[MemberUpdate],
    db: DB,
    principal: Caller,
) -> Member:
    with db.begin() as conn:
        return members.change_role(conn, principal, org_id, user_id, data.role)


@delete(
    "/orgs/{org_id:uuid}/members/{user_id:uuid}",
    summary="Remove a member, or leave (removing yourself needs no permission)",
    description="The last owner cannot be removed (409 last_owner).",
    tags=ORGS,
    status_code=204,
    sync_to_thread=True,
)
def remove_member(
    org_id: FromPath[uuid.UUID], user_id: FromPath[uuid.UUID], db: DB, principal: Caller
) -> None:
    with db.begin() as conn:
        members.remove_member(conn, principal, org_id, user_id)


# ---------------------------------------------------------------------------- API keys


@post(
    "/api-keys",
    summary="Create an API key for the active organization (its secret is shown once)",
    description=(
        "The key's role is at most yours and never owner; scopes narrow it to some of the "
        "permissions its role holds."
    ),
    tags=KEYS,
    status_code=201,
    opt=permission("api_keys:manage"),
    sync_to_thread=True,
)
def create_api_key(
    data: JSONBody[ApiKeyCreate], db: DB, principal: Caller
) -> Response[ApiKeyCreated]:
    with db.begin() as conn:
        created = api_keys.create_api_key(conn, principal, data)
    return Response(created, status_code=201, headers={"Cache-Control": "no-store"})


@get(
    "/api-keys",
    summary="The active organization's API keys, newest first (never their secrets)",
    tags=KEYS,
    opt=permission("api_keys:manage"),
    sync_to_thread=True,
)
def list_api_keys(
    db: DB, principal: Caller, limit: Limit = 50, cursor: Cursor = None
) -> ApiKeyPage:
    with db.connect() as conn:
        items, next_cursor = api_keys.list_api_keys(
            conn, principal.org, limit=check_limit(limit), cursor=cursor
        )
    return ApiKeyPage(items=items, next_cursor=next_cursor)


@delete(
    "/api-keys/{key_id:uuid}",
    summary="Revoke an API key (it stops working at once)",
    tags=KEYS,
    status_code=204,
    opt=permission("api_keys:manage"),
    sync_to_thread=True,
)
def revoke_api_key(key_id: FromPath[uuid.UUID], db: DB, principal: Caller) -> None:
    with db.begin() as conn:
        api_keys.revoke_api_key(conn, principal, key_id)


# ---------------------------------------------------------------------------- audit


@get(
    "/audit",
    summary="The active organization's audit trail, newest first",
    tags=["audit"],
    opt=permission("audit:read"),
    sync_to_thread=True,
)
def read_audit(
    db: DB,
    principal: Caller,
    limit: Limit = 50,
    cursor: Cursor = None,
    action: Annotated[
        str | None,
        Parameter(
            description="Action prefix: 'member.' for every membership change",
            max_length=200,
            pattern=PLAIN_TEXT,
        ),
    ] = None,
    resource_type: Filter = None,
    resource_id: Filter = None,
) -> AuditPage:
    with db.connect() as conn:
        items, next_cursor = list_audit(
            conn,
            principal.org,
            limit=check_limit(limit),
            cursor=cursor,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
        )
    return AuditPage(items=items, next_cursor=next_cursor)


ROUTES = [
    create_org,
    list_orgs,
    get_org,
    update_org,
    switch_org,
    list_members,
    add_member,
    change_member_role,
    remove_member,
    create_api_key,
    list_api_keys,
    revoke_api_key,
    read_audit,
]
