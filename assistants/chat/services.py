"""The answer flow (DESIGN.md "Chat"): save the customer message first, then retrieve,
build the prompt, stream from the backend and save the answer with citations and usage.

Database work is plain sync code; the async flow calls it through ``db()``, which runs it
on the loop's shared thread pool (a few threads per process), not in a thread per
conversation, so hundreds of conversations in flight use a handful of DB connections.
Generation runs in its own task: a client that disconnects mid-stream stops receiving
deltas, but the answer is still generated and saved.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from assistants.catalog.answers import catalog_answer
from assistants.chat import fairness, hours, signals
from assistants.chat.intent import asks_for_person
from assistants.chat.language import answer_language
from assistants.models import Assistant, CatalogItem, Chunk, Conversation, Message
from assistants.retrieval import Passage
from assistants.selectors import EMBED, chunks_search
from billing.selectors import QuotaContext
from billing.services import message_quota_release, message_quota_reserve, usage_record_answer
from businesses.models import ApiKey, Business
from businesses.webhooks.services import event_emit, webhooks_listening
from config.errors import ApplicationError, NotFoundError
from inference import providers
from inference.admission import Share
from inference.errors import InferenceError
from inference.extractive import ExtractiveChatBackend
from inference.grounding import SentenceGate
from inference.prompts import build_prompt
from inference.types import ChatDelta, ChatMessage, ChatRequest, ChatResult, PassageRef

logger = logging.getLogger(__name__)

_background: set[asyncio.Task] = set()  # generation tasks outliving their request


def db(func: Callable) -> Callable:
    """Run sync ORM code from async code on the shared executor (see module docstring)."""
    return sync_to_async(func, thread_sensitive=False)


# --------------------------------------------------------------------------- conversations


def _token_hash(token: str) -> str:
    secret = (settings.API_KEY_HASH_SECRET or settings.SECRET_KEY).encode()
    return hmac.new(secret, b"customer-token:" + token.encode(), hashlib.sha256).hexdigest()


def conversation_start(*, assistant: Assistant, key: ApiKey, channel: str | None = None, external_id: str = "",
                       metadata: dict | None = None) -> tuple[Conversation, str | None]:
    """Start a conversation. A publishable-key caller gets a customer token (shown once) that
    every later call on this conversation must carry, and that opens no other one."""
    token = None if key.is_secret else "ct_" + secrets.token_urlsafe(32)
    conversation = Conversation.objects.unscoped().create(
        business_id=assistant.business_id, assistant=assistant,
        channel=channel or (Conversation.Channel.API if key.is_secret else Conversation.Channel.WIDGET),
        external_id=external_id, metadata=metadata or {}, customer_token_hash=_token_hash(token) if token else "",
    )
    event_emit(business_id=assistant.business_id, type="conversation.started", data={
        "conversation_id": str(conversation.pk), "assistant_id": str(assistant.pk), "channel": conversation.channel})
    return conversation, token


def conversation_for_caller(*, business: Business, conversation_id, key: ApiKey,
                            customer_token: str | None) -> Conversation:
    """The conversation if this caller may use it; otherwise 404 (never confirm it exists)."""
    conversation = (Conversation.objects.for_business(business).select_related("assistant")
                    .filter(pk=conversation_id).first())
    if conversation is None or not (key.is_secret or customer_token_matches(conversation, customer_token)):
        raise NotFoundError("conversation")
    if isinstance(business, Business):  # the caller's own business: answering needs it, no query
        conversation.assistant.business = business
    return conversation


def customer_token_matches(conversation: Conversation, customer_token: str | None) -> bool:
    """Whether ``customer_token`` is the one this conversation's publishable-key caller was given."""
    expected = conversation.customer_token_hash
    return bool(customer_token and expected and hmac.compare_digest(_token_hash(customer_token), expected))


