"""The server's GitOps parts that need no server: sealing secrets, recognising and verifying
push webhooks."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from flowpilot.server.config import ConfigError
from flowpilot.server.errors import BadRequest, Unauthorized
from flowpilot.server.gitops import sealing, webhooks

SECRET_KEY = "k" * 40


def test_a_sealed_value_opens_only_for_its_row_and_with_the_right_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(sealing.ENCRYPTION_KEY_ENV, raising=False)
    sealed = sealing.seal(SECRET_KEY, b"token", "repo:1")
    assert b"token" not in sealed
    assert sealing.seal(SECRET_KEY, b"token", "repo:1") != sealed  # a fresh nonce each time
    assert sealing.unseal(SECRET_KEY, sealed, "repo:1") == b"token"
    with pytest.raises(sealing.SealError):
        sealing.unseal(SECRET_KEY, sealed, "repo:2")
    with pytest.raises(sealing.SealError):
        sealing.unseal("another" * 8, sealed, "repo:1")

    # A dedicated key seals from now on; what the derived key sealed still opens.
    monkeypatch.setenv(sealing.ENCRYPTION_KEY_ENV, "d" * 40)
    assert sealing.unseal(SECRET_KEY, sealed, "repo:1") == b"token"
    newer = sealing.seal(SECRET_KEY, b"token", "repo:1")
    monkeypatch.delenv(sealing.ENCRYPTION_KEY_ENV)
    with pytest.raises(sealing.SealError, match="FLOWPILOT_ENCRYPTION_KEY"):
        sealing.unseal(SECRET_KEY, newer, "repo:1")
    monkeypatch.setenv(sealing.ENCRYPTION_KEY_ENV, "short")
    with pytest.raises(ConfigError):
        sealing.seal(SECRET_KEY, b"x", "repo:1")


BODY = b'{"ref": "refs/heads/main", "after": "abc", "repository": {"default_branch": "main"}}'


def _hex(secret: str) -> str:
    return hmac.new(secret.encode(), BODY, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("headers", "provider"),
    [
        ({"x-github-event": "push", "x-hub-signature-256": "sha256=" + _hex("s")}, "github"),
        (
            {"x-gitea-event": "push", "x-github-event": "push", "x-gitea-signature": _hex("s")},
            "gitea",
        ),
        ({"x-gitlab-event": "Push Hook", "x-gitlab-token": "s"}, "gitlab"),
    ],
)
def test_each_host_is_recognised_and_verified(headers: dict[str, str], provider: str) -> None:
    found, event = webhooks.identify(headers)
    assert found == provider and webhooks.is_push(found, event)
    webhooks.verify(found, headers, BODY, "s")
    with pytest.raises(Unauthorized):
        webhooks.verify(found, headers, BODY, "other")
    if provider != "gitlab":  # a token says nothing about the body; signatures cover it
        with pytest.raises(Unauthorized):
            webhooks.verify(found, headers, BODY + b" ", "s")


def test_a_push_concerns_the_synced_ref_or_the_default_branch() -> None:
    push = webhooks.parse_push(BODY)
    assert webhooks.concerns(push, None)[0]
    assert webhooks.concerns(push, "main")[0]
    assert not webhooks.concerns(push, "release")[0]
    other = webhooks.parse_push(
        b'{"ref": "refs/heads/dev", "repository": {"default_branch": "main"}}'
    )
    assert webhooks.concerns(other, None) == (False, "the repository syncs the default branch main")
    deleted = webhooks.parse_push(b'{"ref": "refs/heads/main", "after": "' + b"0" * 40 + b'"}')
    assert not webhooks.concerns(deleted, "main")[0]
    with pytest.raises(BadRequest):
        webhooks.parse_push(b'{"zen": 1}')


def test_a_gitlab_push_names_the_default_branch_in_its_project() -> None:
    # GitLab's `repository` object has no default branch; its `project` has.
    body = (
        b'{"object_kind": "push", "ref": "refs/heads/feature", "after": "abc",'
        b' "project": {"default_branch": "main"},'
        b' "repository": {"name": "flows", "homepage": "https://gitlab.example.com/t/flows"}}'
    )
    push = webhooks.parse_push(body)
    assert push.default_branch == "main"
    assert webhooks.concerns(push, None) == (False, "the repository syncs the default branch main")


def test_a_gitlab_token_must_match_exactly() -> None:
    headers = {"x-gitlab-event": "Push Hook", "x-gitlab-token": "Secret-Token-ABC"}
    webhooks.verify("gitlab", headers, BODY, "Secret-Token-ABC")
    with pytest.raises(Unauthorized):
        webhooks.verify("gitlab", headers, BODY, "secret-token-abc")
    # Hex signatures are the same digest in either case.
    upper = {"x-github-event": "push", "x-hub-signature-256": "sha256=" + _hex("s").upper()}
    webhooks.verify("github", upper, BODY, "s")
