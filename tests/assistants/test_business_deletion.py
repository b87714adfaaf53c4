"""Deleting a business: the owner asks (API or dashboard), a grace period passes (cancellable),
then every row of the tenant, in every table with a business_id, is removed and its Stripe
subscription cancelled (assistants/privacy/tenant.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import stripe
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from assistants.models import Conversation, Message, WhatsAppDelivery
from assistants.privacy.tasks import business_purge_due_task, business_purge_task
from assistants.privacy.tenant import business_purge, tenant_models
from billing.models import Subscription
from businesses.models import AuditEvent, Business, Membership
from businesses.services import api_key_create
from tests.assistants.conftest import add_source
from tests.billing.conftest import (  # noqa: F401 - fixtures (the tests below take them as arguments: F811)
    _seeded_plans,
    localstripe,
    stripe_on,
    stripe_standin,
)
from tests.billing.test_webhooks import _localstripe_subscription
from tests.conftest import make_tenant
from tests.privacy_helpers import rows_of_business

pytestmark = pytest.mark.django_db(transaction=True)


def _lived_in(tenant) -> None:
    """Rows in many tables: knowledge, a conversation with messages, an audit trail, a raw delivery."""
    add_source(tenant, kind="faq", title="FAQ", pairs=[{"question": "Dogs?", "answer": "On the terrace."}])
    api = tenant.client()
    conversation = api.post(f"/api/v1/assistants/{tenant.assistant.pk}/conversations", {"external_id": "c1"},
                            format="json").json()["id"]
    api.post(f"/api/v1/conversations/{conversation}/messages", {"content": "Dogs?"}, format="json")
    api.patch(f"/api/v1/assistants/{tenant.assistant.pk}", {"greeting": "Hello"}, format="json")


def test_owner_schedules_the_deletion_and_can_cancel_it(tenant):
    api = tenant.client()
    response = api.delete("/api/v1/business")
    assert response.status_code == 202, response.content
    when = Business.objects.get(pk=tenant.business.pk).deletion_scheduled_for
    assert timedelta(days=13, hours=23) < when - timezone.now() <= timedelta(days=14)
    assert api.delete("/api/v1/business").json()["deletion_scheduled_for"] == response.json()[
        "deletion_scheduled_for"]  # asking again changes nothing
    assert business_purge(business_id=tenant.business.pk) is None  # not due yet
    assert api.post("/api/v1/business/restore").json()["deletion_scheduled_for"] is None
    assert business_purge(business_id=tenant.business.pk, now=timezone.now() + timedelta(days=15)) is None
    actions = list(AuditEvent.objects.for_business(tenant.business).values_list("action", flat=True))
    assert {"business.deletion_requested", "business.deletion_cancelled"} <= set(actions)


def test_only_an_owners_secret_key_can_delete_the_business(tenant):
    assert tenant.client(tenant.publishable_key).delete("/api/v1/business").status_code == 403
    admin = get_user_model().objects.create_user(username="admin@example.com", email="admin@example.com")
    Membership.objects.create(user=admin, business=tenant.business, role="admin")
    _, admins_key = api_key_create(business=tenant.business, kind="secret", created_by=admin)
    assert tenant.client(admins_key).delete("/api/v1/business").status_code == 403
    assert Business.objects.get(pk=tenant.business.pk).deletion_scheduled_for is None


def test_after_the_grace_period_no_row_of_the_business_remains_and_stripe_is_cancelled(
        stripe_on, localstripe):  # noqa: F811
    tenant, other = make_tenant(), make_tenant("Rival Noodles")
    _lived_in(tenant)
    _lived_in(other)
    live = _localstripe_subscription(tenant.business, localstripe)
    Subscription.objects.for_business(tenant.business).update(stripe_subscription_id=live.id, status="active")
    WhatsAppDelivery.objects.create(payload={"entry": [{"changes": [{"value": {"metadata": {
        "phone_number_id": "555"}}}]}]})
    from assistants.models import WhatsAppConnection
    WhatsAppConnection.objects.unscoped().create(business=tenant.business, assistant=tenant.assistant,
                                                 phone_number_id="555", access_token_encrypted="x")
    before_other = rows_of_business(other.business.pk)
    assert len(rows_of_business(tenant.business.pk)) >= 8

    tenant.client().delete("/api/v1/business")
    Business.objects.filter(pk=tenant.business.pk).update(deletion_scheduled_for=timezone.now())
    assert business_purge_due_task.apply().get() == 1  # queued the purge (run here by hand)
    result = business_purge_task.apply(args=[str(tenant.business.pk)]).get()
    assert result["assistants.Message"] >= 2 and result["businesses.AuditEvent"] >= 2

    assert rows_of_business(tenant.business.pk) == {}
    assert not Business.objects.filter(pk=tenant.business.pk).exists()
    assert not get_user_model().objects.filter(pk=tenant.user.pk).exists()  # the owner had no other business
    assert not WhatsAppDelivery.objects.exists()
    assert rows_of_business(other.business.pk) == before_other
    client = stripe.StripeClient("sk_test_frontdesk", base_addresses={"api": localstripe}, max_network_retries=0)
    assert client.v1.subscriptions.retrieve(live.id).status == "canceled"
    assert Conversation.objects.for_business(other.business).exists()
    assert Message.objects.for_business(other.business).exists()
    assert business_purge(business_id=tenant.business.pk) is None  # a second run finds nothing


def test_every_model_with_a_business_comes_before_the_models_it_points_at():
    order = tenant_models()
    assert Conversation in order and Message in order and AuditEvent in order
    assert order.index(Message) < order.index(Conversation)


def test_the_owner_deletes_and_restores_the_business_on_the_dashboard(tenant):
    browser = Client()
    browser.force_login(tenant.user)
    page = browser.get("/app/business/")
    assert page.status_code == 200 and "Delete this business" in page.content.decode()
    wrong = browser.post("/app/business/", {"action": "delete", "confirm_name": "nope"})
    assert wrong.status_code == 400
    assert Business.objects.get(pk=tenant.business.pk).deletion_scheduled_for is None
    browser.post("/app/business/", {"action": "delete", "confirm_name": tenant.business.name})
    assert Business.objects.get(pk=tenant.business.pk).deletion_scheduled_for is not None
    assert "Cancel the deletion" in browser.get("/app/business/").content.decode()
    browser.post("/app/business/", {"action": "cancel"})
    assert Business.objects.get(pk=tenant.business.pk).deletion_scheduled_for is None
    browser.post("/app/business/", {"action": "retention", "retention_days": "90"})
    assert Business.objects.get(pk=tenant.business.pk).retention_days == 90
    event = AuditEvent.objects.for_business(tenant.business).filter(action="business.deletion_requested").get()
    assert event.actor == tenant.user.email and event.actor_kind == "user"


def test_an_admin_cannot_open_the_business_page_nor_another_business_delete_this_one(tenant, other_tenant):
    admin = get_user_model().objects.create_user(username="a@example.com", email="a@example.com")
    Membership.objects.create(user=admin, business=tenant.business, role="admin")
    browser = Client()
    browser.force_login(admin)
    assert browser.get("/app/business/").status_code == 403
    assert browser.post("/app/business/", {"action": "delete", "confirm_name": tenant.business.name}
                        ).status_code == 403
    other_tenant.client().delete("/api/v1/business")
    assert Business.objects.get(pk=tenant.business.pk).deletion_scheduled_for is None
    assert Business.objects.get(pk=other_tenant.business.pk).deletion_scheduled_for is not None