def conversation_set_state(*, conversation: Conversation, state: str) -> Conversation:
    allowed = {
        Conversation.State.HANDOFF: {Conversation.State.BOT, Conversation.State.HANDOFF},
        Conversation.State.BOT: {Conversation.State.HANDOFF, Conversation.State.BOT},
        Conversation.State.CLOSED: {Conversation.State.BOT, Conversation.State.HANDOFF, Conversation.State.CLOSED},
    }[state]
    with transaction.atomic():
        scoped = Conversation.objects.for_business(conversation.business_id).filter(pk=conversation.pk)
        # Two steps so that exactly one caller sees the change (a row UPDATE re-checks its WHERE
        # after waiting for a concurrent one): the handoff's follow-ups happen once per handoff.
        now = timezone.now()
        # The first handoff is kept (analytics counts handed-off conversations once).
        first_handoff = ({"handed_off_at": Coalesce("handed_off_at", Value(now))}
                         if state == Conversation.State.HANDOFF else {})
        changed = scoped.filter(state__in=allowed - {state}).update(state=state, updated_at=now, **first_handoff)
        if not changed and not scoped.filter(state=state).update(updated_at=timezone.now()):
            raise ApplicationError("conversation_closed", "This conversation is closed; start a new one.",
                                   status=409)
        conversation.refresh_from_db()
        if changed and state == Conversation.State.HANDOFF:
            _handoff_emit(conversation)
            notice = _handoff_notice_add(conversation)
            signals.handoff_started.send(sender=Conversation, conversation=conversation, notice=notice)
    return conversation


def conversation_handoff(*, conversation: Conversation, reason: str) -> Conversation:
    """Hand the conversation to a person, keeping why in ``metadata.handoff_reason`` (the inbox
    shows it). A closed conversation stays closed (409)."""
    conversation.metadata = {**conversation.metadata, "handoff_reason": reason}
    conversation.save(update_fields=["metadata", "updated_at"])
    return conversation_set_state(conversation=conversation, state=Conversation.State.HANDOFF)


# The channels whose customer reads the conversation here (the widget polls, an API integration
# reads the messages). A messaging channel (WhatsApp) sends its customer its own notice.
HANDOFF_NOTIFY_CHANNELS = (Conversation.Channel.WIDGET, Conversation.Channel.API)


def handoff_notice(assistant: Assistant, *, now=None) -> str:
    """What the customer is told when a person takes over, with the next opening time when closed."""
    business = assistant.business
    now = now or timezone.now()
    opening = hours.next_opening(assistant.business_hours or {}, business.timezone, now,
                                 assistant.hours_exceptions or [])
    if opening is None:
        return f"I've asked someone from {business.name} to reply to you here."
    return (f"I've asked someone from {business.name} to reply to you here. We're closed right now, so they "
            f"will get back to you when we open ({hours.describe(opening, now)}).")


def _handoff_notice_add(conversation: Conversation) -> Message | None:
    """Once per handoff of a widget or API conversation: a system message saying who will reply
    (and when, if the business is closed now). None for the other channels."""
    if conversation.channel not in HANDOFF_NOTIFY_CHANNELS:
        return None
    assistant = Assistant.objects.for_business(conversation.business_id).select_related("business").get(
        pk=conversation.assistant_id)
    return Message.objects.unscoped().create(business_id=conversation.business_id, conversation=conversation,
                                             role=Message.Role.SYSTEM, content=handoff_notice(assistant))


def _handoff_emit(conversation: Conversation) -> None:
    last = (Message.objects.for_business(conversation.business_id)
            .filter(conversation=conversation, role=Message.Role.CUSTOMER).order_by("-created_at").first())
    event_emit(business_id=conversation.business_id, type="conversation.handoff", data={
        "conversation_id": str(conversation.pk), "assistant_id": str(conversation.assistant_id),
        "channel": conversation.channel, "last_customer_message": last.content if last else None})


def _message_emit(message: Message, *, listening: bool = True) -> None:
    event_emit(business_id=message.business_id, type="message.created", listening=listening, data={
        "conversation_id": str(message.conversation_id), "message_id": str(message.pk), "role": message.role,
        "content": message.content, "citations": message.citations})


# --------------------------------------------------------------------------- messages


@dataclass
class Sent:
    """What sending a customer message produced."""

    conversation: Conversation
    customer: Message
    answer: Message | None  # an existing answer (replay), or None
    replayed: bool
    needs_answer: bool
    quota_reserved: bool = False  # reserve_quota: the answer's message is reserved already
    quota: QuotaContext | None = None  # the period it was reserved in
    pending: Message | None = None  # the answer's pending row, written with the customer message
    had_messages: bool = True  # False: the conversation's first message (no history to read)
    listening: bool = True  # the business has an active webhook endpoint (read with the lock)
    has_catalog: bool = True  # the assistant has catalog items (read with the lock)


