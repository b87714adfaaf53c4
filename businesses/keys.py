"""API key material: generation, keyed hashing, constant-time verification."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings

PREFIX_LENGTH = 12  # "sk_" + 9 random characters: unique lookup, safe to show
KIND_PREFIX = {"secret": "sk_", "publishable": "pk_"}


def _hash_secret() -> bytes:
    return (settings.API_KEY_HASH_SECRET or settings.SECRET_KEY).encode()


def key_hash(raw_key: str) -> str:
    """HMAC-SHA256 with a server-side secret: a leaked table cannot be brute-forced offline."""
    return hmac.new(_hash_secret(), raw_key.encode(), hashlib.sha256).hexdigest()


def key_generate(kind: str) -> tuple[str, str, str]:
    """A new key as (raw key shown once, lookup prefix, hash to store)."""
    raw = KIND_PREFIX[kind] + secrets.token_urlsafe(32).replace("-", "x").replace("_", "y")
    return raw, raw[:PREFIX_LENGTH], key_hash(raw)


def key_matches(raw_key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(key_hash(raw_key), stored_hash)
