"""Sending one recorded WhatsApp message: the step the channel's replies and the owner's digest
share (kept apart from services.py, which routes inbound messages to the owner's commands, so
the owner's module can send without importing the router)."""

from __future__ import annotations

from django.utils import timezone

from assistants.channels.whatsapp import graph
from assistants.channels.whatsapp.crypto import token_decrypt
from assistants.models import WhatsAppConnection, WhatsAppOutbound


def outbound_send(*, connection: WhatsAppConnection, outbound: WhatsAppOutbound,
                  template: tuple[str, str, list[str]] | None = None) -> WhatsAppOutbound:
    """Send a recorded message (its ``text``, or ``template``: name, language, parameters)
    unless it went out already, and record what Meta answered."""
    if outbound.status not in (WhatsAppOutbound.Status.PENDING, WhatsAppOutbound.Status.FAILED):
        return outbound
    try:
        token = token_decrypt(connection.access_token_encrypted)
    except ValueError as exc:
        result = graph.SendResult(ok=False, attempts=0, error=str(exc))
    else:
        if template is not None:
            name, language, parameters = template
            result = graph.template_send(phone_number_id=connection.phone_number_id, access_token=token,
                                         to=outbound.to, name=name, language=language, parameters=parameters)
        else:
            result = graph.text_send(phone_number_id=connection.phone_number_id, access_token=token,
                                     to=outbound.to, body=outbound.text)
    outbound.attempts += result.attempts
    if result.ok:
        outbound.status, outbound.error, outbound.sent_at = WhatsAppOutbound.Status.SENT, "", timezone.now()
        outbound.wa_message_id = result.wa_message_id or None
    else:
        outbound.status, outbound.error = WhatsAppOutbound.Status.FAILED, result.error[:2000]
    outbound.save(update_fields=["attempts", "status", "error", "sent_at", "wa_message_id", "updated_at"])
    return outbound
