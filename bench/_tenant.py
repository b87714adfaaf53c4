"""Bench tenants: the plan with the most room, so quotas never cut a measurement short."""

from __future__ import annotations


def unlimited_plan(business_id) -> None:
    """Put the business on the plan with the largest allowances (the Free plan allows one
    assistant and answers 402 after its hundred messages a month)."""
    try:
        from billing.models import Plan, Subscription
    except ImportError:  # no billing app: no quotas
        return
    plan = Plan.objects.order_by("-overage_allowed", "-messages_per_month", "-max_assistants").first()
    if plan is not None:
        Subscription.objects.unscoped().update_or_create(
            business_id=business_id, defaults={"plan": plan, "status": Subscription.Status.ACTIVE})
