"""Reads for a customer's data: one conversation, or every conversation of one customer, with
every message, citation, rating and the channel's own records (export)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from assistants.models import (
    Conversation,
    HandoffEmail,
    Message,
    UnansweredQuestion,
    WhatsAppInbound,
    WhatsAppOutbound,
)
from businesses.models import Business

FORMAT_VERSION = 1


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def customer_conversations(*, business_id, external_id: str) -> QuerySet[Conversation]:
    """Every conversation of one customer of this business: the widget's or the API's customer id,
    or a WhatsApp number (compared by its digits, as Meta writes it: "+31 6 1234 5678" is
    "31612345678")."""
    from django.db.models import Q

    wanted = Q(external_id=external_id)
    digits = "".join(ch for ch in external_id if ch.isdigit())
    if digits and digits != external_id and len(digits) >= 6:
        wanted |= Q(external_id=digits, channel=Conversation.Channel.WHATSAPP)
    return Conversation.objects.for_business(business_id).filter(wanted).exclude(external_id="")


def customer_ref(*, business_id, external_id: str) -> str:
    """A pseudonym for the audit log: the log says a customer's data was exported or erased
    without keeping who they were (the same customer gives the same ref, so a request can be
    checked against it later)."""
    return hashlib.sha256(f"{business_id}:{external_id}".encode()).hexdigest()[:16]


def _message(message: Message) -> dict:
    return {
        "id": str(message.pk),
        "role": message.role,
        "content": message.content,
        "created_at": _iso(message.created_at),
        "status": message.status,
        "grounding": message.grounding or None,
        "citations": message.citations,
        "backend": message.backend or None,
        "model": message.model or None,
        "usage": {"prompt_tokens": message.tokens_in, "completion_tokens": message.tokens_out},
        "latency_ms": message.latency_ms,
        "reply_to": str(message.reply_to_id) if message.reply_to_id else None,
        "rating": message.rating or None,
        "rating_comment": message.rating_comment or None,
        "rated_at": _iso(message.rated_at),
    }


def conversation_export(*, conversation: Conversation) -> dict:
    """The conversation as JSON: what the customer and the business said, and what each channel
    recorded about it."""
    business_id = conversation.business_id
    messages = (Message.objects.for_business(business_id).filter(conversation=conversation)
                .order_by("created_at", "id"))
    inbound = (WhatsAppInbound.objects.for_business(business_id).filter(conversation=conversation)
               .order_by("created_at"))
    outbound = (WhatsAppOutbound.objects.for_business(business_id).filter(conversation=conversation)
                .order_by("created_at"))
    emails = HandoffEmail.objects.for_business(business_id).filter(conversation=conversation).order_by("created_at")
    questions = (UnansweredQuestion.objects.for_business(business_id).filter(conversation=conversation)
                 .order_by("asked_at"))
    return {
        "id": str(conversation.pk),
        "assistant": {"id": str(conversation.assistant_id), "name": conversation.assistant.name},
        "channel": conversation.channel,
        "external_id": conversation.external_id or None,
        "state": conversation.state,
        "metadata": conversation.metadata,
        "created_at": _iso(conversation.created_at),
        "last_message_at": _iso(conversation.last_message_at),
        "messages": [_message(m) for m in messages],
        "channel_records": {
            "whatsapp_inbound": [{"wa_message_id": row.wa_message_id, "from": row.sender,
                                  "profile_name": row.sender_name or None, "type": row.type, "text": row.text,
                                  "received_at": _iso(row.created_at), "status": row.status} for row in inbound],
            "whatsapp_outbound": [{"wa_message_id": row.wa_message_id, "to": row.to, "purpose": row.purpose,
                                   "text": row.text, "status": row.status, "sent_at": _iso(row.sent_at)}
                                  for row in outbound],
            "handoff_emails": [{"recipient": row.recipient, "handoff_at": _iso(row.handoff_at)} for row in emails],
        },
        "unanswered_questions": [{"message_id": str(row.message_id), "reason": row.reason,
                                  "asked_at": _iso(row.asked_at)} for row in questions],
    }


def _header(business: Business) -> dict:
    return {"format": "frontdesk.export", "version": FORMAT_VERSION,
            "business": {"id": str(business.pk), "name": business.name}, "exported_at": _iso(timezone.now())}


def conversation_export_document(*, business: Business, conversation: Conversation) -> dict:
    return {**_header(business), "conversation": conversation_export(conversation=conversation)}


def customer_export_document(*, business: Business, external_id: str) -> dict:
    conversations = customer_conversations(business_id=business.pk, external_id=external_id).select_related(
        "assistant").order_by("created_at")
    return {**_header(business), "customer": external_id,
            "conversations": [conversation_export(conversation=c) for c in conversations]}


_ROLE_LABELS = {"customer": "Customer", "assistant": "Assistant", "staff": "Staff", "system": "Notice"}


def _transcript_lines(conversation: dict) -> list[str]:
    lines = [f"Conversation {conversation['id']} with {conversation['assistant']['name']}",
             f"Channel: {conversation['channel']}"
             + (f" · customer {conversation['external_id']}" if conversation["external_id"] else ""),
             f"Started: {conversation['created_at']}", ""]
    for message in conversation["messages"]:
        lines.append(f"[{message['created_at']}] {_ROLE_LABELS.get(message['role'], message['role'])}:")
        lines.extend(f"  {line}" for line in (message["content"] or "").splitlines() or [""])
        titles = [c.get("source_title") for c in message["citations"] if isinstance(c, dict)]
        if titles:
            lines.append("  Sources: " + "; ".join(str(t) for t in titles if t))
        if message["rating"]:
            comment = f" — {message['rating_comment']}" if message["rating_comment"] else ""
            lines.append(f"  Rated {message['rating']}{comment}")
    lines.append("")
    return lines


def export_transcript(document: dict) -> str:
    """A readable transcript of an export document (``?format=txt``)."""
    conversations = document.get("conversations") or [document["conversation"]]
    lines = [f"{document['business']['name']} — exported {document['exported_at']}", ""]
    if "customer" in document:
        lines += [f"Customer: {document['customer']} ({len(conversations)} conversations)", ""]
    for conversation in conversations:
        lines += _transcript_lines(conversation)
    return "\n".join(lines)
