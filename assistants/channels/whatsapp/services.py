"""WhatsApp channel use cases (docs/whatsapp.md).

The webhook request only verifies, stores and queues: the raw delivery, one WhatsAppInbound
row per message (unique WhatsApp message id, so Meta's redeliveries are no-ops), status
callbacks applied to the messages we sent. A task on the ``channels`` queue then answers each
message through the same answer flow as the API (``message_send`` → ``answer_prepare`` →
``answer_events``) and sends the result with the Graph API.

Owner in the loop: a customer who asks for a person, or a question the assistant cannot answer
from the knowledge (an answer with grounding ``none``), puts the conversation in ``handoff``; the
owner's WhatsApp (if the connection names one) gets the question with a short code, and the
owner's reply that starts with the code (or replies to the alert) reaches the customer as a
staff message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from assistants.channels.whatsapp.crypto import token_encrypt
from assistants.channels.whatsapp.outbound import outbound_send
from assistants.chat.fairness import message_limits_hit
from assistants.chat.intent import asks_for_person
from assistants.chat.services import (
    Failed,
    answer_prepare,
    answer_run,
    conversation_set_state,
    handoff_notice,
    message_send,
    staff_message_send,
)
from assistants.models import (
    Assistant,
    Conversation,
    KnowledgeSource,
    Message,
    WhatsAppConnection,
    WhatsAppDelivery,
    WhatsAppInbound,
    WhatsAppOutbound,
)
from assistants.regression.services import knowledge_test_from_reply
from businesses.audit import Actor
from businesses.models import Business
from config.errors import ApplicationError

logger = logging.getLogger(__name__)

# Message types whose text the assistant reads; a button tap or list choice is its label.
TEXT_TYPES = {"text", "button", "interactive"}
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I, O, 0, 1: read aloud and typed on a phone
_CODE_AT_START = re.compile(r"^\s*#([A-Za-z0-9]{4,8})(?![A-Za-z0-9])[\s:,.\-\u2013\u2014]*(.*)$", re.S)

UNSUPPORTED_TEXT = ("Sorry, I can only read text messages for now. Please type your question and I'll "
                    "be happy to help.")
UNAVAILABLE_TEXT = "Sorry, our assistant is not available right now."
# A customer's own erasure on WhatsApp: the words, then a confirmation by reply (a message sent
# by mistake must not wipe a conversation). English and Simplified Chinese.
ERASE_WORDS = {"delete my data", "删除我的数据"}
ERASE_CONFIRM_WORDS = {"yes", "是", "确认"}
ERASE_CONFIRM_SECONDS = 600  # how long the question waits for its YES
ERASE_ASK_TEXT = ("Do you want us to delete this conversation and everything you have sent us? Reply YES "
                  "within 10 minutes to confirm; any other reply keeps it.")
ERASED_TEXT = "Done: your conversations with us and everything you sent us have been deleted."
OWNER_HELP_TEXT = ("I couldn't tell which conversation this reply is for. Start your message with the "
                   "conversation's code (for example #K7Q2 Yes, we have a table at 8), or reply to the alert.")


class TransientChannelError(Exception):
    """The model server failed; the task runs again later (bounded)."""


def event_emit(*, business_id, type: str, data: dict) -> None:
    """Outgoing webhooks (businesses.webhooks), when that module is installed; a channel must
    never fail because an event could not be queued."""
    try:
        from businesses.webhooks.services import event_emit as emit
    except ModuleNotFoundError as exc:
        if exc.name in ("businesses.webhooks", "businesses.webhooks.services"):
            return
        raise
    try:
        emit(business_id=business_id, type=type, data=data)
    except Exception:
        logger.exception("event %s could not be emitted", type)


def phone_normalize(value: str) -> str:
    """+31 6-1234 5678 → 31612345678 (Meta's wa_id form); "" stays ""."""
    digits = re.sub(r"[\s().+\-]", "", value or "")
    if digits and not re.fullmatch(r"\d{7,15}", digits):
        raise ApplicationError("validation_error", "owner_whatsapp must be a phone number in international form, "
                               "e.g. +31612345678.", details={"fields": {"owner_whatsapp": ["Invalid number."]}})
    return digits


# --------------------------------------------------------------------------- connections


def connection_create(*, business: Business, assistant: Assistant, phone_number_id: str, access_token: str,
                      owner_whatsapp: str = "", display_phone_number: str = "") -> WhatsAppConnection:
    try:
        with transaction.atomic():
            return WhatsAppConnection.objects.unscoped().create(
                business_id=business.pk, assistant=assistant, phone_number_id=phone_number_id,
                access_token_encrypted=token_encrypt(access_token), owner_whatsapp=phone_normalize(owner_whatsapp),
                display_phone_number=display_phone_number)
    except IntegrityError as exc:
        raise ApplicationError("whatsapp_number_taken", "This WhatsApp phone number id is already connected. "
                               "Delete the existing connection first.", status=409) from exc


def connection_update(*, connection: WhatsAppConnection, assistant: Assistant | None = None,
                      access_token: str | None = None, owner_whatsapp: str | None = None,
                      display_phone_number: str | None = None) -> WhatsAppConnection:
    if assistant is not None:
        connection.assistant = assistant
    if access_token is not None:
        connection.access_token_encrypted = token_encrypt(access_token)
    if owner_whatsapp is not None:
        connection.owner_whatsapp = phone_normalize(owner_whatsapp)
    if display_phone_number is not None:
        connection.display_phone_number = display_phone_number
    connection.save()
    return connection


def connection_delete(*, connection: WhatsAppConnection) -> None:
    connection.delete()


# --------------------------------------------------------------------------- webhook


def webhook_verify(*, mode: str | None, token: str | None, challenge: str | None) -> str:
    """Meta's subscription handshake: echo the challenge when the verify token matches."""
    expected = settings.WHATSAPP_VERIFY_TOKEN
    if (not expected or mode != "subscribe" or challenge is None
            or not hmac.compare_digest((token or "").encode(), expected.encode())):
        raise ApplicationError("verification_failed", "Wrong hub.mode or hub.verify_token.", status=403)
    return challenge


def signature_valid(*, body: bytes, header: str) -> bool:
    """``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the app secret>``."""
    if not header.startswith("sha256="):
        return False
    expected = hmac.new(settings.WHATSAPP_APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header[7:].strip().lower().encode(), expected.encode())


def webhook_receive(*, body: bytes, signature: str) -> int:
    """Verify, store the delivery and its messages, apply status callbacks, queue the work.
    Returns how many messages were queued. Raises 503/401/400 with nothing stored."""
    from assistants.channels.whatsapp.tasks import channel_whatsapp_inbound_task
    from config.tasks import enqueue_on_commit

    if not settings.WHATSAPP_APP_SECRET:
        raise ApplicationError("whatsapp_not_configured", "WHATSAPP_APP_SECRET is not set.", status=503)
    if not signature_valid(body=body, header=signature):
        raise ApplicationError("invalid_signature", "X-Hub-Signature-256 does not match the body.", status=401)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApplicationError("malformed_request", "The body is not JSON.", status=400) from exc
    if not isinstance(payload, dict):
        raise ApplicationError("malformed_request", "Expected a JSON object.", status=400)

    queued = 0
    with transaction.atomic():
        delivery = WhatsAppDelivery.objects.create(payload=payload)
        for value in _change_values(payload):
            metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
            phone_number_id = str(metadata.get("phone_number_id") or "")
            # The number names the tenant: a deliberate cross-tenant lookup by a unique id.
            connection = WhatsAppConnection.objects.unscoped().filter(phone_number_id=phone_number_id).first()
            if connection is None:
                logger.info("WhatsApp delivery %s for unconnected number %r kept, not processed", delivery.pk,
                            phone_number_id)
                continue
            names = {str(c.get("wa_id")): ((c.get("profile") or {}).get("name") or "")
                     for c in _dicts(value.get("contacts"))}
            for message in _dicts(value.get("messages")):
                inbound = _inbound_store(connection, delivery, message, names)
                if inbound is not None:
                    enqueue_on_commit(channel_whatsapp_inbound_task, str(connection.business_id), str(inbound.pk))
                    queued += 1
            for status in _dicts(value.get("statuses")):
                _status_apply(connection, status)
    return queued


def _dicts(value: Any) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _change_values(payload: dict) -> list[dict]:
    values = []
    for entry in _dicts(payload.get("entry")):
        for change in _dicts(entry.get("changes")):
            if change.get("field", "messages") == "messages" and isinstance(change.get("value"), dict):
                values.append(change["value"])
    return values


def _message_text(message: dict) -> str:
    kind = message.get("type")
    part = message.get(kind) if isinstance(message.get(kind), dict) else {}
    if kind == "text":
        return str(part.get("body") or "")
    if kind == "button":
        return str(part.get("text") or "")
    if kind == "interactive":
        choice = part.get("button_reply") or part.get("list_reply") or {}
        return str(choice.get("title") or "") if isinstance(choice, dict) else ""
    return ""


def _inbound_store(connection: WhatsAppConnection, delivery: WhatsAppDelivery, message: dict,
                   names: dict[str, str]) -> WhatsAppInbound | None:
    """The stored message if it needs processing; None for a duplicate already handled."""
    wa_id, sender = str(message.get("id") or ""), str(message.get("from") or "")
    if not wa_id or not sender:
        return None
    context = message.get("context") if isinstance(message.get("context"), dict) else {}
    try:
        with transaction.atomic():
            return WhatsAppInbound.objects.unscoped().create(
                business_id=connection.business_id, connection=connection, delivery=delivery,
                wa_message_id=wa_id[:200], sender=sender[:32], sender_name=names.get(sender, "")[:200],
                type=str(message.get("type") or "")[:32], text=_message_text(message)[:8000],
                context_id=str(context.get("id") or "")[:200], payload=message)
    except IntegrityError:
        pass
    # A redelivery. Queue it again only if its task may have been lost (never claimed, or
    # claimed by a worker that died); the claim in inbound_process stops double work.
    return (WhatsAppInbound.objects.for_business(connection.business_id).filter(wa_message_id=wa_id)
            .filter(_claimable()).first())


def _claimable() -> Q:
    stale = timezone.now() - timezone.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    return (Q(status__in=[WhatsAppInbound.Status.RECEIVED, WhatsAppInbound.Status.RETRYING])
            | Q(status=WhatsAppInbound.Status.PROCESSING, claimed_at__lt=stale))


_STATUS_RANK = {"pending": 0, "sent": 1, "delivered": 2, "read": 3}


def _status_apply(connection: WhatsAppConnection, status: dict) -> None:
    """sent → delivered → read only move forward (callbacks arrive out of order); failed keeps Meta's reason."""
    name, wa_id = status.get("status"), str(status.get("id") or "")
    sent = WhatsAppOutbound.objects.for_business(connection.business_id).filter(connection=connection,
                                                                                wa_message_id=wa_id)
    if name == "failed":
        errors = _dicts(status.get("errors"))
        reason = "; ".join(f"{e.get('code')}: {e.get('title') or e.get('message') or ''}" for e in errors)
        sent.update(status=WhatsAppOutbound.Status.FAILED, error=reason or "failed", updated_at=timezone.now())
    elif name in _STATUS_RANK:
        earlier = [s for s, rank in _STATUS_RANK.items() if rank < _STATUS_RANK[name]]
        sent.filter(status__in=earlier).update(status=name, updated_at=timezone.now())


# --------------------------------------------------------------------------- processing


def inbound_process(*, business_id, inbound_id, final_attempt: bool = True) -> None:
    """Answer one inbound message (the task's body). Idempotent: a claimed or processed message
    is skipped, and every send is recorded once per (message, purpose)."""
    now = timezone.now()
    claimed = WhatsAppInbound.objects.for_business(business_id).filter(pk=inbound_id).filter(_claimable()).update(
        status=WhatsAppInbound.Status.PROCESSING, claimed_at=now, updated_at=now)
    if not claimed:
        return
    inbound = (WhatsAppInbound.objects.for_business(business_id)
               .select_related("connection__assistant__business").get(pk=inbound_id))
    connection = inbound.connection
    try:
        if connection.owner_whatsapp and inbound.sender == connection.owner_whatsapp:
            _owner_reply(connection, inbound)
        else:
            _customer_message(connection, inbound, final_attempt=final_attempt)
    except TransientChannelError as exc:
        _inbound_mark(inbound, WhatsAppInbound.Status.RETRYING, str(exc))
        raise
    except Exception as exc:
        _inbound_mark(inbound, WhatsAppInbound.Status.FAILED, f"{type(exc).__name__}: {exc}")
        raise
    _inbound_mark(inbound, WhatsAppInbound.Status.PROCESSED, "")


def _inbound_mark(inbound: WhatsAppInbound, status: str, error: str) -> None:
    WhatsAppInbound.objects.for_business(inbound.business_id).filter(pk=inbound.pk).update(
        status=status, error=error[:2000], conversation=inbound.conversation, updated_at=timezone.now())


def _conversation_for(connection: WhatsAppConnection, inbound: WhatsAppInbound) -> Conversation:
    """The customer's open conversation on this number (one per number and customer), or a new one."""
    created = False
    with transaction.atomic():
        # Serialises lookup-or-create per number: two messages of a new customer, two workers, one conversation.
        WhatsAppConnection.objects.for_business(connection.business_id).select_for_update().filter(
            pk=connection.pk).first()
        conversation = (Conversation.objects.for_business(connection.business_id)
                        .filter(assistant_id=connection.assistant_id, channel=Conversation.Channel.WHATSAPP,
                                external_id=inbound.sender, metadata__whatsapp_connection_id=str(connection.pk))
                        .exclude(state=Conversation.State.CLOSED).order_by("-created_at").first())
        if conversation is None:
            conversation = Conversation.objects.unscoped().create(
                business_id=connection.business_id, assistant_id=connection.assistant_id,
                channel=Conversation.Channel.WHATSAPP, external_id=inbound.sender,
                metadata={"whatsapp_connection_id": str(connection.pk),
                          "phone_number_id": connection.phone_number_id, "customer_name": inbound.sender_name})
            created = True
    if created:
        event_emit(business_id=connection.business_id, type="conversation.started",
                   data={"conversation_id": str(conversation.pk), "assistant_id": str(conversation.assistant_id),
                         "channel": conversation.channel, "external_id": conversation.external_id})
    inbound.conversation = conversation
    return conversation


def _words(text: str) -> str:
    return " ".join(text.casefold().split()).strip(" .!?。！？")


def _erase_flow(connection: WhatsAppConnection, inbound: WhatsAppInbound, conversation: Conversation) -> bool:
    """"delete my data" asks, YES confirms and erases. True when the message was handled here."""
    from assistants.privacy.services import customer_erase
    from businesses.audit import Actor

    words = _words(inbound.text) if inbound.type in TEXT_TYPES else ""
    asked = conversation.metadata.get("erase_asked_at")
    if words in ERASE_WORDS:
        conversation.metadata = {**conversation.metadata, "erase_asked_at": timezone.now().isoformat()}
        conversation.save(update_fields=["metadata", "updated_at"])
        _send(connection, inbound, conversation, WhatsAppOutbound.Purpose.NOTICE, to=inbound.sender,
              text=ERASE_ASK_TEXT)
        return True
    if not asked:
        return False
    conversation.metadata = {k: v for k, v in conversation.metadata.items() if k != "erase_asked_at"}
    conversation.save(update_fields=["metadata", "updated_at"])
    fresh = timezone.now() - timezone.datetime.fromisoformat(asked) <= timezone.timedelta(
        seconds=ERASE_CONFIRM_SECONDS)
    if words not in ERASE_CONFIRM_WORDS or not fresh:
        return False
    # Confirm first, then erase: the erasure takes this YES, the question and the confirmation too.
    _send(connection, inbound, conversation, WhatsAppOutbound.Purpose.NOTICE, to=inbound.sender, text=ERASED_TEXT)
    customer_erase(business_id=connection.business_id, external_id=inbound.sender, actor=Actor.customer())
    return True


def _customer_message(connection: WhatsAppConnection, inbound: WhatsAppInbound, *, final_attempt: bool) -> None:
    conversation = _conversation_for(connection, inbound)
    if _erase_flow(connection, inbound, conversation):
        return
    supported = inbound.type in TEXT_TYPES and inbound.text.strip()
    content = inbound.text.strip() if supported else f"[{inbound.type or 'unknown'} message]"
    sent = message_send(conversation=conversation, content=content,
                        idempotency_key=f"whatsapp:{inbound.wa_message_id}")
    conversation = sent.conversation
    if not supported:
        _notice(connection, inbound, conversation, UNSUPPORTED_TEXT)
        if conversation.state == Conversation.State.HANDOFF:
            _owner_alert(connection, inbound, conversation, question=content, follow_up=True)
        return
    if conversation.state == Conversation.State.HANDOFF:  # a person has this conversation
        _owner_alert(connection, inbound, conversation, question=content, follow_up=True)
        return
    if not sent.needs_answer:  # a re-run after the answer was saved: make sure it was sent
        if sent.answer is not None and sent.answer.status == Message.Status.COMPLETE:
            _send(connection, inbound, conversation, WhatsAppOutbound.Purpose.ANSWER, to=inbound.sender,
                  text=sent.answer.content, message=sent.answer)
        return
    if asks_for_person(content):
        _handoff(connection, inbound, conversation, reason="customer_request", question=content)
        return
    if not sent.replayed and message_limits_hit(conversation=conversation) is not None:
        # No 429 on WhatsApp: the message is kept and a person answers it (one customer, or the
        # whole business, sent more than the per-minute limits allow).
        _handoff(connection, inbound, conversation, reason="rate_limited", question=content,
                 preface=UNAVAILABLE_TEXT)
        return
    try:
        prepared = answer_prepare(conversation=conversation, customer=sent.customer, first_answer=not sent.replayed)
    except ApplicationError as exc:
        if exc.status != 402:
            raise
        _handoff(connection, inbound, conversation, reason="quota_exceeded", question=content,
                 preface=UNAVAILABLE_TEXT)
        return
    outcome = answer_run(prepared)
    if isinstance(outcome, Failed):
        if not final_attempt:
            raise TransientChannelError(f"{outcome.error.code}: {outcome.error.message}")
        _handoff(connection, inbound, conversation, reason="inference_unavailable", question=content,
                 preface=UNAVAILABLE_TEXT)
        return
    answer = outcome.answer
    if answer.grounding == Message.Grounding.NONE:
        # Nothing in the knowledge supports an answer (the honest "I don't know": no passage
        # relevant enough, or an allergen the catalog does not state): say so and bring in a person.
        _handoff(connection, inbound, conversation, reason="no_answer", question=content, preface=answer.content,
                 answer=answer)
        return
    _send(connection, inbound, conversation, WhatsAppOutbound.Purpose.ANSWER, to=inbound.sender,
          text=answer.content, message=answer)


def _handoff(connection: WhatsAppConnection, inbound: WhatsAppInbound, conversation: Conversation, *, reason: str,
             question: str, preface: str = "", answer: Message | None = None) -> None:
    # Why, for the inbox (GET /api/v1/conversations/{id} shows metadata).
    conversation.metadata = {**conversation.metadata, "handoff_reason": reason}
    conversation.save(update_fields=["metadata", "updated_at"])
    # conversation_set_state emits ``conversation.handoff`` (every channel, once per handoff).
    conversation = conversation_set_state(conversation=conversation, state=Conversation.State.HANDOFF)
    _owner_alert(connection, inbound, conversation, question=question, follow_up=False)
    notice = handoff_notice(connection.assistant)
    if answer is not None:  # one message: the honest "I don't know", then who will reply
        _send(connection, inbound, conversation, WhatsAppOutbound.Purpose.ANSWER, to=inbound.sender,
              text=f"{preface}\n\n{notice}", message=answer)
    else:
        _notice(connection, inbound, conversation, f"{preface} {notice}".strip())


def _notice(connection: WhatsAppConnection, inbound: WhatsAppInbound, conversation: Conversation,
            text: str) -> None:
    """A channel notice: kept in the conversation as a system message, sent to the customer."""
    message = (Message.objects.for_business(connection.business_id)
               .filter(conversation=conversation, role=Message.Role.SYSTEM,
                       idempotency_key=f"whatsapp-notice:{inbound.wa_message_id}").first())
    if message is None:
        message = Message.objects.unscoped().create(
            business_id=connection.business_id, conversation=conversation, role=Message.Role.SYSTEM, content=text,
            idempotency_key=f"whatsapp-notice:{inbound.wa_message_id}")
    _send(connection, inbound, conversation, WhatsAppOutbound.Purpose.NOTICE, to=inbound.sender, text=text,
          message=message)


def _handoff_code(connection: WhatsAppConnection, conversation: Conversation) -> str:
    alerts = WhatsAppOutbound.objects.for_business(connection.business_id).filter(
        connection=connection, purpose=WhatsAppOutbound.Purpose.OWNER_ALERT).exclude(handoff_code="")
    existing = alerts.filter(conversation=conversation).order_by("-created_at").first()
    if existing is not None:
        return existing.handoff_code
    for _ in range(20):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(4))
        if not alerts.filter(handoff_code=code).exists():
            return code
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))