def message_send(*, conversation: Conversation, content: str, idempotency_key: str | None,
                 reserve_quota: bool = False) -> Sent:
    """Save the customer message (committed before anything slow). With an Idempotency-Key a
    retry finds the first message instead of adding a second one.

    ``reserve_quota``: a new message that the assistant will answer first reserves one message
    of the plan's allowance, in the same transaction, so a 402 ``quota_exceeded`` keeps nothing
    and a client's retry makes no duplicate (the API). Without it the message is kept even when
    the answer is refused (WhatsApp: a person answers it instead). With it, the answer's pending
    row is written in the same statement as the customer message (``Sent.pending``).

    One transaction, in this order: lock the conversation's row (reading with it whether any
    webhook endpoint listens and whether the assistant has catalog items; the caller's assistant
    and business objects are kept), write the message(s), touch the conversation, and last
    reserve the quota, so the business's usage row (shared by all its conversations) is locked
    only until the commit."""
    with transaction.atomic():
        # The row's current state under the lock, and two facts for later read in the same query;
        # the assistant and business objects the caller loaded are kept (no reload of three models).
        state = (Conversation.objects.for_business(conversation.business_id).select_for_update(of=("self",))
                 .filter(pk=conversation.pk)
                 .annotate(listening=webhooks_listening(OuterRef("business_id")),
                           has_catalog=Exists(CatalogItem.objects.unscoped().filter(
                               business_id=OuterRef("business_id"), assistant_id=OuterRef("assistant_id"))))
                 .values_list("state", "channel", "last_message_at", "external_id", "metadata", "listening",
                              "has_catalog").first())
        if state is None:
            raise NotFoundError("conversation")
        locked = conversation
        (locked.state, locked.channel, locked.last_message_at, locked.external_id, locked.metadata, listening,
         has_catalog) = state
        if idempotency_key:
            existing = (Message.objects.for_business(conversation.business_id)
                        .filter(conversation=locked, idempotency_key=idempotency_key).first())
            if existing is not None:
                if existing.role != Message.Role.CUSTOMER or existing.content != content:
                    raise ApplicationError("idempotency_key_reused", "This Idempotency-Key was used for a "
                                           "different message.", status=422)
                answer = Message.objects.for_business(conversation.business_id).filter(reply_to=existing).first()
                if answer is not None and answer.status == Message.Status.PENDING:
                    raise ApplicationError("answer_in_progress", "The answer to this message is still being "
                                           "generated; retry in a moment.", status=409,
                                           headers={"Retry-After": "2"})
                needs = locked.state == Conversation.State.BOT and (answer is None
                                                                     or answer.status == Message.Status.FAILED)
                return Sent(locked, existing, answer, replayed=True, needs_answer=needs, listening=listening,
                            has_catalog=has_catalog)
        if locked.state == Conversation.State.CLOSED:
            raise ApplicationError("conversation_closed", "This conversation is closed; start a new one.",
                                   status=409)
        wants_person = locked.channel in HANDOFF_NOTIFY_CHANNELS and asks_for_person(content)
        will_answer = locked.state == Conversation.State.BOT and not wants_person
        quota_reserved = reserve_quota and will_answer
        had_messages = locked.last_message_at is not None
        now = timezone.now()
        customer = Message(business_id=conversation.business_id, conversation=locked, role=Message.Role.CUSTOMER,
                           content=content, idempotency_key=idempotency_key or None)
        rows = [customer]
        pending = None
        if quota_reserved:
            pending = Message(business_id=conversation.business_id, conversation=locked,
                              role=Message.Role.ASSISTANT, status=Message.Status.PENDING, reply_to=customer)
            rows.append(pending)

        def create() -> None:
            Message.objects.unscoped().bulk_create(rows)  # one INSERT; created_at set in list order
            if pending is not None and pending.created_at <= customer.created_at:
                # The same microsecond: the answer must still sort after its question.
                pending.created_at = customer.created_at + timedelta(microseconds=1)
                Message.objects.unscoped().filter(pk=pending.pk).update(created_at=pending.created_at)

        if idempotency_key:
            try:
                with transaction.atomic():  # a savepoint: only a keyed insert can collide
                    create()
            except IntegrityError as exc:  # the same key raced in from another request
                raise ApplicationError("answer_in_progress", "This message is already being answered; retry.",
                                       status=409, headers={"Retry-After": "2"}) from exc
        else:
            create()
        Conversation.objects.for_business(conversation.business_id).filter(pk=locked.pk).update(
            last_message_at=now, updated_at=now)
        _message_emit(customer, listening=listening)
        if locked.state == Conversation.State.BOT and wants_person:
            # "Can I talk to a person?" is not a question for the model: a person takes over.
            locked = conversation_handoff(conversation=locked, reason="customer_request")
        # Raises 402 and rolls everything back; the reservation commits with the message.
        quota = message_quota_reserve(business_id=conversation.business_id) if quota_reserved else None
    return Sent(locked, customer, None, replayed=False, needs_answer=locked.state == Conversation.State.BOT,
                quota_reserved=quota_reserved, quota=quota, pending=pending, had_messages=had_messages,
                listening=listening, has_catalog=has_catalog)


