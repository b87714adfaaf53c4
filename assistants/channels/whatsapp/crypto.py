"""Access tokens at rest: Fernet (AES-128-CBC + HMAC-SHA256) with a key derived from
WHATSAPP_TOKEN_KEY, or SECRET_KEY when that is unset."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    material = (settings.WHATSAPP_TOKEN_KEY or settings.SECRET_KEY).encode()
    key = hashlib.sha256(b"frontdesk:whatsapp-access-token:" + material).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def token_encrypt(token: str) -> str:
    return _fernet().encrypt(token.encode()).decode()


def token_decrypt(stored: str) -> str:
    """The plain token; ``ValueError`` when the key changed since it was stored."""
    try:
        return _fernet().decrypt(stored.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("The stored WhatsApp access token cannot be decrypted: WHATSAPP_TOKEN_KEY (or "
                         "SECRET_KEY) changed since it was saved. Save the connection's token again.") from exc
