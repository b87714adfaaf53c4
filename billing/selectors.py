"""Reads: a business's subscription, the plan in force, the current period and its usage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis
from django.conf import settings
from django.utils import timezone

from billing.holdings import assistant_count, knowledge_usage
from billing.models import FREE_PLAN_DEFAULTS, Plan, Subscription, UsagePeriod
from config import redis_client

# Statuses in which the subscribed plan applies in full; past_due applies for a grace period.
LIVE_STATUSES = {Subscription.Status.ACTIVE, Subscription.Status.TRIALING}


def plan_free() -> Plan:
    plan = Plan.objects.filter(code=Plan.FREE).first()
    if plan is None:  # the seeded row is gone (an operator, a test's table flush): Free must exist
        plan, _ = Plan.objects.get_or_create(code=Plan.FREE, defaults=FREE_PLAN_DEFAULTS)
    return plan


def subscription_for(*, business=None, business_id=None) -> Subscription:
    """The business's subscription, created on the Free plan the first time it is asked for.

    Businesses are created without one (signup lives in another app); lazy creation means
    every business has exactly one from its first billing-relevant request on.
    """
    business_id = business_id if business_id is not None else business.pk
    subscription = (Subscription.objects.for_business(business_id).select_related("plan").first())
    if subscription is not None:
        return subscription
    subscription, _ = Subscription.objects.unscoped().select_related("plan").get_or_create(
        business_id=business_id, defaults={"plan": plan_free(), "status": Subscription.Status.ACTIVE})
    return subscription


def plan_effective(*, subscription: Subscription, now: datetime | None = None) -> Plan:
    """The plan whose limits apply now.

    active/trialing: the subscribed plan. past_due: the subscribed plan until
    BILLING_PAST_DUE_GRACE_DAYS after the first failed payment, then Free. Anything else
    (canceled, unpaid, incomplete, paused): Free.
    """
    now = now or timezone.now()
    plan = subscription.plan
    if plan.is_free or subscription.status in LIVE_STATUSES:
        return plan
    if subscription.status == Subscription.Status.PAST_DUE:
        since = subscription.past_due_since or now
        if now < since + timedelta(days=settings.BILLING_PAST_DUE_GRACE_DAYS):
            return plan
    return plan_free()


def _add_months(moment: datetime, months: int) -> datetime:
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise ValueError(moment)


def usage_period_bounds(*, subscription: Subscription, plan: Plan,
                        now: datetime | None = None) -> tuple[datetime, datetime]:
    """The billing period that contains ``now``.

    A paid plan counts in its Stripe period (so overage lands on the invoice of the period it
    was used in); if the renewal has not reached us yet, the period is rolled forward a month at
    a time from the last one Stripe told us. Free counts per calendar month, UTC.
    """
    now = now or timezone.now()
    start, end = subscription.current_period_start, subscription.current_period_end
    if not plan.is_free and start and end and start <= now:
        while end <= now:
            start, end = end, _add_months(end, 1)
        return start, end
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start, _add_months(start, 1)


@dataclass(frozen=True)
class QuotaContext:
    subscription: Subscription
    plan: Plan
    period_start: datetime
    period_end: datetime


def quota_context(*, business_id, now: datetime | None = None) -> QuotaContext:
    now = now or timezone.now()
    subscription = subscription_for(business_id=business_id)
    plan = plan_effective(subscription=subscription, now=now)
    start, end = usage_period_bounds(subscription=subscription, plan=plan, now=now)
    return QuotaContext(subscription, plan, start, end)


def billing_overview(*, business) -> dict:
    """The body of GET /api/v1/billing."""
    ctx = quota_context(business_id=business.pk)
    plan = ctx.plan
    usage = UsagePeriod.objects.for_business(business).filter(period_start=ctx.period_start).first()
    pending = usage_pending(business_id=business.pk, period_start=ctx.period_start)
    sources, size = knowledge_usage(business_id=business.pk)
    subscription = ctx.subscription
    return {
        "plan": {"code": plan.code, "name": plan.name, "limits": plan.limits()},
        "subscribed_plan": subscription.plan.code,
        "status": subscription.status,
        "period_start": ctx.period_start,
        "period_end": ctx.period_end,
        "cancel_at_period_end": subscription.cancel_at_period_end,
        "past_due_since": subscription.past_due_since,
        "usage": {
            "messages": {"used": usage.messages_used if usage else 0, "limit": plan.messages_per_month,
                         "resets_at": ctx.period_end},
            "assistants": {"used": assistant_count(business_id=business.pk), "limit": plan.max_assistants},
            "sources": {"used": sources, "limit": plan.max_sources},
            "knowledge_bytes": {"used": size, "limit": plan.max_knowledge_bytes},
            "tokens": {"in": (usage.tokens_in if usage else 0) + pending["tokens_in"],
                       "out": (usage.tokens_out if usage else 0) + pending["tokens_out"]},
        },
    }


USAGE_KEY_PREFIX = "frontdesk:usage:"


def usage_key(business_id, period_start: datetime) -> str:
    """The Redis hash of a business's answers and tokens not yet added to its usage row."""
    return f"{USAGE_KEY_PREFIX}{business_id}:{period_start.isoformat()}"


def usage_pending(*, business_id, period_start: datetime) -> dict[str, int]:
    """Answers and tokens counted in Redis and not yet flushed to the period's row (zeros
    without Redis, or when it cannot be read)."""
    counts = {"answers": 0, "tokens_in": 0, "tokens_out": 0}
    client = redis_client.client()
    if client is None:
        return counts
    try:
        values = client.hgetall(usage_key(business_id, period_start))
    except redis.RedisError:
        return counts
    return {field: int(values.get(field.encode(), 0)) for field in counts}