def staff_message_send(*, conversation: Conversation, content: str) -> Message:
    """A person of the business writes to the customer; the assistant goes quiet (handoff)."""
    with transaction.atomic():
        locked = Conversation.objects.for_business(conversation.business_id).select_for_update().get(
            pk=conversation.pk)
        if locked.state == Conversation.State.CLOSED:
            raise ApplicationError("conversation_closed", "This conversation is closed.", status=409)
        now = timezone.now()
        Conversation.objects.for_business(conversation.business_id).filter(pk=locked.pk).update(
            state=Conversation.State.HANDOFF, last_message_at=now, updated_at=now,
            handed_off_at=Coalesce("handed_off_at", Value(now)))
        staff = Message.objects.unscoped().create(business_id=conversation.business_id, conversation=locked,
                                                  role=Message.Role.STAFF, content=content)
        if locked.state != Conversation.State.HANDOFF:
            _handoff_emit(locked)
        _message_emit(staff)
        signals.staff_message_sent.send(sender=Message, conversation=locked, message=staff)
        return staff


# --------------------------------------------------------------------------- answering


@dataclass
class Composed:
    """An answer made without a backend: from the typed catalog, the structured hours, or the
    handoff message when nothing in the knowledge is relevant enough (grounding ``none``)."""

    text: str
    grounding: str
    cited: list[PassageRef]


@dataclass
class Prepared:
    answer: Message
    request: ChatRequest
    started: float
    quota: QuotaContext | None = None  # the plan period the customer message was reserved in
    composed: Composed | None = None  # answered already: no backend call
    listening: bool = True  # the business has an active webhook endpoint
    share: Share | None = None  # the business's place at the model servers; None: from its plan


def answer_prepare(*, conversation: Conversation, customer: Message,
                   history: list[ChatMessage] | None = None, first_answer: bool = False,
                   sent: Sent | None = None) -> Prepared:
    """Reserve one message of the plan's allowance (402 when it is used up; the customer message
    stays saved) unless ``sent`` reserved it already (``message_send(reserve_quota=True)``),
    create (or reset a failed) pending answer, retrieve passages, build the prompt.
    ``history`` replaces the stored one (the OpenAI-compatible endpoint sends its own).
    ``first_answer``: the customer message was just saved by this caller (not a replay), so
    it has no answer yet and none needs locking."""
    started = time.perf_counter()
    assistant = conversation.assistant
    if sent is not None and sent.quota_reserved:
        quota = sent.quota
    else:
        quota = message_quota_reserve(business_id=conversation.business_id)
    try:
        if sent is not None and sent.pending is not None:
            answer = sent.pending  # written with the customer message
        elif first_answer:
            answer = Message.objects.unscoped().create(
                business_id=conversation.business_id, conversation=conversation, role=Message.Role.ASSISTANT,
                status=Message.Status.PENDING, reply_to=customer)
        else:
            answer = _answer_reset(conversation=conversation, customer=customer)
    except IntegrityError as exc:  # a retry with the same Idempotency-Key got there first
        message_quota_release(business_id=conversation.business_id)
        raise ApplicationError("answer_in_progress", "This message is already being answered; retry.",
                               status=409, headers={"Retry-After": "2"}) from exc
    if history is None:
        # A conversation's first message has nothing before it: no query.
        history = _history(conversation, customer) if sent is None or sent.had_messages else []
    request, composed = answer_compose(assistant=assistant, question=customer.content, history=history,
                                       has_catalog=sent.has_catalog if sent is not None else True)
    share = (fairness.share_for(business_id=conversation.business_id, quota=quota)
             if composed is None and settings.INFERENCE_FAIR_SHARING else None)
    return Prepared(answer=answer, request=request, started=started, quota=quota, composed=composed,
                    listening=sent.listening if sent is not None else True, share=share)


