"""Reading an OpenAI-compatible server's error responses (shared by the chat and embedding clients)."""

from __future__ import annotations

import httpx

MAX_RETRY_AFTER = 10.0  # seconds; a longer Retry-After is not waited for inside one request


def server_message(response: httpx.Response) -> str:
    """The server's own error message, short enough to log and to show."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error", body.get("message", body))
        if isinstance(error, dict):
            return str(error.get("message", error))[:500]
        return str(error)[:500]
    return str(body)[:500]


def retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds when present, numeric and at most MAX_RETRY_AFTER."""
    value = response.headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    if seconds is None or not 0 <= seconds <= MAX_RETRY_AFTER:
        return None
    return seconds
