"""Deleting a business for good, once its grace period is over: its Stripe subscription is
cancelled, then every row that carries its ``business_id`` — in every app, found through the
model registry, so tables added later are covered — is deleted in short batches, then the
business itself, and the people whose only business it was.

The owner asks (businesses.services.business_deletion_request); celery beat runs
``business_purge_due_task`` hourly.
"""

from __future__ import annotations

import graphlib
import logging
from collections import Counter

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.utils import timezone

from assistants.models import WhatsAppConnection, WhatsAppDelivery, WhatsAppInbound
from billing.services import subscription_cancel_now
from businesses.authentication import key_cache
from businesses.models import ApiKey, Business, Membership

logger = logging.getLogger(__name__)


def tenant_models() -> list[type[models.Model]]:
    """Every model with a ``business`` relation, children before the rows they point at (so each
    batch deletes rows nothing else of the tenant still references)."""
    owned = [m for m in apps.get_models()
             if m is not Business and any(f.name == "business" and f.is_relation and f.related_model is Business
                                          for f in m._meta.concrete_fields)]
    graph = graphlib.TopologicalSorter()
    for model in owned:
        # A model comes after every tenant model that points at it: the parents are deleted last.
        graph.add(model)
        for field in model._meta.concrete_fields:
            target = field.related_model if field.is_relation else None
            if target in owned and target is not model:
                graph.add(target, model)
    return list(graph.static_order())


def _delete_in_batches(queryset, batch: int, counts: Counter) -> None:
    while True:
        with transaction.atomic():
            ids = list(queryset.values_list("pk", flat=True)[:batch])
            if not ids:
                return
            _, per_model = queryset.model._base_manager.filter(pk__in=ids).delete()
        counts.update(per_model)


def business_purge(*, business_id, now=None) -> dict[str, int] | None:
    """Remove the business if its deletion is due; None if it is not (or no longer exists).
    Idempotent: a purge cut short runs again from where it stopped."""
    now = now or timezone.now()
    business = Business.objects.filter(pk=business_id, deletion_scheduled_for__lte=now).first()
    if business is None:
        return None
    batch = settings.PRIVACY_SWEEP_BATCH
    # Stripe first and outside any transaction: if it fails, nothing is deleted and the task retries.
    cancelled = subscription_cancel_now(business_id=business.pk)
    for key_id in ApiKey.objects.for_business(business.pk).values_list("pk", flat=True):
        key_cache.forget(key_id)
    members = list(Membership.objects.filter(business=business).values_list("user_id", flat=True))
    counts: Counter = Counter()
    # Raw WhatsApp deliveries are not tenant rows: those of the tenant's numbers go first.
    inbound_deliveries = WhatsAppInbound.objects.for_business(business.pk).exclude(delivery=None).values("delivery_id")
    _delete_in_batches(WhatsAppDelivery.objects.filter(pk__in=inbound_deliveries), batch, counts)
    for phone_number_id in WhatsAppConnection.objects.for_business(business.pk).values_list("phone_number_id",
                                                                                              flat=True):
        _delete_in_batches(WhatsAppDelivery.objects.filter(payload__contains={"entry": [{"changes": [{"value": {
            "metadata": {"phone_number_id": phone_number_id}}}]}]}), batch, counts)
    for model in tenant_models():
        _delete_in_batches(model._base_manager.filter(business_id=business.pk), batch, counts)
    with transaction.atomic():
        counts.update(Business.objects.filter(pk=business.pk).delete()[1])
    # People who belonged to no other business: their account went with it.
    User = get_user_model()
    alone = (User.objects.filter(pk__in=members, is_staff=False, is_superuser=False)
             .exclude(memberships__isnull=False))
    counts.update(alone.delete()[1])
    result = {label: n for label, n in sorted(counts.items()) if n}
    logger.info("business %s deleted (Stripe subscription cancelled: %s): %s", business_id, cancelled or "none",
                result)
    return result


def business_purge_due(*, now=None) -> list[str]:
    """The ids of the businesses whose grace period is over."""
    now = now or timezone.now()
    return [str(pk) for pk in Business.objects.filter(deletion_scheduled_for__lte=now).values_list("pk", flat=True)]
