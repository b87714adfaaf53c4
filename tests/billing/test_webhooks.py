"""POST /billing/stripe/webhook: verified on the raw body, stored once, processed once, in any order."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest
import stripe
from django.utils import timezone

from billing.models import StripeEvent, Subscription
from billing.selectors import plan_effective, subscription_for
from billing.services import stripe_customer_ensure
from billing.tasks import stripe_event_process_task
from tests.billing.conftest import (
    PRICE_PRO,
    PRICE_STARTER,
    post_webhook,
    stripe_event,
    stripe_signature,
    subscription_object,
)


@pytest.fixture
def deliver(anon, django_capture_on_commit_callbacks):
    """Post a signed event; return (response, the task callbacks it queued)."""

    def _deliver(payload: bytes, signature: str | None = None):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = post_webhook(anon, payload, signature)
        return response, callbacks

    return _deliver


def _process(payload: bytes) -> str:
    """Run the task the way a billing worker would, for the event in this payload."""
    event = StripeEvent.objects.get(stripe_event_id=json.loads(payload)["id"])
    return stripe_event_process_task(str(event.pk))


def _sub(business) -> Subscription:
    return Subscription.objects.for_business(business).select_related("plan").get()


def _deliver_and_process(deliver, payload: bytes) -> str:
    response, callbacks = deliver(payload)
    assert response.status_code == 200, response.content
    assert len(callbacks) == 1
    return _process(payload)


# --------------------------------------------------------------------------- verification


def test_valid_event_is_stored_queued_and_processed_once(tenant, stripe_off, deliver):
    payload = stripe_event("customer.subscription.updated", subscription_object(
        sub_id="sub_1", customer="cus_1", status="active", business_id=tenant.business.pk))
    response, callbacks = deliver(payload)
    assert response.status_code == 200 and response.json()["received"] is True
    assert len(callbacks) == 1
    assert StripeEvent.objects.get().processed_at is None

    assert _process(payload).startswith("applied")
    sub = _sub(tenant.business)
    assert (sub.plan.code, sub.status, sub.stripe_subscription_id, sub.stripe_customer_id) == (
        "starter", "active", "sub_1", "cus_1")
    assert sub.current_period_end > timezone.now()
    event = StripeEvent.objects.get()
    assert event.processed_at is not None and event.business_id == tenant.business.pk
    assert _process(payload) == "already processed"


def _assert_rejected(response, code: str) -> None:
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert not StripeEvent.objects.exists()


def _unchanged_free(tenant) -> bool:
    """The business is still on the Free subscription sign-up gave it, with no Stripe ids."""
    sub = Subscription.objects.for_business(tenant.business).get()
    return sub.plan.code == "free" and not sub.stripe_subscription_id and not sub.stripe_customer_id


def test_bad_signature_is_400_and_changes_nothing(tenant, stripe_off, deliver):
    payload = stripe_event("customer.subscription.updated", subscription_object(
        sub_id="sub_1", customer="cus_1", status="active", business_id=tenant.business.pk))
    response, callbacks = deliver(payload, stripe_signature(payload, secret="whsec_someone_else"))
    _assert_rejected(response, "invalid_signature")
    assert not callbacks
    assert _unchanged_free(tenant)


def test_a_body_changed_after_signing_is_400(tenant, stripe_off, deliver):
    payload = stripe_event("customer.subscription.updated", subscription_object(
        sub_id="sub_1", customer="cus_1", status="active", business_id=tenant.business.pk))
    tampered = payload.replace(b'"status": "active"', b'"status": "trialing"')
    _assert_rejected(deliver(tampered, stripe_signature(payload))[0], "invalid_signature")


def test_a_reserialised_body_is_400(tenant, stripe_off, deliver):
    """The signature covers the raw bytes: the same JSON, spaced differently, is not what Stripe signed."""
    payload = stripe_event("invoice.paid", {"id": "in_1", "object": "invoice"})
    compact = json.dumps(json.loads(payload), separators=(",", ":")).encode()
    _assert_rejected(deliver(compact, stripe_signature(payload))[0], "invalid_signature")


def test_stale_timestamp_is_400(tenant, stripe_off, deliver):
    payload = stripe_event("invoice.paid", {"id": "in_1", "object": "invoice"})
    _assert_rejected(deliver(payload, stripe_signature(payload, timestamp=int(time.time()) - 301))[0],
                     "invalid_signature")


@pytest.mark.parametrize("header", ["", "garbage", "t=123", "v1=abc"])
def test_missing_or_malformed_signature_header_is_400(tenant, stripe_off, deliver, header):
    payload = stripe_event("invoice.paid", {"id": "in_1", "object": "invoice"})
    _assert_rejected(deliver(payload, header)[0], "invalid_signature")


@pytest.mark.parametrize("body", [b"not json at all", b"{\"id\": \"evt_1\"", b"[]", b"{}",
                                  b'{"id": "evt_1", "object": "event"}'])
def test_malformed_body_is_400(tenant, stripe_off, deliver, body):
    _assert_rejected(deliver(body, stripe_signature(body))[0], "malformed_event")


def test_webhook_without_a_secret_configured_is_503(db, settings, deliver):
    settings.STRIPE_WEBHOOK_SECRET = ""
    payload = stripe_event("invoice.paid", {"id": "in_1", "object": "invoice"})
    response, _ = deliver(payload)
    assert response.status_code == 503
    assert not StripeEvent.objects.exists()


def test_webhook_only_takes_post(db, anon):
    response = anon.get("/billing/stripe/webhook")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


# --------------------------------------------------------------------------- idempotency


def test_the_same_event_twice_has_one_effect(tenant, stripe_off, deliver):
    payload = stripe_event("invoice.payment_failed", {
        "id": "in_1", "object": "invoice", "customer": "cus_1",
        "parent": {"type": "subscription_details", "subscription_details": {"subscription": "sub_1"}}})
    subscription_for(business=tenant.business)
    Subscription.objects.for_business(tenant.business).update(stripe_customer_id="cus_1",
                                                              stripe_subscription_id="sub_1")

    _deliver_and_process(deliver, payload)
    first = _sub(tenant.business)
    assert first.status == "past_due" and first.past_due_since is not None

    response, callbacks = deliver(payload)  # Stripe redelivers
    assert response.status_code == 200 and not callbacks
    assert StripeEvent.objects.count() == 1
    assert _process(payload) == "already processed"
    assert _sub(tenant.business).updated_at == first.updated_at


def test_a_redelivery_before_processing_queues_again_but_applies_once(tenant, stripe_off, deliver):
    payload = stripe_event("customer.subscription.updated", subscription_object(
        sub_id="sub_1", customer="cus_1", status="active", business_id=tenant.business.pk))
    assert len(deliver(payload)[1]) == 1
    assert len(deliver(payload)[1]) == 1  # its task may have been lost: queued again
    assert StripeEvent.objects.count() == 1
    assert _process(payload).startswith("applied")
    assert _process(payload) == "already processed"


# --------------------------------------------------------------------------- handlers (offline: the payload)


def test_updated_before_created_ends_in_the_right_state_offline(tenant, stripe_off, deliver):
    t0 = int(time.time()) - 60
    created = stripe_event("customer.subscription.created", subscription_object(
        sub_id="sub_1", customer="cus_1", status="incomplete", business_id=tenant.business.pk), created=t0)
    updated = stripe_event("customer.subscription.updated", subscription_object(
        sub_id="sub_1", customer="cus_1", status="active", business_id=tenant.business.pk), created=t0 + 5)
    _deliver_and_process(deliver, updated)
    assert _deliver_and_process(deliver, created).startswith("stale")
    sub = _sub(tenant.business)
    assert (sub.status, sub.plan.code) == ("active", "starter")


def test_created_in_the_same_second_as_updated_does_not_undo_it(tenant, stripe_off, deliver):
    t0 = int(time.time()) - 60
    created = stripe_event("customer.subscription.created", subscription_object(
        sub_id="sub_1", customer="cus_1", status="incomplete", business_id=tenant.business.pk), created=t0)
    updated = stripe_event("customer.subscription.updated", subscription_object(
        sub_id="sub_1", customer="cus_1", status="active", business_id=tenant.business.pk), created=t0)
    _deliver_and_process(deliver, updated)
    _deliver_and_process(deliver, created)
    assert _sub(tenant.business).status == "active"


def test_in_order_events_apply_in_turn(tenant, stripe_off, deliver):
    t0 = int(time.time()) - 60
    obj = {"sub_id": "sub_1", "customer": "cus_1", "business_id": tenant.business.pk}
    _deliver_and_process(deliver, stripe_event("customer.subscription.created",
                                               subscription_object(status="incomplete", **obj), created=t0))
    assert _sub(tenant.business).status == "incomplete"
    assert plan_effective(subscription=_sub(tenant.business)).code == "free"  # not paid yet
    _deliver_and_process(deliver, stripe_event("customer.subscription.updated",
                                               subscription_object(status="active", **obj), created=t0 + 1))
    _deliver_and_process(deliver, stripe_event("customer.subscription.updated", subscription_object(
        status="active", price=PRICE_PRO, cancel_at_period_end=True, **obj), created=t0 + 2))
    sub = _sub(tenant.business)
    assert (sub.status, sub.plan.code, sub.cancel_at_period_end) == ("active", "pro", True)
    _deliver_and_process(deliver, stripe_event("customer.subscription.deleted",
                                               subscription_object(status="canceled", **obj), created=t0 + 3))
    sub = _sub(tenant.business)
    assert (sub.status, sub.plan.code) == ("canceled", "free")


def test_invoice_failed_then_paid_offline(tenant, stripe_off, deliver):
    t0 = int(time.time()) - 60
    obj = {"sub_id": "sub_1", "customer": "cus_1", "business_id": tenant.business.pk}
    _deliver_and_process(deliver, stripe_event("customer.subscription.created",
                                               subscription_object(status="active", **obj), created=t0))
    invoice = {"id": "in_1", "object": "invoice", "customer": "cus_1", "subscription": "sub_1"}
    _deliver_and_process(deliver, stripe_event("invoice.payment_failed", invoice, created=t0 + 10))
    sub = _sub(tenant.business)
    assert sub.status == "past_due"
    assert sub.past_due_since == datetime.fromtimestamp(t0 + 10, tz=UTC)
    assert plan_effective(subscription=sub).code == "starter"  # grace period
    _deliver_and_process(deliver, stripe_event("invoice.paid", invoice, created=t0 + 20))
    sub = _sub(tenant.business)
    assert (sub.status, sub.past_due_since) == ("active", None)


def test_checkout_completed_links_the_customer_offline(tenant, stripe_off, deliver):
    session = {"id": "cs_1", "object": "checkout.session", "mode": "subscription", "customer": "cus_new",
               "subscription": "sub_new", "client_reference_id": str(tenant.business.pk), "metadata": {}}
    _deliver_and_process(deliver, stripe_event("checkout.session.completed", session))
    sub = _sub(tenant.business)
    assert (sub.stripe_customer_id, sub.stripe_subscription_id) == ("cus_new", "sub_new")


def test_an_old_subscription_ending_does_not_cancel_the_current_one(tenant, stripe_off, deliver):
    t0 = int(time.time()) - 60
    _deliver_and_process(deliver, stripe_event("customer.subscription.created", subscription_object(
        sub_id="sub_new", customer="cus_1", status="active", business_id=tenant.business.pk), created=t0))
    outcome = _deliver_and_process(deliver, stripe_event("customer.subscription.deleted", subscription_object(
        sub_id="sub_old", customer="cus_1", status="canceled", business_id=tenant.business.pk), created=t0 + 5))
    assert outcome.startswith("ignored")
    assert _sub(tenant.business).status == "active"


def test_unknown_event_types_are_acknowledged(db, stripe_off, deliver):
    payload = stripe_event("customer.tax_id.created", {"id": "txi_1", "object": "tax_id"})
    assert _deliver_and_process(deliver, payload) == "ignored: unhandled type"
    assert StripeEvent.objects.get().processed_at is not None


def test_an_event_for_an_unknown_customer_is_acknowledged_without_effect(tenant, stripe_off, deliver):
    payload = stripe_event("customer.subscription.updated", subscription_object(
        sub_id="sub_x", customer="cus_stranger", status="active", business_id=uuid.uuid4()))
    assert _deliver_and_process(deliver, payload) == "ignored: no matching business"
    assert _unchanged_free(tenant)


def test_events_never_cross_businesses(tenant, other_tenant, stripe_off, deliver):
    """An event is matched by the customer we created for a business, not by what its metadata says."""
    subscription_for(business=tenant.business)
    Subscription.objects.for_business(tenant.business).update(stripe_customer_id="cus_dragon")
    payload = stripe_event("customer.subscription.updated", subscription_object(
        sub_id="sub_1", customer="cus_dragon", status="active", price=PRICE_PRO,
        business_id=other_tenant.business.pk))
    _deliver_and_process(deliver, payload)
    assert _sub(tenant.business).plan.code == "pro"
    assert subscription_for(business=other_tenant.business).plan.code == "free"


# --------------------------------------------------------------------------- handlers (re-fetch from localstripe)


def _localstripe_subscription(business, localstripe: str, *, price: str = PRICE_STARTER) -> stripe.Subscription:
    """A real (active) subscription in localstripe for this business's customer."""
    client = stripe.StripeClient("sk_test_frontdesk", base_addresses={"api": localstripe}, max_network_retries=0)
    customer_id = stripe_customer_ensure(business=business)
    try:
        client.v1.plans.retrieve(price)
    except stripe.InvalidRequestError:
        product = client.v1.products.create(params={"name": f"Frontdesk {price}"})
        client.v1.plans.create(params={"id": price, "product": product.id, "amount": 2900, "currency": "usd",
                                       "interval": "month"})
    method = client.v1.payment_methods.create(params={"type": "card", "card": {
        "number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}})
    client.v1.payment_methods.attach(method.id, params={"customer": customer_id})
    client.v1.customers.update(customer_id, params={"invoice_settings": {"default_payment_method": method.id}})
    # localstripe predates prices: a legacy plan whose id is the price id stands in for one.
    return client.v1.subscriptions.create(params={"customer": customer_id, "items": [{"plan": price}],
                                                  "metadata": {"business_id": str(business.pk)}})


def test_updated_before_created_refetches_the_truth(tenant, stripe_on, localstripe, deliver):
    live = _localstripe_subscription(tenant.business, localstripe)
    assert live.status == "active"
    t0 = int(time.time())
    obj = {"sub_id": live.id, "customer": live.customer, "business_id": tenant.business.pk}
    created = stripe_event("customer.subscription.created", subscription_object(status="incomplete", **obj),
                           created=t0)
    updated = stripe_event("customer.subscription.updated", subscription_object(status="active", **obj),
                           created=t0 + 1)
    _deliver_and_process(deliver, updated)
    _deliver_and_process(deliver, created)
    sub = _sub(tenant.business)
    assert (sub.status, sub.plan.code, sub.stripe_subscription_id) == ("active", "starter", live.id)
    assert sub.current_period_start == datetime.fromtimestamp(live.current_period_start, tz=UTC)
    assert len([r for r in stripe_on.requests if r.path == f"/v1/subscriptions/{live.id}"]) == 2


def test_a_late_event_cannot_revive_a_canceled_subscription(tenant, stripe_on, localstripe, deliver):
    live = _localstripe_subscription(tenant.business, localstripe, price=PRICE_PRO)
    obj = {"sub_id": live.id, "customer": live.customer, "business_id": tenant.business.pk}
    early = stripe_event("customer.subscription.updated", subscription_object(status="active", **obj))
    client = stripe.StripeClient("sk_test_frontdesk", base_addresses={"api": localstripe}, max_network_retries=0)
    client.v1.subscriptions.cancel(live.id)
    _deliver_and_process(deliver, stripe_event("customer.subscription.deleted",
                                               subscription_object(status="canceled", **obj)))
    _deliver_and_process(deliver, early)  # delivered late, says "active"; Stripe says canceled
    sub = _sub(tenant.business)
    assert (sub.status, sub.plan.code) == ("canceled", "free")


def test_checkout_completed_refetches_the_subscription(tenant, stripe_on, localstripe, deliver):
    live = _localstripe_subscription(tenant.business, localstripe, price=PRICE_PRO)
    session = {"id": "cs_1", "object": "checkout.session", "mode": "subscription", "customer": live.customer,
               "subscription": live.id, "client_reference_id": str(tenant.business.pk), "metadata": {}}
    _deliver_and_process(deliver, stripe_event("checkout.session.completed", session))
    sub = _sub(tenant.business)
    assert (sub.status, sub.plan.code, sub.stripe_subscription_id) == ("active", "pro", live.id)


def test_invoice_paid_refetches_the_subscription(tenant, stripe_on, localstripe, deliver):
    live = _localstripe_subscription(tenant.business, localstripe)
    Subscription.objects.for_business(tenant.business).update(status="past_due", past_due_since=timezone.now())
    invoice = {"id": "in_1", "object": "invoice", "customer": live.customer,
               "parent": {"type": "subscription_details", "subscription_details": {"subscription": live.id}}}
    _deliver_and_process(deliver, stripe_event("invoice.paid", invoice))
    sub = _sub(tenant.business)
    assert (sub.status, sub.past_due_since, sub.plan.code) == ("active", None, "starter")


def test_stripe_unreachable_leaves_the_event_for_a_retry(tenant, stripe_on, deliver, settings):
    payload = stripe_event("customer.subscription.updated", subscription_object(
        sub_id="sub_1", customer="cus_1", status="active", business_id=tenant.business.pk))
    assert deliver(payload)[0].status_code == 200
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    event = StripeEvent.objects.get()
    from billing.services import stripe_event_process

    with pytest.raises(stripe.APIConnectionError):
        stripe_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.processed_at is None
