"""Sealing what the server must be able to read back but never store in clear: a repository's
credentials and its webhook secret. AES-256-GCM with a random 96-bit nonce; the row's identity
is the associated data, so a sealed value copied into another row does not open there.

The key is ``FLOWPILOT_ENCRYPTION_KEY`` when set (any string of 32+ characters, or 32 bytes in
base64), else derived with HKDF-SHA256 from the server's secret key. A sealed value starts with
the id of the key that sealed it, and opening tries both keys: setting a dedicated key later
keeps what the derived one sealed readable (values are re-sealed with it as they are written).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from flowpilot.server.config import ConfigError

ENCRYPTION_KEY_ENV = "FLOWPILOT_ENCRYPTION_KEY"
_VERSION = b"\x01"
_KEY_ID_BYTES = 4
_NONCE_BYTES = 12


class SealError(Exception):
    """A sealed value that no configured key opens (the key changed, or the data did)."""


def _derive(material: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(material)


def _dedicated_key() -> bytes | None:
    raw = os.environ.get(ENCRYPTION_KEY_ENV, "").strip()
    if not raw:
        return None
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) == 32:
        return decoded
    if len(raw) < 32:
        raise ConfigError(
            f"{ENCRYPTION_KEY_ENV} must be 32 bytes in base64 or a string of 32+ characters"
        )
    return _derive(raw.encode(), b"flowpilot encryption key")


def keys(secret_key: str) -> list[bytes]:
    """The keys that open sealed values, the one that seals first."""
    derived = _derive(secret_key.encode(), b"flowpilot gitops sealing")
    dedicated = _dedicated_key()
    return [dedicated, derived] if dedicated else [derived]


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"key id" + key).digest()[:_KEY_ID_BYTES]


def seal(secret_key: str, plaintext: bytes, context: str) -> bytes:
    """``plaintext`` sealed for the row ``context`` names (e.g. ``gitops_repository:<id>``)."""
    key = keys(secret_key)[0]
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext, context.encode())
    return _VERSION + _key_id(key) + nonce + sealed


def unseal(secret_key: str, sealed: bytes, context: str) -> bytes:
    """The plaintext :func:`seal` sealed for ``context``; :class:`SealError` otherwise."""
    sealed = bytes(sealed)
    head = 1 + _KEY_ID_BYTES
    if len(sealed) < head + _NONCE_BYTES + 16 or sealed[:1] != _VERSION:
        raise SealError("not a sealed value")
    key_id, nonce, body = sealed[1:head], sealed[head : head + _NONCE_BYTES], sealed[head + 12 :]
    for key in keys(secret_key):
        if _key_id(key) != key_id:
            continue
        try:
            return AESGCM(key).decrypt(nonce, body, context.encode())
        except InvalidTag:
            break
    raise SealError(
        "the sealed value does not open with the configured keys (was "
        f"{ENCRYPTION_KEY_ENV} or the secret key changed?)"
    )
