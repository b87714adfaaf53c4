"""Retention: conversations go ``retention_days`` after their last message (per business, bounded
by its plan), raw channel payloads after PRIVACY_RAW_PAYLOAD_DAYS.

The sweep (celery beat, hourly) deletes in batches of PRIVACY_SWEEP_BATCH rows, each batch its
own short transaction through the same erasure as a customer's request, so a large backlog never
holds a long lock and running it again finds nothing to do.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from assistants.models import Conversation, WhatsAppDelivery
from assistants.privacy.services import erase_batch
from billing.models import StripeEvent
from billing.selectors import subscription_for
from businesses.audit import Actor, audit_record
from businesses.models import Business
from config.errors import ApplicationError

logger = logging.getLogger(__name__)


def retention_days_max(*, business_id) -> int:
    """The longest retention the business's plan allows."""
    plan = subscription_for(business_id=business_id).plan
    return settings.PRIVACY_RETENTION_DAYS_MAX.get(plan.code, settings.PRIVACY_RETENTION_DAYS_MAX_DEFAULT)


def retention_days_for(business: Business) -> int:
    """The days in force: the business's choice (or the default), never beyond the plan's bound
    (a business that moves to a smaller plan keeps less)."""
    chosen = business.retention_days or settings.PRIVACY_RETENTION_DAYS_DEFAULT
    return min(chosen, retention_days_max(business_id=business.pk))


def retention_set(*, business: Business, days: int | None, actor: Actor | None) -> Business:
    """Choose how long conversations are kept (None: the default)."""
    if days is not None:
        bound = retention_days_max(business_id=business.pk)
        if not 1 <= days <= bound:
            raise ApplicationError("validation_error", f"retention_days must be between 1 and {bound} on this plan.",
                                   details={"fields": {"retention_days": [f"Between 1 and {bound}."]}})
    with transaction.atomic():
        Business.objects.filter(pk=business.pk).update(retention_days=days, updated_at=timezone.now())
        audit_record(business_id=business.pk, actor=actor, action="business.retention_changed",
                     target_type="business", target_id=business.pk, details={"retention_days": days})
    business.retention_days = days
    return business


@dataclass
class SweepResult:
    conversations: int = 0
    messages: int = 0
    raw_payloads: int = 0
    stripe_events: int = 0
    batches: int = 0


def _expired_conversations(business_id, cutoff: datetime, limit: int) -> list:
    return list(Conversation.objects.for_business(business_id)
                .annotate(last=Coalesce("last_message_at", "created_at"))
                .filter(last__lt=cutoff).order_by("last").values_list("pk", flat=True)[:limit])


def _batched_delete(queryset, batch: int) -> int:
    """Delete ``queryset``'s rows ``batch`` at a time, each batch in its own transaction."""
    total = 0
    while True:
        with transaction.atomic():
            ids = list(queryset.values_list("pk", flat=True)[:batch])
            if not ids:
                return total
            total += queryset.model._base_manager.filter(pk__in=ids).delete()[0]


def retention_sweep(*, now: datetime | None = None, batch: int | None = None) -> SweepResult:
    """Delete what is past its retention, in every business. Idempotent."""
    now = now or timezone.now()
    batch = batch or settings.PRIVACY_SWEEP_BATCH
    result = SweepResult()
    # Conversations erased per transaction: a conversation takes its messages with it, so fewer
    # of them than rows per batch keep each transaction about ``batch`` rows.
    per_batch = max(1, batch // 10)
    for business in Business.objects.all().iterator():
        cutoff = now - timedelta(days=retention_days_for(business))
        counts: Counter = Counter()
        while True:
            ids = _expired_conversations(business.pk, cutoff, per_batch)
            if not ids:
                break
            counts += erase_batch(business_id=business.pk, conversation_ids=ids)
            result.batches += 1
        if counts:
            result.conversations += counts["conversations"]
            result.messages += counts["messages"]
            audit_record(business_id=business.pk, actor=None, action="retention.swept", target_type="business",
                         target_id=business.pk, details={"deleted": dict(counts), "before": cutoff.isoformat()})
    raw_cutoff = now - timedelta(days=settings.PRIVACY_RAW_PAYLOAD_DAYS)
    result.raw_payloads = _batched_delete(WhatsAppDelivery.objects.filter(received_at__lt=raw_cutoff), batch)
    # Stripe redelivers for 3 days at most: an event older than the window cannot come back, so
    # its id is no longer needed to recognise it.
    result.stripe_events = _batched_delete(
        StripeEvent.objects.filter(Q(received_at__lt=raw_cutoff) & ~Q(processed_at=None)), batch)
    if result.conversations or result.raw_payloads:
        logger.info("retention: %s", result)
    return result
