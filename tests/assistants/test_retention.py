"""Retention (assistants/privacy/retention.py): what is older than its window goes, what is newer
stays, and a second run finds nothing to do."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from assistants.models import Conversation, Message, WhatsAppDelivery
from assistants.privacy.retention import retention_set, retention_sweep
from assistants.privacy.tasks import retention_sweep_task
from billing.models import StripeEvent, UsagePeriod
from businesses.models import AuditEvent
from tests.conftest import make_tenant

pytestmark = pytest.mark.django_db


def _conversation(tenant, *, days_ago: float, messages: int = 3) -> Conversation:
    at = timezone.now() - timedelta(days=days_ago)
    conversation = Conversation.objects.unscoped().create(
        business=tenant.business, assistant=tenant.assistant, external_id=f"c-{days_ago}", last_message_at=at)
    for n in range(messages):
        Message.objects.unscoped().create(business=tenant.business, conversation=conversation,
                                          role="customer" if n % 2 == 0 else "assistant", content=f"hello {n}")
    return conversation


def test_conversations_past_the_window_go_newer_ones_stay_and_a_second_run_is_a_no_op():
    tenant, other = make_tenant(), make_tenant("Rival Noodles")
    retention_set(business=tenant.business, days=30, actor=None)
    old, fresh = _conversation(tenant, days_ago=31), _conversation(tenant, days_ago=29)
    never_talked = Conversation.objects.unscoped().create(business=tenant.business, assistant=tenant.assistant)
    Conversation.objects.unscoped().filter(pk=never_talked.pk).update(
        created_at=timezone.now() - timedelta(days=40))
    others_old = _conversation(other, days_ago=200)  # the default window (365 days) keeps it
    usage = list(UsagePeriod.objects.unscoped().values_list("messages_used", flat=True))

    first = retention_sweep(batch=20)
    assert (first.conversations, first.messages) == (2, 3)
    remaining = set(Conversation.objects.unscoped().values_list("pk", flat=True))
    assert old.pk not in remaining and never_talked.pk not in remaining
    assert {fresh.pk, others_old.pk} <= remaining
    assert Message.objects.for_business(tenant.business).filter(conversation=fresh).count() == 3
    assert list(UsagePeriod.objects.unscoped().values_list("messages_used", flat=True)) == usage
    assert AuditEvent.objects.for_business(tenant.business).filter(action="retention.swept").count() == 1

    second = retention_sweep(batch=20)
    assert (second.conversations, second.messages, second.raw_payloads) == (0, 0, 0)
    assert AuditEvent.objects.for_business(tenant.business).filter(action="retention.swept").count() == 1


def test_many_expired_conversations_go_in_several_short_batches():
    tenant = make_tenant()
    retention_set(business=tenant.business, days=10, actor=None)
    for n in range(7):
        _conversation(tenant, days_ago=11 + n, messages=2)
    result = retention_sweep(batch=20)  # two conversations per batch
    assert result.conversations == 7 and result.batches == 4
    assert not Conversation.objects.for_business(tenant.business).exists()


def test_raw_payloads_go_after_their_short_window(settings):
    settings.PRIVACY_RAW_PAYLOAD_DAYS = 30
    old, new = WhatsAppDelivery.objects.create(payload={"old": True}), WhatsAppDelivery.objects.create(payload={})
    WhatsAppDelivery.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=31))
    now = timezone.now()
    stale = StripeEvent.objects.create(stripe_event_id="evt_old", type="x", payload={}, stripe_created_at=now,
                                       processed_at=now)
    unprocessed = StripeEvent.objects.create(stripe_event_id="evt_waiting", type="x", payload={},
                                             stripe_created_at=now)
    StripeEvent.objects.filter(pk__in=[stale.pk, unprocessed.pk]).update(received_at=now - timedelta(days=31))
    result = retention_sweep_task.apply().get()
    assert (result["raw_payloads"], result["stripe_events"]) == (1, 1)
    assert list(WhatsAppDelivery.objects.values_list("pk", flat=True)) == [new.pk]
    assert list(StripeEvent.objects.values_list("stripe_event_id", flat=True)) == ["evt_waiting"]
    assert retention_sweep_task.apply().get()["raw_payloads"] == 0