def message_answer_begin(*, conversation: Conversation, content: str,
                         idempotency_key: str | None) -> tuple[Sent, Prepared | None]:
    """The API's customer message: checked against the per-minute limits (429, nothing kept),
    saved with its quota reserved and its pending answer (``message_send(reserve_quota=True)``),
    then the answer prepared when one is due. One call, so the async view hands it to the
    database thread once."""
    fairness.message_limits_check(conversation=conversation, idempotency_key=idempotency_key)
    sent = message_send(conversation=conversation, content=content, idempotency_key=idempotency_key,
                        reserve_quota=True)
    if not sent.needs_answer:
        return sent, None
    return sent, answer_prepare(conversation=sent.conversation, customer=sent.customer,
                                first_answer=not sent.replayed, sent=sent)


def _history(conversation: Conversation, customer: Message) -> list[ChatMessage]:
    """The conversation before ``customer``: its last CHAT_HISTORY_MESSAGES messages, oldest first."""
    return [
        ChatMessage(role="user" if m.role == Message.Role.CUSTOMER else "assistant", content=m.content)
        for m in reversed(list(
            Message.objects.for_business(conversation.business_id)
            .filter(conversation=conversation, created_at__lt=customer.created_at, status=Message.Status.COMPLETE,
                    role__in=[Message.Role.CUSTOMER, Message.Role.ASSISTANT, Message.Role.STAFF])
            .exclude(content="").order_by("-created_at").only("role", "content")[: settings.CHAT_HISTORY_MESSAGES]))
    ]


def answer_compose(*, assistant: Assistant, question: str, history: list[ChatMessage],
                   vector: list[float] | object | None = EMBED, has_catalog: bool = True
                   ) -> tuple[ChatRequest, Composed | None]:
    """What answering ``question`` needs, read from the knowledge as it is in this transaction:
    the backend request (passages above the relevance floor, the prompt), or the answer already
    made from the hours, the catalog or the handoff. Database work only (and the query's
    embedding unless ``vector`` is given), so the knowledge tests can run it inside a
    transaction that is rolled back (assistants/regression/)."""
    business = assistant.business
    found = chunks_search(assistant=assistant, query=question, k=settings.CHAT_PASSAGES, vector=vector)
    fallback = _fallback_text(assistant, business, question)
    composed = _composed(assistant=assistant, business=business, question=question, found=found,
                         fallback=fallback, has_catalog=has_catalog)
    # The relevance floor: a passage far from the question in meaning is not quoted or shown
    # to the model (docs/answers.md); with none left the answer is the handoff.
    passages = [
        PassageRef(chunk_id=p.chunk_id, source_id=p.source_id, source_title=p.source_title, text=p.text,
                   similarity=p.similarity, ordinal=p.ordinal)
        for p in found if p.similarity is None or p.similarity >= settings.CHAT_RELEVANCE_FLOOR
    ]
    if composed is None and not passages:
        composed = Composed(fallback, Message.Grounding.NONE, [])
    max_answer = assistant.max_answer_tokens
    prompt = build_prompt(
        persona=assistant.persona, instructions=assistant.instructions,
        business_facts=_business_facts(business, assistant), passages=passages, history=history,
        question=question, language_hint=assistant.language,
        handoff_contact=assistant.handoff_message or business.handoff_email or business.handoff_phone,
        count_tokens=providers.embedder().count_tokens, max_context_tokens=settings.INFERENCE_MAX_CONTEXT_TOKENS,
        max_answer_tokens=max_answer, passage_order=settings.CHAT_PASSAGE_ORDER,
    )
    request = ChatRequest(messages=prompt.messages, max_tokens=max_answer, temperature=assistant.temperature,
                          model=assistant.model_override or None, passages=prompt.passages,
                          question=question, fallback_text=fallback)
    return request, composed


def _fallback_text(assistant: Assistant, business: Business, question: str) -> str:
    """The honest "I don't know" in the customer's language, with the business's handoff words."""
    if answer_language(question, assistant.language) == "zh":
        own = assistant.handoff_message if answer_language(assistant.handoff_message) == "zh" else ""
        return "抱歉，我没有这方面的信息。" + (own or "我已请团队的同事来回复您。")
    return "I'm sorry, I don't have that information. " + (assistant.handoff_message
                                                          or "I've asked the team to reply to you.")


def catalog_lookup(*, assistant: Assistant, question: str, found: list[Passage], language: str):
    """The catalog's answer to ``question`` (assistants/catalog/answers.py) or None: the lookup
    the chat flow adds to a question (bench/answers.py times it)."""
    items = list(CatalogItem.objects.for_business(assistant.business_id).filter(assistant=assistant)
                 .order_by("source_id", "ordinal", "id")[: settings.CATALOG_MAX_ITEMS])
    if not items:
        return None
    return catalog_answer(question, items=items, passages=found, language=language,
                          meaning_floor=settings.CATALOG_MEANING_FLOOR)