def _owner_alert(connection: WhatsAppConnection, inbound: WhatsAppInbound, conversation: Conversation, *,
                 question: str, follow_up: bool) -> None:
    if not connection.owner_whatsapp:
        return
    code = _handoff_code(connection, conversation)
    who = f"{inbound.sender_name} (+{inbound.sender})" if inbound.sender_name else f"+{inbound.sender}"
    if follow_up:
        quoted = question if len(question) <= 1000 else question[:1000] + "…"
        text = f"#{code} {who} writes:\n“{quoted}”"
    else:
        text = _owner_alert_text(code, who, question)
    _send(connection, inbound, conversation, WhatsAppOutbound.Purpose.OWNER_ALERT, to=connection.owner_whatsapp,
          text=text, code=code)


def _owner_alert_text(code: str, who: str, question: str) -> str:
    quoted = question if len(question) <= 1000 else question[:1000] + "…"
    return (f"#{code} {who} needs a person:\n“{quoted}”\n\nReply starting with #{code} (or reply to this "
            f"message) and your answer goes to them.")


def _owner_reply(connection: WhatsAppConnection, inbound: WhatsAppInbound) -> None:
    """The owner writes to the business number: a reply to a customer, found by its code or by
    the alert it replies to."""
    outbound = WhatsAppOutbound.objects.for_business(connection.business_id).filter(
        connection=connection, purpose=WhatsAppOutbound.Purpose.OWNER_ALERT).select_related("conversation")
    text, alert = inbound.text.strip(), None
    match = _CODE_AT_START.match(text)
    if match:
        alert = outbound.filter(handoff_code=match.group(1).upper()).order_by("-created_at").first()
        if alert is not None:
            text = match.group(2).strip()
    if alert is None and inbound.context_id:
        alert = outbound.filter(wa_message_id=inbound.context_id).first()
    conversation = alert.conversation if alert is not None else None
    if conversation is None:
        # Not for a customer: a reply to a digest topic, a command ("sold out mapo tofu"), or
        # anything else, answered with the help text (docs/whatsapp.md "The owner's phone").
        from assistants.channels.owner.services import owner_message_answer

        reply = owner_message_answer(connection=connection, inbound=inbound)
        if reply is not None:  # None: the answer was sent already ("digest": the digest's messages)
            purpose, answer = reply
            _send(connection, inbound, None, purpose, to=inbound.sender, text=answer)
        return
    if inbound.type not in TEXT_TYPES or not text:
        _send(connection, inbound, None, WhatsAppOutbound.Purpose.OWNER_HELP, to=inbound.sender, text=OWNER_HELP_TEXT)
        return
    inbound.conversation = conversation
    try:
        staff = staff_message_send(conversation=conversation, content=text[:8000])
    except ApplicationError as exc:
        if exc.code != "conversation_closed":
            raise
        _send(connection, inbound, conversation, WhatsAppOutbound.Purpose.OWNER_HELP, to=inbound.sender,
              text=f"#{alert.handoff_code} is closed; your reply was not sent.")
        return
    _staff_deliver(connection, inbound, conversation, staff)


