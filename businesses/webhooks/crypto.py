"""Signing secrets at rest: generated here, stored Fernet-encrypted, decrypted only to sign.

A webhook secret cannot be stored as a hash like an API key: we need the secret itself to
compute each delivery's HMAC. The Fernet key is derived (HKDF-SHA256) from
WEBHOOKS_ENCRYPTION_KEY, or SECRET_KEY when that is unset, so a database dump alone does not
reveal the secrets.
"""

from __future__ import annotations

import base64
import functools
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix, not a secret


class SecretUnreadable(Exception):
    """The stored secret does not decrypt: the encryption key changed since it was stored."""


@functools.cache
def fernet_for(material: str, info: bytes) -> Fernet:
    """A Fernet key derived from ``material`` for one purpose (``info``): one secret, many keys."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(material.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _cipher() -> Fernet:
    return fernet_for(settings.WEBHOOKS_ENCRYPTION_KEY or settings.SECRET_KEY, b"frontdesk.webhooks.signing-secret")


def secret_generate() -> str:
    return SECRET_PREFIX + secrets.token_hex(24)


def secret_hint(secret: str) -> str:
    """Enough to tell secrets apart, not enough to use one: ``whsec_…9f3a``."""
    return f"{SECRET_PREFIX}…{secret[-4:]}"


def secret_encrypt(secret: str) -> str:
    return _cipher().encrypt(secret.encode()).decode()


def secret_decrypt(token: str) -> str:
    try:
        return _cipher().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "the endpoint's signing secret cannot be decrypted (WEBHOOKS_ENCRYPTION_KEY or SECRET_KEY changed); "
            "delete the endpoint and create it again"
        ) from exc