def _composed(*, assistant: Assistant, business: Business, question: str, found: list[Passage],
              fallback: str, has_catalog: bool = True) -> Composed | None:
    """The answer from structured data, when the question is about it: the opening hours, then
    the catalog. None: the passages answer (or the handoff)."""
    language = answer_language(question, assistant.language)
    text = hours.hours_answer(question, hours=assistant.business_hours or {},
                              exceptions=assistant.hours_exceptions or [], tz_name=business.timezone,
                              now=timezone.now(), language=language)
    if text:
        return Composed(text, Message.Grounding.HOURS, [])
    if not has_catalog:  # read with the conversation's lock: no items, no query for them
        return None
    result = catalog_lookup(assistant=assistant, question=question, found=found, language=language)
    if result is None:
        return None
    if result.grounding == Message.Grounding.NONE:  # the typed data cannot say: a person will
        return Composed(result.text, Message.Grounding.NONE, [])
    ids = [item.pk for item in result.items]
    chunks = (Chunk.objects.for_business(assistant.business_id).filter(catalog_item_id__in=ids)
              .select_related("source").only("id", "source_id", "source__title", "text", "catalog_item_id"))
    by_item = {chunk.catalog_item_id: chunk for chunk in chunks}
    cited = [PassageRef(chunk_id=str(c.pk), source_id=str(c.source_id), source_title=c.source.title, text=c.text)
             for c in (by_item.get(pk) for pk in ids) if c is not None]
    return Composed(result.text, Message.Grounding.CATALOG, cited)


def _answer_reset(*, conversation: Conversation, customer: Message) -> Message:
    """The pending answer to ``customer``: a failed one reset, or a new one (replays)."""
    with transaction.atomic():
        answer = (Message.objects.for_business(conversation.business_id).select_for_update()
                  .filter(reply_to=customer).first())
        if answer is None:
            return Message.objects.unscoped().create(
                business_id=conversation.business_id, conversation=conversation, role=Message.Role.ASSISTANT,
                status=Message.Status.PENDING, reply_to=customer)
        answer.status, answer.error, answer.content = Message.Status.PENDING, "", ""
        answer.save(update_fields=["status", "error", "content", "updated_at"])
        return answer


def _business_facts(business: Business, assistant: Assistant) -> str:
    facts = [f"Business: {business.name}", f"Time zone: {business.timezone}"]
    if assistant.business_hours:
        hours = "; ".join(f"{day} " + ", ".join(f"{a}-{b}" for a, b in ranges)
                          for day, ranges in assistant.business_hours.items())
        facts.append(f"Opening hours: {hours}")
    for entry in (assistant.hours_exceptions or [])[:20]:
        ranges = "closed" if entry.get("closed") else ", ".join(f"{a}-{b}" for a, b in entry.get("hours") or [])
        note = f" ({entry['note']})" if entry.get("note") else ""
        facts.append(f"Exception {entry.get('date')}{note}: {ranges}")
    if business.handoff_phone:
        facts.append(f"Phone: {business.handoff_phone}")
    return "\n".join(facts)


def answer_complete(*, answer: Message, text: str, result: ChatResult, started: float, grounding: str,
                    quota: QuotaContext | None = None, listening: bool = True) -> Message:
    """Save the answer. ``grounding`` none: the handoff answer (no citations); the conversation
    is handed to a person."""
    seen: set[str] = set()
    citations = []
    for ref in result.cited:
        if ref.chunk_id not in seen:
            seen.add(ref.chunk_id)
            citations.append({"source_id": ref.source_id, "source_title": ref.source_title,
                              "chunk_id": ref.chunk_id})
    if grounding == Message.Grounding.NONE:
        citations = []
    answer.content, answer.citations, answer.status = text, citations, Message.Status.COMPLETE
    answer.backend, answer.model, answer.error, answer.grounding = result.backend, result.model, "", grounding
    answer.tokens_in, answer.tokens_out = result.prompt_tokens, result.completion_tokens
    answer.latency_ms = int((time.perf_counter() - started) * 1000)
    answer.save(update_fields=["content", "citations", "status", "backend", "model", "error", "grounding",
                               "tokens_in", "tokens_out", "latency_ms", "updated_at"])
    usage_record_answer(business_id=answer.business_id, tokens_in=answer.tokens_in, tokens_out=answer.tokens_out,
                        ctx=quota)
    _message_emit(answer, listening=listening)
    signals.answer_completed.send(sender=Message, answer=answer)
    if grounding == Message.Grounding.NONE:
        _handoff_unanswered(answer)
    return answer


