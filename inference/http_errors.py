"""Reading an OpenAI-compatible server's error responses (shared by the chat and embedding clients).

The embedding client passes an ``httpx.Response``; the chat client (aiohttp) passes the body it
read and the response's headers to the ``*_from`` forms."""

from __future__ import annotations

import json
from collections.abc import Mapping

import httpx

MAX_RETRY_AFTER = 10.0  # seconds; a longer Retry-After is not waited for inside one request


def server_message(response: httpx.Response) -> str:
    """The server's own error message, short enough to log and to show."""
    return server_message_from(response.text, response.reason_phrase)


def server_message_from(text: str, reason: str) -> str:
    """``server_message`` of an error body ``text`` (``reason``: the status line's phrase)."""
    try:
        body = json.loads(text)
    except ValueError:
        return text[:500] or reason
    if isinstance(body, dict):
        error = body.get("error", body.get("message", body))
        if isinstance(error, dict):
            return str(error.get("message", error))[:500]
        return str(error)[:500]
    return str(body)[:500]


def retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds when present, numeric and at most MAX_RETRY_AFTER."""
    return retry_after_from(response.headers)


def retry_after_from(headers: Mapping[str, str]) -> float | None:
    """``retry_after`` of a response's headers (a case-insensitive mapping)."""
    value = headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    if seconds is None or not 0 <= seconds <= MAX_RETRY_AFTER:
        return None
    return seconds