def _staff_deliver(connection: WhatsAppConnection, inbound: WhatsAppInbound, conversation: Conversation,
                   staff: Message) -> None:
    """The conversation's channel decides how the owner's reply reaches the customer: a WhatsApp
    customer gets it from the business number; a web-widget or API customer reads the staff
    message in the conversation (the widget polls), so nothing is sent over WhatsApp (their
    ``external_id`` is not a phone number)."""
    if conversation.channel == Conversation.Channel.WHATSAPP:
        _send(connection, inbound, conversation, WhatsAppOutbound.Purpose.STAFF, to=conversation.external_id,
              text=staff.content, message=staff)


# --------------------------------------------------------------------------- web widget and API handoffs


def owner_alert_connection(conversation: Conversation) -> WhatsAppConnection | None:
    """The connection that alerts the owner about a widget or API conversation: the one of the
    conversation's assistant if it names an owner number, else any of the business's that does."""
    with_owner = (WhatsAppConnection.objects.for_business(conversation.business_id).exclude(owner_whatsapp="")
                  .select_related("assistant__business"))
    return (with_owner.filter(assistant_id=conversation.assistant_id).order_by("created_at").first()
            or with_owner.order_by("created_at").first())


def owner_alert_send(*, business_id, conversation_id, notice_id) -> WhatsAppOutbound | None:
    """Alert the owner that a widget or API conversation needs a person (the task's body).

    One handoff is one system notice (``notice_id``): the alert is recorded against it, under a
    lock on it, so a task that runs twice (or twice at once) sends one alert."""
    conversation = (Conversation.objects.for_business(business_id).select_related("assistant")
                    .filter(pk=conversation_id).first())
    if conversation is None or conversation.channel == Conversation.Channel.WHATSAPP:
        return None
    connection = owner_alert_connection(conversation)
    if connection is None:
        return None
    with transaction.atomic():
        notice = (Message.objects.for_business(business_id).select_for_update()
                  .filter(pk=notice_id, conversation=conversation, role=Message.Role.SYSTEM).first())
        if notice is None:
            return None
        existing = WhatsAppOutbound.objects.for_business(business_id).filter(
            message=notice, purpose=WhatsAppOutbound.Purpose.OWNER_ALERT).first()
        if existing is not None and existing.status not in (WhatsAppOutbound.Status.PENDING,
                                                            WhatsAppOutbound.Status.FAILED):
            return existing
        asked = (Message.objects.for_business(business_id)
                 .filter(conversation=conversation, role=Message.Role.CUSTOMER, created_at__lte=notice.created_at)
                 .order_by("-created_at").first())
        question = asked.content if asked is not None else "(no message yet: they pressed “Talk to a person”)"
        channel = "web chat" if conversation.channel == Conversation.Channel.WIDGET else "API"
        name = str(conversation.metadata.get("customer_name") or "")
        who = f"{name} ({channel})" if name else ("A web chat customer" if channel == "web chat"
                                                  else "An API customer")
        code = existing.handoff_code if existing is not None else _handoff_code(connection, conversation)
        return _send(connection, None, conversation, WhatsAppOutbound.Purpose.OWNER_ALERT,
                     to=connection.owner_whatsapp, text=_owner_alert_text(code, who, question), message=notice,
                     code=code)


