"""Overage reported to Stripe Billing Meters once per message, however many tries it takes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing import services
from billing.models import MeterReport, Plan, Subscription, UsagePeriod
from billing.selectors import subscription_for
from billing.tasks import usage_report_task


@pytest.fixture
def starter_business(tenant):
    """A Starter business whose allowance is 2 messages, with a Stripe customer."""
    Plan.objects.filter(code="starter").update(messages_per_month=2)
    subscription_for(business=tenant.business)
    start = timezone.now() - timedelta(days=2)
    Subscription.objects.for_business(tenant.business).update(
        plan=Plan.objects.get(code="starter"), status="active", stripe_customer_id="cus_dragon",
        current_period_start=start, current_period_end=start + timedelta(days=30))
    return tenant


def _reserve(tenant, n: int) -> None:
    for _ in range(n):
        services.message_quota_reserve(business_id=tenant.business.pk)


def _billed(stripe_on) -> int:
    """What Stripe would bill: one value per distinct identifier."""
    return sum(int(event["payload"]["value"]) for event in stripe_on.meter_events.values())


def test_overage_is_reported_with_the_customer_and_an_identifier(starter_business, stripe_on, settings):
    settings.STRIPE_METER_EVENT_NAME = "frontdesk_messages"
    _reserve(starter_business, 5)
    assert usage_report_task() == {"rows": 1, "reported": 3, "failed": 0}
    [call] = stripe_on.calls("/v1/billing/meter_events")
    usage = UsagePeriod.objects.for_business(starter_business.business).get()
    assert call.form["event_name"] == "frontdesk_messages"
    assert call.form["payload[stripe_customer_id]"] == "cus_dragon"
    assert call.form["payload[value]"] == "3"
    assert call.form["identifier"].startswith(f"{starter_business.business.pk}:")
    assert call.headers["Idempotency-Key"] == f"meter-{call.form['identifier']}"
    assert usage.period_start.timestamp() <= int(call.form["timestamp"]) < usage.period_end.timestamp()
    assert usage.overage_reported == 3
    report = MeterReport.objects.for_business(starter_business.business).get()
    assert (report.value, report.sent_at is not None) == (3, True)

    assert usage_report_task()["reported"] == 0  # nothing new: nothing sent
    assert len(stripe_on.calls("/v1/billing/meter_events")) == 1
    _reserve(starter_business, 2)
    assert usage_report_task()["reported"] == 2
    assert _billed(stripe_on) == 5


@pytest.mark.parametrize("failure", ["after", "before"])
def test_a_report_retried_after_a_stripe_500_is_billed_once(starter_business, stripe_on, failure):
    """"after": Stripe recorded the event but the answer was lost; "before": it never got in."""
    _reserve(starter_business, 4)  # 2 over
    stripe_on.meter_failures = [failure]
    assert usage_report_task() == {"rows": 1, "reported": 0, "failed": 1}
    pending = MeterReport.objects.for_business(starter_business.business).get()
    assert (pending.value, pending.sent_at, pending.attempts) == (2, None, 1)
    assert "hiccup" in pending.last_error

    _reserve(starter_business, 3)  # more usage before the retry: 5 over in all
    assert usage_report_task() == {"rows": 1, "reported": 5, "failed": 0}
    calls = stripe_on.calls("/v1/billing/meter_events")
    identifiers = [c.form["identifier"] for c in calls]
    assert identifiers[0] == identifiers[1] == pending.identifier  # the retry resent the same report
    assert [c.form["payload[value]"] for c in calls] == ["2", "2", "3"]
    assert len(set(identifiers)) == 2
    assert _billed(stripe_on) == 5
    assert UsagePeriod.objects.for_business(starter_business.business).get().overage_reported == 5


def test_nothing_is_reported_within_the_allowance_or_on_free(starter_business, other_tenant, stripe_on):
    _reserve(starter_business, 2)
    Plan.objects.filter(code="free").update(messages_per_month=3)
    _reserve(other_tenant, 3)
    assert usage_report_task()["reported"] == 0
    assert not stripe_on.calls("/v1/billing/meter_events")


def test_without_stripe_reporting_waits(starter_business, settings):
    settings.STRIPE_SECRET_KEY = ""
    _reserve(starter_business, 5)
    assert usage_report_task() == {"rows": 0, "reported": 0, "failed": 0}
    assert not MeterReport.objects.for_business(starter_business.business).exists()


def test_each_business_is_reported_to_its_own_customer(starter_business, other_tenant, stripe_on):
    subscription_for(business=other_tenant.business)
    Subscription.objects.for_business(other_tenant.business).update(
        plan=Plan.objects.get(code="starter"), status="active", stripe_customer_id="cus_rival")
    _reserve(starter_business, 3)
    _reserve(other_tenant, 4)
    usage_report_task()
    sent = {c.form["payload[stripe_customer_id]"]: c.form["payload[value]"]
            for c in stripe_on.calls("/v1/billing/meter_events")}
    assert sent == {"cus_dragon": "1", "cus_rival": "2"}
