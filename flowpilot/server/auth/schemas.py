"""Request and response bodies of registration, login, token refresh and ``GET /me``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from flowpilot.server.orgs.schemas import PLAIN_TEXT, ApiKey, Organization, RoleName
from flowpilot.server.schemas import Input, Output

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=PLAIN_TEXT)]
# The policy (length, not the email) is checked in code so that it answers 422 naming the field;
# the upper bound only keeps hashing cheap.
Password = Annotated[str, msgspec.Meta(max_length=1024)]
RefreshTokenValue = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class User(Output):
    id: uuid.UUID
    email: str
    name: str
    created_at: datetime


class RegisterInput(Input):
    email: Email
    #: At least 10 characters, and not the email address.
    password: Password
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=PLAIN_TEXT)]


class LoginInput(Input):
    email: Email
    password: Password
    #: The organization (id or slug) to act in; default: the one joined first.
    organization: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=PLAIN_TEXT)] | None
    ) = None


class RefreshInput(Input):
    refresh_token: RefreshTokenValue


class TokenPair(Output):
    """An access token (a JWT for ``Authorization: Bearer``, valid ``expires_in`` seconds) and
    the refresh token that gets the next pair, for the ``organization`` the access token acts
    in (null when the user belongs to none)."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"]
    expires_in: int
    organization: Organization | None


class Registration(TokenPair):
    """The new user, their personal organization and their first token pair."""

    user: User


class Me(Output):
    """Who the credential is: a user (with every organization they belong to) or an API key
    (with its one organization), the organization it acts in and what it may do there."""

    user: User | None
    api_key: ApiKey | None
    organizations: list[Organization]
    organization: Organization | None
    role: RoleName | None
    permissions: list[str]