def _handoff_unanswered(answer: Message) -> None:
    """Nothing in the knowledge supports the answer (the honest "I don't know"): after saving it,
    bring in a person. WhatsApp does this itself, with its own notice."""
    conversation = Conversation.objects.for_business(answer.business_id).get(pk=answer.conversation_id)
    if conversation.channel not in HANDOFF_NOTIFY_CHANNELS or conversation.state != Conversation.State.BOT:
        return
    try:
        conversation_handoff(conversation=conversation, reason="no_answer")
    except ApplicationError as exc:  # closed meanwhile: nothing to hand over
        if exc.code != "conversation_closed":
            raise


def answer_fail(*, answer: Message, error: str, text: str = "") -> Message:
    """Save the failure; the reserved message goes back to the allowance (our outage, not usage)."""
    answer.status, answer.error, answer.content, answer.grounding = Message.Status.FAILED, error[:2000], text, ""
    answer.save(update_fields=["status", "error", "content", "grounding", "updated_at"])
    message_quota_release(business_id=answer.business_id)
    return answer


async def _generated(backend, request: ChatRequest, parts: list[str],
                     queue: asyncio.Queue) -> tuple[ChatResult | None, str]:
    """A model's answer through the grounding gate (inference/grounding.py): only sentences whose
    [n] markers and numbers check out are sent. An answer that is not grounded is replaced by
    a verbatim quote of the passages that answer the question, or else the handoff."""
    gate = SentenceGate(request.passages)
    result = None
    async for item in backend.stream(request):
        if isinstance(item, ChatDelta):
            passed = gate.feed(item.text.replace("\x00", ""))
            if passed:
                parts.append(passed)
                queue.put_nowait(ChatDelta(passed))
        else:
            result = item
    if result is None:
        return None, Message.Grounding.NONE
    checked = gate.finish()
    if checked.grounded:
        if checked.rest:
            parts.append(checked.rest)
            queue.put_nowait(ChatDelta(checked.rest))
        return replace(result, text="".join(parts), cited=checked.cited), Message.Grounding.PASSAGES
    logger.info("generated answer not grounded (%s); quoting the passages instead", checked.failed or "no [n]")
    quote = await ExtractiveChatBackend().complete(request)
    parts.append(quote.text)
    queue.put_nowait(ChatDelta(quote.text))
    grounding = Message.Grounding.NONE if quote.abstained else Message.Grounding.PASSAGES
    return replace(result, text=quote.text, cited=quote.cited), grounding


async def answer_generate(request: ChatRequest, *, share: Share | None = None) -> tuple[str, str]:
    """The whole answer to a composed request and its grounding, through the same backend and
    grounding gate as a customer's answer, without saving anything (the knowledge tests).
    ``share``: the business's place at the model servers (fair sharing), as a customer's answer
    takes it: a test run never holds more than the plan's answers in flight."""
    backend = providers.chat_backend()
    if isinstance(backend, ExtractiveChatBackend):
        result = await backend.complete(request)
        return result.text, Message.Grounding.NONE if result.abstained else Message.Grounding.PASSAGES
    parts: list[str] = []
    if share is not None and settings.INFERENCE_FAIR_SHARING:
        async with providers.admission().admitted(share, timeout=settings.INFERENCE_QUEUE_TIMEOUT):
            result, grounding = await _generated(backend, replace(request, priority=share.priority), parts,
                                                 asyncio.Queue())
    else:
        result, grounding = await _generated(backend, request, parts, asyncio.Queue())
    if result is None:
        raise InferenceError("The model server ended the answer without a result.", code="inference_bad_response")
    return result.text, grounding


@dataclass
class Done:
    answer: Message
    finish_reason: str = "stop"


@dataclass
class Failed:
    answer: Message
    error: InferenceError


ABANDONED = "abandoned: The customer left while the answer waited for its turn at the model servers."


