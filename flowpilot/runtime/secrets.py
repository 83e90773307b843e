"""Secrets at run time: where their values come from, and keeping them out of what is stored.

Values come from a :class:`SecretProvider`; the embedded one reads ``FLOWPILOT_SECRET_<NAME>``
environment variables (the server's encrypted store plugs in through the same interface).

A secret's value may only exist in memory while a step runs. Everything stored (step inputs
snapshots, outputs, logs, errors) goes through :class:`Redactor`, which replaces every
occurrence of every secret value of the execution with ``***`` — also inside longer strings,
as GitHub Actions masks them. Arguments handed to a worker are *sealed*: each occurrence becomes
a ``{"$secret": NAME}`` reference that the worker *unseals* with its own provider, so neither
the database nor the broker ever carries a secret's value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Protocol

MASK = "***"


class SecretProvider(Protocol):
    def get(self, org_id: str, name: str) -> str | None: ...


class EnvSecretProvider:
    """Secrets from ``FLOWPILOT_SECRET_<NAME>`` (name upper-cased, ``-`` as ``_``)."""

    prefix = "FLOWPILOT_SECRET_"

    def get(self, org_id: str, name: str) -> str | None:
        return os.environ.get(self.prefix + name.upper().replace("-", "_"))


class DictSecretProvider:
    """Secrets from a mapping (tests, embedding)."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)

    def get(self, org_id: str, name: str) -> str | None:
        return self.values.get(name)


class SecretMissing(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"secret '{name}' is not set for this organization")
        self.name = name


class SecretsView(Mapping[str, str]):
    """``secrets`` in expressions: values resolved on first read, remembered for redaction."""

    def __init__(self, provider: SecretProvider, org_id: str) -> None:
        self._provider = provider
        self._org_id = org_id
        self.resolved: dict[str, str] = {}

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        if name not in self.resolved:
            value = self._provider.get(self._org_id, name)
            if value is None:
                raise SecretMissing(name)
            self.resolved[name] = value
        return self.resolved[name]

    def __getitem__(self, name: str) -> str:
        return self.get(name)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.resolved)

    def __len__(self) -> int:
        return len(self.resolved)


class Redactor:
    """Replaces secret values (at least 3 characters long) wherever they appear."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        values = sorted({v for v in secrets.values() if len(v) >= 3}, key=len, reverse=True)
        self.names = {v: k for k, v in secrets.items()}
        self._pattern = re.compile("|".join(re.escape(v) for v in values)) if values else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self._pattern else text

    def value(self, value: Any) -> Any:
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value

    def seal(self, value: Any) -> Any:
        """Replace secret values by references (``{"$secret": NAME}``; inside a longer string
        ``{"$sealed": [text, {"$secret": NAME}, text…]}``)."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            parts: list[Any] = []
            last = 0
            for match in self._pattern.finditer(value):
                if match.start() > last:
                    parts.append(value[last : match.start()])
                parts.append({"$secret": self.names[match.group()]})
                last = match.end()
            if not parts:
                return value
            if last < len(value):
                parts.append(value[last:])
            return parts[0] if len(parts) == 1 else {"$sealed": parts}
        if isinstance(value, dict):
            return {k: self.seal(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.seal(v) for v in value]
        return value


def unseal(value: Any, lookup: SecretsView) -> Any:
    """The inverse of :meth:`Redactor.seal`, reading values from ``lookup``."""
    if isinstance(value, dict):
        if "$secret" in value and len(value) == 1:
            return lookup[value["$secret"]]
        if "$sealed" in value and len(value) == 1:
            return "".join(
                p if isinstance(p, str) else lookup[p["$secret"]] for p in value["$sealed"]
            )
        return {k: unseal(v, lookup) for k, v in value.items()}
    if isinstance(value, list):
        return [unseal(v, lookup) for v in value]
    return value


def display(value: Any) -> Any:
    """A sealed value as people may see it: every reference shown as ``***``."""
    if isinstance(value, dict):
        if "$secret" in value and len(value) == 1:
            return MASK
        if "$sealed" in value and len(value) == 1:
            return "".join(p if isinstance(p, str) else MASK for p in value["$sealed"])
        return {k: display(v) for k, v in value.items()}
    if isinstance(value, list):
        return [display(v) for v in value]
    return value
