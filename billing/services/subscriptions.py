"""Stripe customers, Checkout and the customer portal; applying Stripe's subscription state."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import stripe

from billing import stripe_api
from billing.models import Plan, Subscription
from billing.selectors import plan_free, subscription_for
from businesses.audit import Actor, audit_record
from businesses.webhooks.services import event_emit
from config.errors import ApplicationError

logger = logging.getLogger(__name__)

# A subscription in one of these states is over; it never comes back (Stripe makes a new one).
ENDED_STATUSES = {Subscription.Status.CANCELED, Subscription.Status.INCOMPLETE_EXPIRED}
# A business in one of these states already pays for a plan: changes go through the portal.
PAYING_STATUSES = {Subscription.Status.ACTIVE, Subscription.Status.TRIALING, Subscription.Status.PAST_DUE}


# --------------------------------------------------------------------------- customers, checkout, portal


def stripe_customer_ensure(*, business, client: stripe.StripeClient | None = None) -> str:
    """The business's Stripe customer id, creating the customer the first time only."""
    subscription = subscription_for(business=business)
    if subscription.stripe_customer_id:
        return subscription.stripe_customer_id
    client = client or stripe_api.client()
    try:
        # The idempotency key makes concurrent or retried first calls yield one customer.
        customer = client.v1.customers.create(
            params={"name": business.name, "metadata": {"business_id": str(business.pk)}},
            options={"idempotency_key": f"frontdesk-customer-{business.pk}"},
        )
    except stripe.StripeError as exc:
        raise stripe_api.error_for_caller(exc) from exc
    # Only the first writer wins; a concurrent request that created the same customer reads it back.
    Subscription.objects.for_business(business).filter(stripe_customer_id="").update(stripe_customer_id=customer.id)
    return Subscription.objects.for_business(business).values_list("stripe_customer_id", flat=True).get()


def checkout_session_create(*, business, plan_code: str, success_url: str, cancel_url: str,
                            actor: Actor | None = None) -> str:
    """A Stripe Checkout Session (mode subscription) for ``plan_code``; returns its URL."""
    client = stripe_api.client()
    plan = Plan.objects.filter(code=plan_code, is_public=True).exclude(code=Plan.FREE).first()
    if plan is None:
        raise ApplicationError("validation_error", f"No paid plan '{plan_code}'.", status=400,
                               details={"fields": {"plan": [f"No paid plan '{plan_code}'."]}})
    if not plan.price_id:
        raise ApplicationError("billing_not_configured",
                               f"The {plan.name} plan has no Stripe price (set STRIPE_PRICE_{plan.code.upper()}).",
                               status=503)
    subscription = subscription_for(business=business)
    if not subscription.plan.is_free and subscription.status in PAYING_STATUSES:
        raise ApplicationError("subscription_exists",
                               f"This business already subscribes to {subscription.plan.name}; change plans in the "
                               f"billing portal (POST /api/v1/billing/portal).", status=409)
    customer_id = stripe_customer_ensure(business=business, client=client)
    line_items: list[dict[str, Any]] = [{"price": plan.price_id, "quantity": 1}]
    if plan.overage_allowed and plan.overage_price_id:
        line_items.append({"price": plan.overage_price_id})  # metered: no quantity
    metadata = {"business_id": str(business.pk), "plan": plan.code}
    try:
        session = client.v1.checkout.sessions.create(params={
            "mode": "subscription", "customer": customer_id, "line_items": line_items,
            "success_url": success_url, "cancel_url": cancel_url, "client_reference_id": str(business.pk),
            "metadata": metadata, "subscription_data": {"metadata": metadata},
        })
    except stripe.StripeError as exc:
        raise stripe_api.error_for_caller(exc) from exc
    audit_record(business_id=business.pk, actor=actor, action="billing.checkout_started", target_type="plan",
                 target_id=plan.code)
    return session.url


def portal_session_create(*, business, return_url: str = "", actor: Actor | None = None) -> str:
    """A Stripe customer portal session for the business; returns its URL."""
    client = stripe_api.client()
    customer_id = stripe_customer_ensure(business=business, client=client)
    params: dict[str, Any] = {"customer": customer_id}
    if return_url:
        params["return_url"] = return_url
    try:
        session = client.v1.billing_portal.sessions.create(params=params)
    except stripe.StripeError as exc:
        raise stripe_api.error_for_caller(exc) from exc
    audit_record(business_id=business.pk, actor=actor, action="billing.portal_opened", target_type="business",
                 target_id=business.pk)
    return session.url


# --------------------------------------------------------------------------- Stripe state → our row


@dataclass(frozen=True)
class SubscriptionState:
    """What Stripe says about one subscription, parsed from either API shape."""

    id: str
    customer_id: str | None
    status: str
    price_ids: tuple[str, ...]
    period_start: datetime | None
    period_end: datetime | None
    cancel_at_period_end: bool
    metadata_business_id: str | None

    @classmethod
    def from_stripe(cls, obj: Any) -> SubscriptionState:
        start, end = stripe_api.subscription_period(obj)
        return cls(
            id=obj["id"], customer_id=stripe_api.object_id(stripe_api.get(obj, "customer")),
            status=str(obj["status"]), price_ids=tuple(stripe_api.subscription_price_ids(obj)),
            period_start=start, period_end=end,
            cancel_at_period_end=bool(stripe_api.get(obj, "cancel_at_period_end")),
            metadata_business_id=stripe_api.get(obj, "metadata", "business_id"),
        )


