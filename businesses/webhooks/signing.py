"""The signature on every delivery, and how a receiver checks it (Stripe-like).

Header ``Frontdesk-Signature: t=<unix seconds>,v1=<hex>`` where ``<hex>`` is
``HMAC-SHA256(key=secret, msg=f"{t}.{raw_body}")`` and ``secret`` is the whole ``whsec_…``
string as UTF-8. A receiver recomputes the HMAC over the raw bytes it received (before any
JSON parsing), compares in constant time, and refuses timestamps older than a few minutes
so a captured request cannot be replayed. This module has no Django dependency: an
integrator written in Python may copy it.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Frontdesk-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE = 300


def compute(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex HMAC of one signed payload."""
    message = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(payload: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """The ``Frontdesk-Signature`` header value for ``payload``."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={t},{SCHEME}={compute(payload, secret, t)}"


def verify(payload: bytes, header: str, secret: str, tolerance: int = DEFAULT_TOLERANCE, *,
           now: float | None = None) -> bool:
    """True when ``header`` signs ``payload`` with ``secret`` within ``tolerance`` seconds.

    Several ``v1=`` values may appear (one per secret while secrets are rotated); any match
    passes. A malformed header is simply False, never an exception.
    """
    if not isinstance(header, str) or not isinstance(payload, bytes | bytearray):
        return False
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == SCHEME:
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    current = time.time() if now is None else now
    if tolerance is not None and abs(current - timestamp) > tolerance:
        return False
    expected = compute(bytes(payload), secret, timestamp)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)