def _send(connection: WhatsAppConnection, inbound: WhatsAppInbound | None, conversation: Conversation | None,
          purpose: str, *, to: str, text: str, message: Message | None = None, code: str = "") -> WhatsAppOutbound:
    """Record, then send (with retries) unless this inbound message's send of this purpose
    already went out (a task that runs twice does not message anyone twice)."""
    outbound = None
    if inbound is not None:
        outbound = WhatsAppOutbound.objects.for_business(connection.business_id).filter(
            inbound=inbound, purpose=purpose).first()
    elif message is not None:
        outbound = WhatsAppOutbound.objects.for_business(connection.business_id).filter(
            message=message, purpose=purpose).first()
    if outbound is None:
        try:
            with transaction.atomic():
                outbound = WhatsAppOutbound.objects.unscoped().create(
                    business_id=connection.business_id, connection=connection, inbound=inbound,
                    conversation=conversation, message=message, purpose=purpose, to=to, text=text,
                    handoff_code=code)
        except IntegrityError:  # another run recorded it first
            return WhatsAppOutbound.objects.for_business(connection.business_id).get(inbound=inbound,
                                                                                     purpose=purpose)
    return outbound_send(connection=connection, outbound=outbound)


# --------------------------------------------------------------------------- staff replies from the API


def staff_message_deliver(*, business_id, message_id) -> WhatsAppOutbound | None:
    """Send a staff message written through the API (or the dashboard) to the WhatsApp customer.
    For the integrator to call after ``staff_message_send`` on a WhatsApp conversation."""
    message = (Message.objects.for_business(business_id).select_related("conversation")
               .filter(pk=message_id, role=Message.Role.STAFF).first())
    if message is None or message.conversation.channel != Conversation.Channel.WHATSAPP:
        return None
    conversation = message.conversation
    connection = WhatsAppConnection.objects.for_business(business_id).filter(
        pk=conversation.metadata.get("whatsapp_connection_id")).first()
    if connection is None:
        return None
    return _send(connection, None, conversation, WhatsAppOutbound.Purpose.STAFF, to=conversation.external_id,
                 text=message.content, message=message)