def plan_for_prices(price_ids: tuple[str, ...]) -> Plan | None:
    for plan in Plan.objects.exclude(code=Plan.FREE):
        if plan.price_id and plan.price_id in price_ids:
            return plan
    return None


def subscription_apply(*, business_id, state: SubscriptionState, data_at: datetime,
                       older_on_tie: bool = False) -> str:
    """Make the business's row reflect ``state``, unless the row already reflects newer data.

    ``data_at`` is the moment the state was true. ``older_on_tie`` marks data that loses a tie
    (a ``created`` event in the same second as an ``updated`` one). Returns what happened, for
    the event's record. Call inside a transaction.
    """
    subscription_for(business_id=business_id)  # exists from here on
    row = Subscription.objects.for_business(business_id).select_for_update().select_related("plan").get()
    if row.stripe_data_at and (data_at < row.stripe_data_at or (data_at == row.stripe_data_at and older_on_tie)):
        return f"stale: row reflects {row.stripe_data_at.isoformat()}, data is from {data_at.isoformat()}"
    if row.stripe_subscription_id and row.stripe_subscription_id != state.id and state.status in ENDED_STATUSES:
        return f"ignored: {state.id} ended, the business now has {row.stripe_subscription_id}"

    plan = plan_for_prices(state.price_ids)
    if plan is None and state.price_ids:
        logger.warning("Stripe subscription %s has no price of a known plan (%s); plan left as is",
                       state.id, ", ".join(state.price_ids))
    if state.status in ENDED_STATUSES:
        plan = plan_free()
    if plan is not None:
        row.plan = plan
    if state.status == Subscription.Status.PAST_DUE:
        if row.status != Subscription.Status.PAST_DUE or row.past_due_since is None:
            row.past_due_since = data_at
    else:
        row.past_due_since = None
    row.status = state.status
    row.stripe_subscription_id = state.id
    if state.customer_id:
        row.stripe_customer_id = state.customer_id
    row.current_period_start = state.period_start or row.current_period_start
    row.current_period_end = state.period_end or row.current_period_end
    row.cancel_at_period_end = state.cancel_at_period_end
    row.stripe_data_at = data_at
    changed = {"plan": row.plan.code, "status": row.status, "cancel_at_period_end": row.cancel_at_period_end}
    row.save()
    audit_record(business_id=business_id, actor=None, action="billing.subscription_updated",
                 target_type="subscription", target_id=state.id, details=changed)
    event_emit(business_id=business_id, type="subscription.updated", data={
        "plan": row.plan.code, "status": row.status, "cancel_at_period_end": row.cancel_at_period_end,
        "current_period_end": row.current_period_end.isoformat() if row.current_period_end else None})
    return f"applied: {state.id} {state.status} on {row.plan.code}"


def subscription_status_apply(*, business_id, subscription_id: str, status: str, data_at: datetime) -> str:
    """Offline (no STRIPE_SECRET_KEY to re-fetch with): an invoice event changes only the status."""
    subscription_for(business_id=business_id)
    row = Subscription.objects.for_business(business_id).select_for_update().get()
    if row.stripe_subscription_id and row.stripe_subscription_id != subscription_id:
        return f"ignored: invoice of {subscription_id}, the business has {row.stripe_subscription_id}"
    if row.stripe_data_at and data_at <= row.stripe_data_at:
        return f"stale: row reflects {row.stripe_data_at.isoformat()}"
    if row.status in ENDED_STATUSES:
        return "ignored: subscription already ended"
    if status == Subscription.Status.PAST_DUE and row.status != Subscription.Status.PAST_DUE:
        row.past_due_since = data_at
    elif status != Subscription.Status.PAST_DUE:
        row.past_due_since = None
    row.status = status
    row.stripe_subscription_id = subscription_id
    row.stripe_data_at = data_at
    row.save()
    return f"applied: {subscription_id} {status}"


def subscription_link(*, business_id, customer_id: str | None, subscription_id: str | None) -> str:
    """Record Stripe ids from a completed Checkout (the state itself comes with the subscription)."""
    subscription_for(business_id=business_id)
    row = Subscription.objects.for_business(business_id).select_for_update().get()
    changed = []
    if customer_id and not row.stripe_customer_id:
        row.stripe_customer_id = customer_id
        changed.append("stripe_customer_id")
    if subscription_id and not row.stripe_subscription_id:
        row.stripe_subscription_id = subscription_id
        changed.append("stripe_subscription_id")
    if changed:
        row.save(update_fields=[*changed, "updated_at"])
    return f"linked: {', '.join(changed) or 'nothing new'}"



def subscription_cancel_now(*, business_id) -> str | None:
    """Cancel the business's Stripe subscription at once (the business is being deleted): no
    further invoice. Returns the cancelled subscription's id, None when there was none to cancel.
    Raises Stripe's transient errors for the caller to retry; a subscription Stripe no longer
    knows counts as cancelled."""
    row = Subscription.objects.for_business(business_id).first()
    if row is None or not row.stripe_subscription_id or row.status in ENDED_STATUSES:
        return None
    if not stripe_api.is_configured():
        logger.warning("business %s is deleted with Stripe subscription %s, but Stripe is not configured",
                       business_id, row.stripe_subscription_id)
        return None
    try:
        stripe_api.client().v1.subscriptions.cancel(row.stripe_subscription_id)
    except stripe.InvalidRequestError as exc:
        if getattr(exc, "code", None) != "resource_missing":
            raise
    return row.stripe_subscription_id
