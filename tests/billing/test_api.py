"""GET /api/v1/billing, checkout and portal: shapes, Stripe calls, keys and tenants."""

from __future__ import annotations

import pytest
import stripe

from billing import services
from billing.models import Plan, Subscription
from billing.selectors import subscription_for
from tests.billing.conftest import PRICE_STARTER

CHECKOUT = {"plan": "starter", "success_url": "https://dragon.example/ok", "cancel_url": "https://dragon.example/no"}
ENDPOINTS = [("get", "/api/v1/billing", None), ("post", "/api/v1/billing/checkout", CHECKOUT),
             ("post", "/api/v1/billing/portal", {})]


def _call(client, method, path, body):
    return getattr(client, method)(path, body, format="json") if body is not None else getattr(client, method)(path)


def _localstripe_customers(localstripe: str) -> list:
    client = stripe.StripeClient("sk_test_frontdesk", base_addresses={"api": localstripe}, max_network_retries=0)
    return list(client.v1.customers.list(params={"limit": 100}).data)


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_no_key_is_401(db, anon, method, path, body):
    response = _call(anon, method, path, body)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_publishable_key_is_403(tenant, method, path, body):
    response = _call(tenant.client(tenant.publishable_key), method, path, body)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_billing_shows_plan_status_and_usage(tenant):
    for _ in range(3):
        services.message_quota_reserve(business_id=tenant.business.pk)
    services.usage_record_answer(business_id=tenant.business.pk, tokens_in=10, tokens_out=5)
    body = tenant.client().get("/api/v1/billing").json()
    assert body["plan"]["code"] == "free" and body["plan"]["name"] == "Free"
    assert body["plan"]["limits"]["messages_per_month"] == 100
    assert body["status"] == "active" and body["period_end"]
    assert body["usage"]["messages"]["used"] == 3 and body["usage"]["messages"]["limit"] == 100
    assert body["usage"]["assistants"] == {"used": 1, "limit": 1}
    assert body["usage"]["sources"] == {"used": 0, "limit": 5}
    assert body["usage"]["knowledge_bytes"]["limit"] == 10 * 1024 * 1024
    assert body["usage"]["tokens"] == {"in": 10, "out": 5}


def test_a_business_sees_only_its_own_billing(tenant, other_tenant):
    Subscription.objects.for_business(subscription_for(business=tenant.business).business_id).update(
        plan=Plan.objects.get(code="pro"), stripe_customer_id="cus_dragon")
    for _ in range(7):
        services.message_quota_reserve(business_id=tenant.business.pk)
    body = other_tenant.client().get("/api/v1/billing").json()
    assert body["plan"]["code"] == "free"
    assert body["usage"]["messages"]["used"] == 0
    assert "cus_dragon" not in str(body)


def test_checkout_and_portal_answer_503_without_stripe(tenant, settings):
    settings.STRIPE_SECRET_KEY = ""
    for path, body in (("/api/v1/billing/checkout", CHECKOUT), ("/api/v1/billing/portal", {})):
        response = tenant.client().post(path, body, format="json")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "billing_not_configured"
    assert tenant.client().get("/api/v1/billing").status_code == 200  # plans and quotas still work


def test_checkout_creates_a_subscription_session_and_one_customer(tenant, stripe_on, localstripe):
    before = len(_localstripe_customers(localstripe))
    first = tenant.client().post("/api/v1/billing/checkout", CHECKOUT, format="json")
    assert first.status_code == 200, first.content
    assert first.json()["url"].startswith("https://checkout.stripe.com/c/pay/cs_test_")
    second = tenant.client().post("/api/v1/billing/checkout", {**CHECKOUT, "plan": "pro"}, format="json")
    assert second.status_code == 200

    customers = _localstripe_customers(localstripe)
    assert len(customers) == before + 1  # created once, reused
    customer_id = subscription_for(business=tenant.business).stripe_customer_id
    assert customer_id.startswith("cus_")
    created = next(c for c in customers if c.id == customer_id)
    assert created.metadata["business_id"] == str(tenant.business.pk)

    sessions = stripe_on.calls("/v1/checkout/sessions")
    assert len(sessions) == 2
    form = sessions[0].form
    assert form["mode"] == "subscription"
    assert form["customer"] == customer_id and sessions[1].form["customer"] == customer_id
    assert form["line_items[0][price]"] == PRICE_STARTER and form["line_items[0][quantity]"] == "1"
    assert form["client_reference_id"] == str(tenant.business.pk)
    assert form["subscription_data[metadata][business_id]"] == str(tenant.business.pk)
    assert form["success_url"] == CHECKOUT["success_url"] and form["cancel_url"] == CHECKOUT["cancel_url"]
    assert sessions[0].headers["Authorization"] == "Bearer sk_test_frontdesk"


def test_checkout_adds_the_metered_price_when_set(tenant, stripe_on, settings):
    settings.STRIPE_OVERAGE_PRICE_IDS = {"starter": "price_metered_starter", "pro": ""}
    assert tenant.client().post("/api/v1/billing/checkout", CHECKOUT, format="json").status_code == 200
    form = stripe_on.calls("/v1/checkout/sessions")[0].form
    assert form["line_items[1][price]"] == "price_metered_starter"
    assert "line_items[1][quantity]" not in form


@pytest.mark.parametrize("plan", ["free", "enterprise", ""])
def test_checkout_refuses_a_plan_that_cannot_be_bought(tenant, stripe_on, plan):
    response = tenant.client().post("/api/v1/billing/checkout", {**CHECKOUT, "plan": plan}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert not stripe_on.calls("/v1/checkout/sessions")


def test_checkout_refuses_a_second_subscription(tenant, stripe_on):
    subscription_for(business=tenant.business)
    Subscription.objects.for_business(tenant.business).update(plan=Plan.objects.get(code="starter"), status="active")
    response = tenant.client().post("/api/v1/billing/checkout", CHECKOUT, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "subscription_exists"


def test_checkout_without_a_price_id_is_not_configured(tenant, stripe_on, settings):
    settings.STRIPE_PRICE_IDS = {"starter": "", "pro": ""}
    response = tenant.client().post("/api/v1/billing/checkout", CHECKOUT, format="json")
    assert response.status_code == 503
    assert "STRIPE_PRICE_STARTER" in response.json()["error"]["message"]


def test_portal_uses_the_business_own_customer(tenant, other_tenant, stripe_on):
    tenant.client().post("/api/v1/billing/checkout", CHECKOUT, format="json")
    mine = subscription_for(business=tenant.business).stripe_customer_id
    response = other_tenant.client().post("/api/v1/billing/portal", {"return_url": "https://rival.example/"},
                                          format="json")
    assert response.status_code == 200
    assert response.json()["url"].startswith("https://billing.stripe.com/p/session/")
    theirs = subscription_for(business=other_tenant.business).stripe_customer_id
    assert theirs and theirs != mine
    portal = stripe_on.calls("/v1/billing_portal/sessions")[0].form
    assert portal == {"customer": theirs, "return_url": "https://rival.example/"}

    tenant.client().post("/api/v1/billing/portal", {}, format="json")
    assert stripe_on.calls("/v1/billing_portal/sessions")[1].form == {"customer": mine}


def test_stripe_down_is_a_503_the_caller_can_retry(tenant, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_frontdesk"
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens on the discard port
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.STRIPE_PRICE_IDS = {"starter": PRICE_STARTER, "pro": ""}
    response = tenant.client().post("/api/v1/billing/checkout", CHECKOUT, format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "stripe_unavailable"
    assert subscription_for(business=tenant.business).stripe_customer_id == ""
