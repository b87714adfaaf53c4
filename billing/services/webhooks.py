"""Stripe webhooks: verify and store once (web), then process from the billing queue (worker).

Out-of-order safety. With STRIPE_SECRET_KEY set, every subscription-related event re-fetches
the subscription from Stripe and applies what Stripe says *now*, stamped with the time of the
fetch; the event's own payload is only a trigger, so the order events arrive in cannot matter.
Without a key (offline, or a test double) the event's payload is applied, stamped with the
event's ``created`` time. Either way the row keeps the stamp of the data it reflects
(``stripe_data_at``) and older data arriving later is ignored.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import stripe_api
from billing.models import StripeEvent, Subscription
from billing.services.subscriptions import (
    SubscriptionState,
    subscription_apply,
    subscription_link,
    subscription_status_apply,
)
from businesses.models import Business
from config.errors import ApplicationError

logger = logging.getLogger(__name__)


def stripe_event_receive(*, payload: bytes, signature: str) -> tuple[StripeEvent, bool]:
    """Verify a webhook delivery on its raw body and store it once.

    Returns the stored event and whether it still needs processing (then a task is queued
    after commit). Raises 400 ``invalid_signature`` / ``malformed_event`` with nothing stored.
    """
    from billing.tasks import stripe_event_process_task
    from config.tasks import enqueue_on_commit

    if not settings.STRIPE_WEBHOOK_SECRET:
        raise ApplicationError("billing_not_configured", "STRIPE_WEBHOOK_SECRET is not set.", status=503)
    try:
        event = stripe.Webhook.construct_event(payload, signature, settings.STRIPE_WEBHOOK_SECRET,
                                               tolerance=settings.STRIPE_WEBHOOK_TOLERANCE)
    except stripe.SignatureVerificationError as exc:
        raise ApplicationError("invalid_signature", f"Stripe signature check failed: {exc.user_message or exc}",
                               status=400) from exc
    except (ValueError, AttributeError, TypeError) as exc:
        # Signed but not a JSON object (the library trips over a top-level array with AttributeError).
        raise ApplicationError("malformed_event", "The body is not a Stripe event.", status=400) from exc
    event_id, event_type, created = (stripe_api.get(event, "id"), stripe_api.get(event, "type"),
                                     stripe_api.get(event, "created"))
    if not isinstance(event_id, str) or not isinstance(event_type, str) or not isinstance(created, int):
        raise ApplicationError("malformed_event", "The event has no id, type or created time.", status=400)

    try:
        with transaction.atomic():
            stored = StripeEvent.objects.create(
                stripe_event_id=event_id, type=event_type, payload=json.loads(payload),
                stripe_created_at=stripe_api.timestamp(created),
            )
            enqueue_on_commit(stripe_event_process_task, str(stored.pk))
            return stored, True
    except IntegrityError:
        stored = StripeEvent.objects.get(stripe_event_id=event_id)
    if stored.processed_at is None:
        # A redelivery of an event whose task may have been lost: queue it again. Processing is
        # idempotent (it checks processed_at under a lock), so this never applies it twice.
        enqueue_on_commit(stripe_event_process_task, str(stored.pk))
        return stored, True
    return stored, False


# --------------------------------------------------------------------------- processing


@dataclass
class Change:
    """What an event does, prepared outside any transaction (Stripe calls happen here) and
    applied inside one."""

    business_id: Any
    apply: Callable[[], str]


def _business_id_for(*, customer_id: str | None, metadata_business_id: str | None) -> Any | None:
    """The business an object belongs to: by the Stripe customer we created for it, else by the
    business id we put in the object's metadata (events are signed, so metadata is ours)."""
    if customer_id:
        # Resolving the tenant from Stripe's side: nothing to scope by yet.
        found = (Subscription.objects.unscoped().filter(stripe_customer_id=customer_id)
                 .values_list("business_id", flat=True).first())
        if found:
            return found
    try:
        candidate = uuid.UUID(str(metadata_business_id))
    except ValueError:
        return None
    return candidate if Business.objects.filter(pk=candidate).exists() else None


