"""API key material: generation, keyed hashing, constant-time verification."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

from django.conf import settings

PREFIX_LENGTH = 12  # "sk_" + 9 random characters: unique lookup, safe to show
KIND_PREFIX = {"secret": "sk_", "publishable": "pk_"}


def _hash_secret() -> bytes:
    return (settings.API_KEY_HASH_SECRET or settings.SECRET_KEY).encode()


@functools.lru_cache(maxsize=4)
def _keyed(secret: bytes) -> hmac.HMAC:
    """An HMAC-SHA256 with ``secret`` and no message yet; copied for each key (only ever copied)."""
    return hmac.new(secret, digestmod=hashlib.sha256)


def key_hash(raw_key: str) -> str:
    """HMAC-SHA256 with a server-side secret: a leaked table cannot be brute-forced offline.

    A copy of a keyed HMAC made once per secret: setting OpenSSL's HMAC up with the key was
    most of a new one (33 k instructions a key against 18 k, on every API request)."""
    mac = _keyed(_hash_secret()).copy()
    mac.update(raw_key.encode())
    return mac.hexdigest()


def key_generate(kind: str) -> tuple[str, str, str]:
    """A new key as (raw key shown once, lookup prefix, hash to store)."""
    raw = KIND_PREFIX[kind] + secrets.token_urlsafe(32).replace("-", "x").replace("_", "y")
    return raw, raw[:PREFIX_LENGTH], key_hash(raw)


def key_matches(raw_key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(key_hash(raw_key), stored_hash)


def _publishable_cipher():
    from businesses.webhooks.crypto import fernet_for

    return fernet_for(settings.API_KEY_HASH_SECRET or settings.SECRET_KEY, b"frontdesk.api-keys.publishable")


def publishable_encrypt(raw_key: str) -> str:
    return _publishable_cipher().encrypt(raw_key.encode()).decode()


def publishable_decrypt(token: str) -> str | None:
    """The stored publishable key, or None when it was stored before keys were kept or the
    secret it was encrypted with changed."""
    from cryptography.fernet import InvalidToken

    if not token:
        return None
    try:
        return _publishable_cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        return None
