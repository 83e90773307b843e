"""Typed failures a node implementation raises; the runtime turns them into step errors.

A node signals failure by raising :class:`NodeError` (or a subclass). ``type`` is what a flow's
``retry.retry_on`` and ``catch`` scopes see as ``error.type``; ``retryable`` says whether another
attempt could succeed; ``retry_after`` (seconds) lets a node honour a server's ``Retry-After``.
Any other exception escaping a node is an internal error of that node: the runtime records it as
``error.type == "node_crash"`` and treats it as retryable.
"""

from __future__ import annotations

from typing import Any


class NodeError(Exception):
    """A failure of one step attempt, reported to the flow as ``error``.

    Attributes:
        message: what went wrong, for people; must never contain a secret.
        type: a stable machine-readable kind (``http_error``, ``timeout``, ``invalid_input``…).
        retryable: False when retrying cannot help (bad input, 4xx other than 408/429).
        retry_after: seconds the remote side asked us to wait before the next attempt.
        data: extra JSON-able facts (``{"status": 503}``) exposed as ``error.data``.
    """

    def __init__(
        self,
        message: str,
        *,
        type: str = "node_error",
        retryable: bool = True,
        retry_after: float | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.type = type
        self.retryable = retryable
        self.retry_after = retry_after
        self.data = data or {}


class InvalidNodeInput(NodeError):
    """The resolved arguments do not satisfy the node's input schema (never retried)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(
            message,
            type="invalid_input",
            retryable=False,
            data={"field": field} if field else None,
        )
        self.field = field


class CredentialMissing(NodeError):
    """The credential a node needs is not configured (never retried)."""

    def __init__(self, kind: str, name: str | None = None) -> None:
        what = f"{kind} credential '{name}'" if name else f"default {kind} credential"
        super().__init__(
            f"no {what} is configured for this organization",
            type="credential_missing",
            retryable=False,
            data={"kind": kind, **({"name": name} if name else {})},
        )