def _subscription_change(*, obj: Any, event: StripeEvent, fetched_at: datetime | None = None) -> Change | None:
    """Sync from a subscription: re-fetched from Stripe when configured, else the event's copy."""
    data_at, older_on_tie = event.stripe_created_at, event.type == "customer.subscription.created"
    if fetched_at is None and stripe_api.is_configured():
        fetched_at = timezone.now()  # taken before the fetch: the state is at least this fresh
        try:
            obj = stripe_api.client().v1.subscriptions.retrieve(obj["id"])
        except stripe.InvalidRequestError as exc:
            if exc.http_status != 404:
                raise
            logger.warning("Stripe subscription %s is gone; applying the event's copy", obj["id"])
            fetched_at = None
    if fetched_at is not None:
        data_at, older_on_tie = fetched_at, False
    state = SubscriptionState.from_stripe(obj)
    business_id = _business_id_for(customer_id=state.customer_id, metadata_business_id=state.metadata_business_id)
    if business_id is None:
        return None
    return Change(business_id, lambda: subscription_apply(business_id=business_id, state=state, data_at=data_at,
                                                          older_on_tie=older_on_tie))


def _subscription_id_change(*, subscription_id: str, event: StripeEvent) -> Change | None:
    fetched_at = timezone.now()
    try:
        obj = stripe_api.client().v1.subscriptions.retrieve(subscription_id)
    except stripe.InvalidRequestError as exc:
        if exc.http_status != 404:
            raise
        return None
    return _subscription_change(obj=obj, event=event, fetched_at=fetched_at)


def _on_subscription(event: StripeEvent, obj: Any) -> Change | None:
    return _subscription_change(obj=obj, event=event)


def _on_checkout_completed(event: StripeEvent, obj: Any) -> Change | None:
    if stripe_api.get(obj, "mode") != "subscription":
        return None
    customer_id = stripe_api.object_id(stripe_api.get(obj, "customer"))
    subscription_id = stripe_api.object_id(stripe_api.get(obj, "subscription"))
    business_id = _business_id_for(customer_id=customer_id, metadata_business_id=(
        stripe_api.get(obj, "client_reference_id") or stripe_api.get(obj, "metadata", "business_id")))
    if business_id is None:
        return None
    change = None
    if subscription_id and stripe_api.is_configured():
        change = _subscription_id_change(subscription_id=subscription_id, event=event)
    link = lambda: subscription_link(business_id=business_id, customer_id=customer_id,  # noqa: E731
                                     subscription_id=subscription_id)
    if change is None:
        return Change(business_id, link)
    return Change(business_id, lambda: f"{link()}; {change.apply()}")


def _on_invoice(status: str) -> Callable[[StripeEvent, Any], Change | None]:
    def handler(event: StripeEvent, obj: Any) -> Change | None:
        subscription_id = stripe_api.invoice_subscription_id(obj)
        if not subscription_id:
            return None  # a one-off invoice: nothing to do with plans
        if stripe_api.is_configured():
            return _subscription_id_change(subscription_id=subscription_id, event=event)
        customer_id = stripe_api.object_id(stripe_api.get(obj, "customer"))
        business_id = _business_id_for(customer_id=customer_id, metadata_business_id=None)
        if business_id is None:
            return None
        return Change(business_id, lambda: subscription_status_apply(
            business_id=business_id, subscription_id=subscription_id, status=status, data_at=event.stripe_created_at))

    return handler


HANDLERS: dict[str, Callable[[StripeEvent, Any], Change | None]] = {
    "checkout.session.completed": _on_checkout_completed,
    "customer.subscription.created": _on_subscription,
    "customer.subscription.updated": _on_subscription,
    "customer.subscription.deleted": _on_subscription,
    "invoice.paid": _on_invoice(Subscription.Status.ACTIVE),
    "invoice.payment_failed": _on_invoice(Subscription.Status.PAST_DUE),
}


def stripe_event_process(*, event_id) -> str:
    """Apply one stored event, once. Transient Stripe errors propagate (the task retries)."""
    event = StripeEvent.objects.get(pk=event_id)
    if event.processed_at is not None:
        return "already processed"
    handler = HANDLERS.get(event.type)
    change = None
    if handler is None:
        logger.info("Stripe event %s of type %s acknowledged and ignored", event.stripe_event_id, event.type)
    else:
        change = handler(event, stripe_api.get(event.payload, "data", "object") or {})
        if change is None:
            logger.warning("Stripe event %s (%s) matches no business; acknowledged", event.stripe_event_id,
                           event.type)
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(pk=event_id)
        if event.processed_at is not None:
            return "already processed"
        if handler is None:
            outcome = "ignored: unhandled type"
        elif change is None:
            outcome = "ignored: no matching business"
        else:
            outcome = change.apply()
            event.business_id = change.business_id
        event.processed_at = timezone.now()
        event.outcome = outcome[:200]
        event.save(update_fields=["processed_at", "outcome", "business"])
    return outcome