# --------------------------------------------------------------------------- FAQ from a reply


def faq_from_message(*, message: Message, question: str | None = None, title: str | None = None,
                     actor: Actor | None = None) -> KnowledgeSource:
    """Teach the assistant a person's reply: a new FAQ source with the customer's question
    (the last customer message before the reply, unless given) and the reply as the answer."""
    from assistants.services import source_create

    if message.role != Message.Role.STAFF or not message.content.strip():
        raise ApplicationError("not_a_staff_reply", "Only a person's (staff) reply can become an FAQ answer.",
                               status=400)
    conversation = message.conversation
    asked = None
    if not question:
        asked = (Message.objects.for_business(message.business_id)
                 .filter(conversation=conversation, role=Message.Role.CUSTOMER, created_at__lt=message.created_at)
                 .order_by("-created_at").first())
        if asked is None:
            raise ApplicationError("validation_error", "No customer question precedes this reply; send one as "
                                   "'question'.", details={"fields": {"question": ["Required here."]}})
        question = asked.content
    with transaction.atomic():
        source = source_create(assistant=conversation.assistant, kind=KnowledgeSource.Kind.FAQ,
                               title=title or f"From a conversation: {question[:200]}",
                               pairs=[{"question": question, "answer": message.content}], actor=actor)
        # The corrected question is tested from now on, so a later upload cannot undo the fix.
        # The customer's words when their question is the test's (erased with their message).
        knowledge_test_from_reply(assistant=conversation.assistant, question=question, answer=message.content,
                                  source_message_id=asked.pk if asked is not None else None, actor=actor)
    return source
