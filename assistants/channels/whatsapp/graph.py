"""The Graph API's send endpoint: ``POST {WHATSAPP_GRAPH_BASE_URL}/{phone-number-id}/messages``.

Bounded retries with exponential backoff and jitter, only for what can pass: connection errors,
timeouts, 429 and 5xx. Anything else (a bad token, a number that is not on WhatsApp) fails at
once with Meta's own message, which is what the owner needs to fix it.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass

import httpx
from django.conf import settings

logger = logging.getLogger(__name__)

MAX_BODY_CHARS = 4096  # WhatsApp's limit for a text message body


@dataclass
class SendResult:
    ok: bool
    attempts: int
    wa_message_id: str = ""
    error: str = ""


def _error_text(response: httpx.Response) -> str:
    try:
        error = response.json().get("error") or {}
        message = error.get("message") or response.text[:300]
        code = error.get("code")
    except (ValueError, AttributeError):
        message, code = response.text[:300], None
    return f"HTTP {response.status_code}" + (f" (code {code})" if code is not None else "") + f": {message}"


def text_send(*, phone_number_id: str, access_token: str, to: str, body: str,
              reply_to: str | None = None) -> SendResult:
    """Send a text message; never raises for HTTP trouble, the result says what happened."""
    payload: dict = {"messaging_product": "whatsapp", "to": to, "type": "text",
                     "text": {"body": body[:MAX_BODY_CHARS]}}
    if reply_to:
        payload["context"] = {"message_id": reply_to}
    return _post(phone_number_id=phone_number_id, access_token=access_token, payload=payload)


def template_send(*, phone_number_id: str, access_token: str, to: str, name: str, language: str,
                  parameters: list[str]) -> SendResult:
    """Send an approved template message with body parameters ``{{1}}``, ``{{2}}``…: the only
    kind WhatsApp delivers to someone who has not written in the last 24 hours."""
    payload = {"messaging_product": "whatsapp", "to": to, "type": "template",
               "template": {"name": name, "language": {"code": language},
                            "components": [{"type": "body", "parameters": [
                                {"type": "text", "text": str(value)} for value in parameters]}]}}
    return _post(phone_number_id=phone_number_id, access_token=access_token, payload=payload)


def _post(*, phone_number_id: str, access_token: str, payload: dict) -> SendResult:
    url = f"{settings.WHATSAPP_GRAPH_BASE_URL.rstrip('/')}/{phone_number_id}/messages"
    to = payload["to"]
    headers = {"Authorization": f"Bearer {access_token}"}
    attempts, error = 0, ""
    with httpx.Client(timeout=settings.WHATSAPP_SEND_TIMEOUT) as client:
        for attempt in range(max(1, settings.WHATSAPP_SEND_MAX_ATTEMPTS)):
            if attempt:
                time.sleep(settings.WHATSAPP_SEND_BACKOFF * 2 ** (attempt - 1) * random.uniform(0.75, 1.25))
            attempts += 1
            try:
                response = client.post(url, json=payload, headers=headers)
            except httpx.HTTPError as exc:  # connection refused, timeout, dropped connection
                error = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code < 300:
                try:
                    wa_id = response.json()["messages"][0]["id"]
                except (ValueError, KeyError, IndexError, TypeError):
                    wa_id = ""
                return SendResult(True, attempts, wa_message_id=str(wa_id))
            error = _error_text(response)
            if response.status_code != 429 and response.status_code < 500:
                break
    logger.warning("WhatsApp send to %s via %s failed after %d attempt(s): %s", to, phone_number_id, attempts,
                   error)
    return SendResult(False, attempts, error=error)
