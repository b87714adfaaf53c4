"""Erasing a customer's data: a conversation, or every conversation of one customer.

Erasure is a hard delete of everything that holds what the customer said or who they are: the
conversation and its messages (with their citations and ratings), the questions the unanswered
list kept from them (and the topic counts they added to), the knowledge tests whose question is
one they asked (an answered topic's example, a question a staff reply answered; a test the owner
or staff wrote in their own words stays), handoff emails, the WhatsApp messages as received and
sent, the raw WhatsApp deliveries they came in, the outgoing webhook deliveries that carried them,
and the rate-limit counters keyed by them. What stays is anonymous: the billing counters
(UsagePeriod), which never held any of it.

The API (``DELETE /api/v1/conversations/{id}``, ``/customers/{external_id}``), the widget's
"delete my data" and the same words on WhatsApp all come here.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Greatest

from assistants.chat.fairness import customer_identity
from assistants.models import (
    Conversation,
    KnowledgeTest,
    KnowledgeTestRun,
    Message,
    SourceReview,
    UnansweredQuestion,
    UnansweredTopic,
    WhatsAppConnection,
    WhatsAppDelivery,
    WhatsAppInbound,
    WhatsAppOutbound,
)
from assistants.privacy.selectors import customer_conversations, customer_ref
from businesses.api.ratelimit import identities_forget
from businesses.audit import Actor, audit_record
from businesses.models import WebhookDelivery

logger = logging.getLogger(__name__)

# Conversations erased per transaction: each batch commits on its own, so no lock is held for
# long (bench/erase.py measures the longest).
ERASE_BATCH = 50
# What the answer counts, in this order.
COUNT_KEYS = ("conversations", "messages", "unanswered_questions", "knowledge_tests", "handoff_emails",
              "whatsapp_messages", "raw_payloads", "webhook_deliveries", "rate_limit_entries")
_MODEL_KEYS = {
    "assistants.Conversation": "conversations",
    "assistants.Message": "messages",
    "assistants.UnansweredQuestion": "unanswered_questions",
    "assistants.KnowledgeTest": "knowledge_tests",
    "assistants.HandoffEmail": "handoff_emails",
    "assistants.WhatsAppInbound": "whatsapp_messages",
    "assistants.WhatsAppOutbound": "whatsapp_messages",
    "assistants.WhatsAppDelivery": "raw_payloads",
    "businesses.WebhookDelivery": "webhook_deliveries",
}


def _add(counts: Counter, per_model: dict) -> None:
    for label, n in per_model.items():
        key = _MODEL_KEYS.get(label)
        if key:
            counts[key] += n


def _status_deliveries(wa_message_ids: list[str]) -> Q | None:
    """Raw deliveries that are status callbacks about these sent messages (they name the
    customer's number): JSON containment, so the whole payload is never parsed in Python."""
    wanted = None
    for wa_id in wa_message_ids:
        one = Q(payload__contains={"entry": [{"changes": [{"value": {"statuses": [{"id": wa_id}]}}]}]})
        wanted = one if wanted is None else wanted | one
    return wanted


def _topics_uncount(business_id, questions) -> list:
    """The topics these questions were filed under count them no more; an open topic left with
    no question goes (its centroid was made of them)."""
    per_topic = list(questions.exclude(topic=None).values("topic_id").annotate(n=Count("id")).order_by())
    for row in per_topic:
        UnansweredTopic.objects.for_business(business_id).filter(pk=row["topic_id"]).update(
            count=Greatest(F("count") - row["n"], 0))
    return [row["topic_id"] for row in per_topic]


def _tests_forget(business_id, conversation_ids: list, counts: Counter) -> None:
    """Delete the knowledge tests whose question a customer asked in these conversations, and
    blank that question where a past run, a held version or an outgoing webhook delivery (the
    ``source.needs_review`` event) repeats it."""
    tests = KnowledgeTest.objects.for_business(business_id).filter(source_message__conversation_id__in=conversation_ids)
    test_ids = [str(pk) for pk in tests.values_list("pk", flat=True)]
    if not test_ids:
        return
    _, per_model = tests.delete()
    _add(counts, per_model)
    for model, field in ((KnowledgeTestRun, "results"), (SourceReview, "failures")):
        listing = Q()
        for test_id in test_ids:
            listing |= Q(**{f"{field}__contains": [{"test_id": test_id}]})
        for row in model.objects.for_business(business_id).filter(listing).only("pk", field):
            entries = [{**entry, "question": ""} if entry.get("test_id") in test_ids else entry
                       for entry in getattr(row, field)]
            model.objects.for_business(business_id).filter(pk=row.pk).update(**{field: entries})
    carried = Q()
    for test_id in test_ids:
        carried |= Q(payload__data__failing_tests__contains=[{"test_id": test_id}])
    _, per_model = WebhookDelivery.objects.for_business(business_id).filter(carried).delete()
    _add(counts, per_model)


def erase_batch(*, business_id, conversation_ids: list, extra_inbound: Q | None = None) -> Counter:
    counts: Counter = Counter()
    with transaction.atomic():
        # Lock the conversations first: a message arriving for one of them waits, then finds it gone.
        ids = list(Conversation.objects.for_business(business_id).select_for_update()
                   .filter(pk__in=conversation_ids).values_list("pk", flat=True))
        questions = UnansweredQuestion.objects.for_business(business_id).filter(conversation_id__in=ids)
        touched_topics = _topics_uncount(business_id, questions)

        inbound_filter = Q(conversation_id__in=ids)
        if extra_inbound is not None:
            inbound_filter |= extra_inbound
        inbound = WhatsAppInbound.objects.for_business(business_id).filter(inbound_filter)
        delivery_ids = set(inbound.exclude(delivery=None).values_list("delivery_id", flat=True))
        outbound = WhatsAppOutbound.objects.for_business(business_id).filter(
            Q(conversation_id__in=ids) | Q(inbound__in=inbound)
            | Q(message__in=Message.objects.for_business(business_id).filter(conversation_id__in=ids)))
        sent_ids = [wa_id for wa_id in outbound.exclude(wa_message_id=None).values_list("wa_message_id", flat=True)]
        _, per_model = outbound.delete()
        _add(counts, per_model)
        _, per_model = inbound.delete()
        _add(counts, per_model)
        # Raw deliveries are not tenant rows (Meta's POST may name a number nobody connected);
        # these are the ones this tenant's rows came from or that report on its sent messages.
        raw = Q(pk__in=delivery_ids)
        for start in range(0, len(sent_ids), 100):
            statuses = _status_deliveries(sent_ids[start:start + 100])
            raw |= statuses
        if delivery_ids or sent_ids:
            _, per_model = WhatsAppDelivery.objects.filter(raw).delete()
            _add(counts, per_model)

        str_ids = [str(pk) for pk in ids]
        if str_ids:
            _, per_model = (WebhookDelivery.objects.for_business(business_id)
                            .filter(payload__data__conversation_id__in=str_ids).delete())
            _add(counts, per_model)
        _tests_forget(business_id, ids, counts)
        # The conversation takes its messages, unanswered questions and handoff emails with it.
        _, per_model = Conversation.objects.for_business(business_id).filter(pk__in=ids).delete()
        _add(counts, per_model)
        if touched_topics:
            (UnansweredTopic.objects.for_business(business_id)
             .filter(pk__in=touched_topics, status=UnansweredTopic.Status.OPEN)
             .exclude(questions__isnull=False).delete())
    return counts


def _erase(*, business_id, conversation_ids: Iterable, identities: set[str],
           extra_inbound: Q | None = None) -> dict[str, int]:
    ids = list(conversation_ids)
    counts: Counter = Counter()
    for start in range(0, max(len(ids), 1), ERASE_BATCH):
        counts += erase_batch(business_id=business_id, conversation_ids=ids[start:start + ERASE_BATCH],
                               extra_inbound=extra_inbound if start == 0 else None)
    customers = {customer_identity(business_id=business_id, external_id=i) for i in identities}  # message limits
    counts["rate_limit_entries"] += identities_forget(identities | customers | {str(pk) for pk in ids})
    return {key: counts.get(key, 0) for key in COUNT_KEYS}


def conversation_erase(*, conversation: Conversation, actor: Actor | None) -> dict[str, int]:
    """Hard-delete one conversation and everything that holds it; the counts of what went."""
    business_id = conversation.business_id
    counts = _erase(business_id=business_id, conversation_ids=[conversation.pk], identities=set())
    audit_record(business_id=business_id, actor=actor, action="conversation.erased", target_type="conversation",
                 target_id=conversation.pk, details={"deleted": counts})
    return counts


def customer_erase(*, business_id, external_id: str, actor: Actor | None) -> dict[str, int]:
    """Hard-delete every conversation of one customer of this business (and, on WhatsApp, every
    message from their number, even one that never reached a conversation)."""
    ids = list(customer_conversations(business_id=business_id, external_id=external_id)
               .values_list("pk", flat=True))
    digits = "".join(ch for ch in external_id if ch.isdigit())
    numbers = {n for n in (external_id, digits) if n}
    connections = WhatsAppConnection.objects.for_business(business_id)
    extra_inbound = Q(sender__in=numbers, connection__in=connections) if numbers else None
    counts = _erase(business_id=business_id, conversation_ids=ids, identities=numbers, extra_inbound=extra_inbound)
    audit_record(business_id=business_id, actor=actor, action="customer.erased", target_type="customer",
                 target_id=customer_ref(business_id=business_id, external_id=external_id),
                 details={"deleted": counts})
    return counts


def export_audit(*, business_id, actor: Actor | None, conversation: Conversation | None = None,
                 external_id: str | None = None, conversations: int = 1) -> None:
    """Exports are logged too: a customer's data left the system, and who took it."""
    if conversation is not None:
        audit_record(business_id=business_id, actor=actor, action="conversation.exported",
                     target_type="conversation", target_id=conversation.pk)
    else:
        audit_record(business_id=business_id, actor=actor, action="customer.exported", target_type="customer",
                     target_id=customer_ref(business_id=business_id, external_id=external_id or ""),
                     details={"conversations": conversations})
