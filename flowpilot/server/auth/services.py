"""Registering an account and logging in."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from flowpilot.server import audit
from flowpilot.server.auth.schemas import LoginInput, RegisterInput, Registration, TokenPair, User
from flowpilot.server.auth.tokens import issue_tokens, session_principal
from flowpilot.server.config import Settings
from flowpilot.server.errors import Conflict, FieldError, NotFound, Unauthorized, invalid_fields
from flowpilot.server.orgs.services import create_organization, find_membership, slugify
from flowpilot.server.security import (
    DUMMY_PASSWORD_HASH,
    hash_password,
    verify_password,
)
from flowpilot.store.ids import uuid7

MIN_PASSWORD_LENGTH = 10
# Deliberately loose: one '@', no spaces, a dot in the domain. Deliverability is the mail
# server's business; this catches typos like a missing '@'.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _check_registration(email: str, password: str, name: str) -> None:
    problems: dict[str, str] = {}
    if not _EMAIL.fullmatch(email):
        problems["email"] = "not an email address"
    if len(password) < MIN_PASSWORD_LENGTH:
        problems["password"] = f"must be at least {MIN_PASSWORD_LENGTH} characters long"
    elif password.strip().lower() == email.lower():
        problems["password"] = "must not be your email address"
    if not name:
        problems["name"] = "must not be blank"
    if problems:
        listed = "; ".join(f"{field}: {message}" for field, message in sorted(problems.items()))
        raise invalid_fields(problems, f"the account cannot be created: {listed}")


def _email_taken(email: str) -> Conflict:
    return Conflict(
        f"an account with the email {email!r} already exists; log in instead",
        code="email_taken",
        errors=[FieldError("email", "already registered")],
    )


def register(db: sa.Engine, settings: Settings, body: RegisterInput) -> Registration:
    """A new user with a personal organization they own, logged in to it."""
    email, name = body.email.strip(), body.name.strip()
    _check_registration(email, body.password, name)
    password_hash = hash_password(body.password)  # slow on purpose: outside the transaction
    with db.begin() as conn:
        if conn.execute(
            sa.text("SELECT 1 FROM users WHERE lower(email) = lower(:e)"), {"e": email}
        ).first():
            raise _email_taken(email)
        user_id = uuid7()
        try:
            with conn.begin_nested():
                user_row = conn.execute(
                    sa.text(
                        "INSERT INTO users (id, email, name, password_hash) "
                        "VALUES (:id, :e, :n, :p) RETURNING id, email, name, created_at"
                    ),
                    {"id": user_id, "e": email, "n": name, "p": password_hash},
                ).one()
        except IntegrityError:  # registered concurrently
            raise _email_taken(email) from None
        org = create_organization(
            conn,
            name=name,
            owner_id=user_id,
            slug_base=slugify(name) or slugify(email.partition("@")[0]),
        )
        principal = session_principal(user_id, org)
        audit.record(conn, principal, "user.registered", "user", user_id, {"email": email})
        audit.record(
            conn,
            principal,
            "org.created",
            "organization",
            org.id,
            {"slug": org.slug, "name": org.name},
        )
        pair = issue_tokens(conn, settings, user_id, org)
    return Registration(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        token_type=pair.token_type,
        expires_in=pair.expires_in,
        organization=org,
        user=User(
            id=user_row.id,
            email=user_row.email,
            name=user_row.name,
            created_at=user_row.created_at,
        ),
    )


def login(db: sa.Engine, settings: Settings, body: LoginInput) -> TokenPair:
    """A token pair for the user in the organization asked for (or the one joined first).

    A wrong email and a wrong password answer the same 401 after the same work: an unknown
    email is verified against a dummy hash so that timing does not reveal which emails exist.
    """
    email = body.email.strip()
    with db.connect() as conn:
        user = conn.execute(
            sa.text(
                "SELECT id, password_hash, disabled_at FROM users WHERE lower(email) = lower(:e)"
            ),
            {"e": email},
        ).one_or_none()
    verified = verify_password(user.password_hash if user else DUMMY_PASSWORD_HASH, body.password)
    if user is None or not verified or user.disabled_at is not None:
        reason = "unknown_email" if user is None else "disabled" if verified else "wrong_password"
        with db.begin() as conn:
            audit.record(
                conn,
                None,
                "auth.login_failed",
                "user",
                user.id if user else None,
                {"email": email, "reason": reason},
                actor=("anonymous", None),
            )
        raise Unauthorized("the email or the password is wrong", code="invalid_credentials")
    with db.begin() as conn:
        org = find_membership(conn, user.id, body.organization)
        if org is None and body.organization is not None:
            raise NotFound(
                f"you are not a member of an organization {body.organization!r}",
                code="not_found",
                errors=[FieldError("organization", "no such organization of yours")],
            )
        pair = issue_tokens(conn, settings, user.id, org)
        audit.record(conn, session_principal(user.id, org), "auth.login", "user", user.id)
    return pair