async def answer_events(prepared: Prepared) -> AsyncIterator[ChatDelta | fairness.Queued | Done | Failed]:
    """Deltas as the backend produces them, then Done or Failed; ``Queued`` while the answer waits
    for its turn at the model servers (inference/admission.py). A started generation keeps
    running and saves the answer even if the consumer stops listening (client disconnect); one
    still waiting for its turn is given up (its place freed) and the answer fails as abandoned."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    waiting = {"queued": False, "abandoned": False}

    def queued(position: int) -> None:
        waiting["queued"] = True
        queue.put_nowait(fairness.Queued(position))

    async def generate() -> None:
        parts: list[str] = []
        try:
            if prepared.composed is not None:
                composed = prepared.composed
                queue.put_nowait(ChatDelta(composed.text))
                result = ChatResult(text=composed.text, finish_reason="stop", prompt_tokens=0, completion_tokens=0,
                                    backend="composed", model="", cited=composed.cited)
                saved = await db(answer_complete)(answer=prepared.answer, text=composed.text, result=result,
                                                  started=prepared.started, grounding=composed.grounding,
                                                  quota=prepared.quota, listening=prepared.listening)
                queue.put_nowait(Done(saved))
                return
            backend = providers.chat_backend()  # inside: a misconfiguration must also end the answer
            result, grounding = None, Message.Grounding.PASSAGES
            if isinstance(backend, ExtractiveChatBackend):
                async for item in backend.stream(prepared.request):
                    if isinstance(item, ChatDelta):
                        parts.append(item.text)
                        queue.put_nowait(item)
                    else:
                        result = item
                if result is not None and result.abstained:
                    grounding = Message.Grounding.NONE
            elif not settings.INFERENCE_FAIR_SHARING:
                result, grounding = await _generated(backend, prepared.request, parts, queue)
            else:
                share = prepared.share or await db(fairness.share_for)(business_id=prepared.answer.business_id,
                                                                       quota=prepared.quota)
                async with providers.admission().admitted(share, timeout=settings.INFERENCE_QUEUE_TIMEOUT,
                                                          on_queued=queued):
                    waiting["queued"] = False
                    request = replace(prepared.request, priority=share.priority)
                    result, grounding = await _generated(backend, request, parts, queue)
            if result is None:
                raise InferenceError("The model server ended the answer without a result.",
                                     code="inference_bad_response")
            saved = await db(answer_complete)(answer=prepared.answer, text="".join(parts), result=result,
                                              started=prepared.started, grounding=grounding, quota=prepared.quota,
                                              listening=prepared.listening)
            queue.put_nowait(Done(saved, result.finish_reason))
        except InferenceError as exc:
            saved = await db(answer_fail)(answer=prepared.answer, error=f"{exc.code}: {exc.message}",
                                          text="".join(parts))
            queue.put_nowait(Failed(saved, exc))
        except asyncio.CancelledError:
            if not waiting["abandoned"]:
                raise
            # Nobody listens any more: the answer is failed (its reserved message goes back), the
            # customer message stays; a retry with the same Idempotency-Key answers it.
            await db(answer_fail)(answer=prepared.answer, error=ABANDONED)
        except Exception as exc:  # never leave an answer pending
            logger.exception("answer generation crashed")
            saved = await db(answer_fail)(answer=prepared.answer, error=f"internal_error: {exc}")
            queue.put_nowait(Failed(saved, InferenceError("Generation failed.", code="internal_error")))

    task = asyncio.create_task(generate())
    _background.add(task)
    task.add_done_callback(_background.discard)
    held: Any = None
    try:
        while True:
            item, held = held or await queue.get(), None
            if isinstance(item, ChatDelta):
                # Under load several deltas wait here: send them as one, so the cost of an SSE
                # event (Django's streaming response, the server's send) is paid once, not per token.
                parts = [item.text]
                while held is None and not queue.empty():
                    following = queue.get_nowait()
                    if isinstance(following, ChatDelta):
                        parts.append(following.text)
                    else:
                        held = following
                item = ChatDelta("".join(parts))
            yield item
            if isinstance(item, Done | Failed):
                return
    finally:
        # The consumer is gone (client disconnect: Django cancels the view) while the answer
        # still waits for its turn: give the place up rather than generate for nobody.
        if waiting["queued"] and not task.done():
            waiting["abandoned"] = True
            task.cancel()


async def _answer_consume(prepared: Prepared) -> Done | Failed:
    async for item in answer_events(prepared):
        if isinstance(item, Done | Failed):
            return item
    raise RuntimeError("the answer ended without a result")


def answer_run(prepared: Prepared) -> Done | Failed:
    """Run an answer to its end from sync code (a channel's Celery task, a dashboard page)."""
    return async_to_sync(_answer_consume)(prepared)

