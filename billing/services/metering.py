"""Overage reporting to Stripe Billing Meters, exactly once per message.

Outbox: the report (identifier, value, timestamp) is written *before* it is sent, and the
usage row's ``overage_reported`` advances only once Stripe acknowledged it. A report that
failed (Stripe 500, timeout, worker killed) is resent later with the same identifier and
value — as Stripe's idempotency key too — so Stripe counts it once, however many tries it
takes; usage that accrues meanwhile goes into the next report.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import stripe
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing import stripe_api
from billing.models import MeterReport, Subscription, UsagePeriod

logger = logging.getLogger(__name__)

# Stripe accepts meter events up to 35 days old; older usage can no longer be reported.
METER_HORIZON = timedelta(days=35)
_MAX_REPORTS_PER_ROW = 10


def _next_report(*, usage_id, now: datetime) -> MeterReport | None:
    """The pending report of this usage row, or a new one for the overage not yet reported."""
    with transaction.atomic():
        usage = UsagePeriod.objects.unscoped().select_for_update().get(pk=usage_id)
        pending = MeterReport.objects.for_business(usage.business_id).filter(
            usage=usage, sent_at__isnull=True).order_by("from_count").first()
        if pending is not None:
            return pending
        target = usage.overage
        if target <= usage.overage_reported:
            return None
        customer_id = (Subscription.objects.for_business(usage.business_id)
                       .values_list("stripe_customer_id", flat=True).first())
        if not customer_id:
            logger.warning("Business %s has overage but no Stripe customer; not reported", usage.business_id)
            return None
        # Usage belongs to its period: stamp it inside the period, never in the future.
        moment = min(now, usage.period_end - timedelta(seconds=1))
        return MeterReport.objects.for_business(usage.business_id).create(
            business_id=usage.business_id, usage=usage, from_count=usage.overage_reported, to_count=target,
            value=target - usage.overage_reported, stripe_customer_id=customer_id, event_timestamp=moment,
            identifier=f"{usage.business_id}:{usage.period_start:%Y%m%d%H%M}:{target}",
        )


def _send(*, client: stripe.StripeClient, report: MeterReport) -> None:
    try:
        client.v1.billing.meter_events.create(
            params={
                "event_name": settings.STRIPE_METER_EVENT_NAME,
                "payload": {"stripe_customer_id": report.stripe_customer_id, "value": str(report.value)},
                "identifier": report.identifier,
                "timestamp": int(report.event_timestamp.timestamp()),
            },
            options={"idempotency_key": f"meter-{report.identifier}"},
        )
    except stripe.StripeError as exc:
        MeterReport.objects.for_business(report.business_id).filter(pk=report.pk).update(
            attempts=F("attempts") + 1, last_error=str(exc)[:1000])
        raise
    with transaction.atomic():
        MeterReport.objects.for_business(report.business_id).filter(pk=report.pk).update(
            attempts=F("attempts") + 1, last_error="", sent_at=timezone.now())
        UsagePeriod.objects.for_business(report.business_id).filter(
            pk=report.usage_id, overage_reported=report.from_count).update(overage_reported=report.to_count)


def usage_report_one(*, usage_id, client: stripe.StripeClient, now: datetime | None = None) -> int:
    """Report one usage row's unreported overage; returns the messages reported."""
    now = now or timezone.now()
    reported = 0
    for _ in range(_MAX_REPORTS_PER_ROW):
        report = _next_report(usage_id=usage_id, now=now)
        if report is None:
            break
        _send(client=client, report=report)
        reported += report.value
    return reported


def usage_report(*, now: datetime | None = None) -> dict[str, int]:
    """Report every business's overage to Stripe's meter. A row that fails is left for the next run."""
    if not stripe_api.is_configured():
        return {"rows": 0, "reported": 0, "failed": 0}
    now = now or timezone.now()
    client = stripe_api.client()
    # A sweep over every tenant: the loud unscoped() is the point.
    due = set(UsagePeriod.objects.unscoped().filter(
        overage_billable=True, period_end__gte=now - METER_HORIZON,
        messages_used__gt=F("messages_limit") + F("overage_reported"),
    ).values_list("pk", flat=True))
    due |= set(MeterReport.objects.unscoped().filter(
        sent_at__isnull=True, event_timestamp__gte=now - METER_HORIZON).values_list("usage_id", flat=True))
    counts = {"rows": len(due), "reported": 0, "failed": 0}
    for usage_id in sorted(due, key=str):
        try:
            counts["reported"] += usage_report_one(usage_id=usage_id, client=client, now=now)
        except stripe.StripeError as exc:
            counts["failed"] += 1
            logger.warning("Meter report for usage %s failed, will retry: %s", usage_id, exc)
    return counts
