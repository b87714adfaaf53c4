"""Plans as data, lazy Free subscriptions, and the quota services the chat and knowledge code call."""

from __future__ import annotations

import importlib
import threading
from datetime import datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone

from assistants.models import Assistant
from assistants.services import source_create
from billing import holdings, selectors, services
from billing.models import Plan, Subscription, UsagePeriod
from config.errors import ApplicationError
from tests.conftest import make_tenant

MB = 1024 * 1024


def _usage(business) -> UsagePeriod:
    return UsagePeriod.objects.for_business(business).get()


def _on_plan(business, code: str, **fields) -> Subscription:
    sub = selectors.subscription_for(business=business)
    Subscription.objects.for_business(business).update(plan=Plan.objects.get(code=code), **fields)
    sub.refresh_from_db()
    return sub


def test_seeded_plans_have_the_documented_limits(db):
    free = Plan.objects.get(code="free")
    assert (free.messages_per_month, free.max_assistants, free.max_sources, free.max_knowledge_bytes) == (
        100, 1, 5, 10 * MB)
    assert not free.overage_allowed
    assert set(Plan.objects.values_list("code", flat=True)) >= {"free", "starter", "pro"}
    starter, pro = Plan.objects.get(code="starter"), Plan.objects.get(code="pro")
    assert starter.overage_allowed and pro.overage_allowed
    assert pro.messages_per_month > starter.messages_per_month > free.messages_per_month


def test_price_ids_come_from_settings(db, settings):
    settings.STRIPE_PRICE_IDS = {"starter": "price_from_env", "pro": ""}
    Plan.objects.filter(code="pro").update(stripe_price_id="price_from_admin")
    assert Plan.objects.get(code="starter").price_id == "price_from_env"
    assert Plan.objects.get(code="pro").price_id == "price_from_admin"


def test_new_business_starts_on_free(tenant):
    # Sign-up's first assistant passes the assistant quota, which creates the Free subscription.
    assert Subscription.objects.for_business(tenant.business).get().plan.code == "free"
    sub = selectors.subscription_for(business=tenant.business)
    assert sub.plan.code == "free" and sub.status == "active"
    assert selectors.subscription_for(business=tenant.business).pk == sub.pk


def test_free_allowance_is_reserved_then_refused_with_402(tenant):
    bid = tenant.business.pk
    for _ in range(100):
        services.message_quota_reserve(business_id=bid)
    with pytest.raises(ApplicationError) as exc:
        services.message_quota_reserve(business_id=bid)
    error = exc.value
    assert (error.code, error.status, error.details["limit"]) == ("quota_exceeded", 402, 100)
    resets_at = datetime.fromisoformat(error.details["resets_at"])
    now = timezone.now()
    assert resets_at > now and resets_at.day == 1 and resets_at - now < timedelta(days=32)
    assert _usage(tenant.business).messages_used == 100


def test_quotas_are_enforced_by_default(monkeypatch):
    from config.settings import billing as billing_settings

    try:
        monkeypatch.delenv("BILLING_ENFORCE_QUOTAS", raising=False)
        assert importlib.reload(billing_settings).BILLING_ENFORCE_QUOTAS is True
        monkeypatch.setenv("BILLING_ENFORCE_QUOTAS", "false")
        assert importlib.reload(billing_settings).BILLING_ENFORCE_QUOTAS is False
    finally:
        monkeypatch.undo()
        importlib.reload(billing_settings)


def test_with_quotas_off_no_402_past_the_allowance_but_answers_still_count(tenant, settings):
    bid = tenant.business.pk
    assert settings.BILLING_ENFORCE_QUOTAS is True
    Plan.objects.filter(code="free").update(messages_per_month=2)
    services.message_quota_reserve(business_id=bid)
    services.message_quota_reserve(business_id=bid)
    with pytest.raises(ApplicationError):
        services.message_quota_reserve(business_id=bid)

    settings.BILLING_ENFORCE_QUOTAS = False
    for _ in range(5):
        services.message_quota_reserve(business_id=bid)  # no 402, and nothing reserved
    services.message_quota_release(business_id=bid)  # nothing given back either
    services.usage_record_answer(business_id=bid, tokens_in=10, tokens_out=3)
    services.usage_flush()
    usage = _usage(tenant.business)
    assert (usage.messages_used, usage.answers, usage.tokens_in, usage.tokens_out) == (2, 1, 10, 3)

    settings.BILLING_ENFORCE_QUOTAS = True
    with pytest.raises(ApplicationError):
        services.message_quota_reserve(business_id=bid)


def test_release_gives_a_failed_answer_back(tenant):
    bid = tenant.business.pk
    services.message_quota_reserve(business_id=bid)
    UsagePeriod.objects.for_business(bid).update(messages_used=100)
    services.message_quota_release(business_id=bid)
    services.message_quota_reserve(business_id=bid)  # the released message is available again
    with pytest.raises(ApplicationError):
        services.message_quota_reserve(business_id=bid)


def test_release_never_goes_below_zero(tenant):
    services.message_quota_release(business_id=tenant.business.pk)
    services.message_quota_reserve(business_id=tenant.business.pk)
    services.message_quota_release(business_id=tenant.business.pk)
    services.message_quota_release(business_id=tenant.business.pk)
    assert _usage(tenant.business).messages_used == 0


def test_answers_and_tokens_are_counted(tenant):
    bid = tenant.business.pk
    services.usage_record_answer(business_id=bid, tokens_in=120, tokens_out=30)  # no reservation row yet
    services.message_quota_reserve(business_id=bid)
    services.usage_record_answer(business_id=bid, tokens_in=80, tokens_out=20)
    # Counted in Redis, no row update per answer; the billing overview already shows them.
    usage = _usage(tenant.business)
    assert (usage.answers, usage.tokens_in, usage.tokens_out, usage.messages_used) == (0, 0, 0, 1)
    assert selectors.billing_overview(business=tenant.business)["usage"]["tokens"] == {"in": 200, "out": 50}

    assert services.usage_flush() == 1
    usage = _usage(tenant.business)
    assert (usage.answers, usage.tokens_in, usage.tokens_out, usage.messages_used) == (2, 200, 50, 1)
    assert selectors.billing_overview(business=tenant.business)["usage"]["tokens"] == {"in": 200, "out": 50}
    assert services.usage_flush() == 0  # nothing counted twice
    assert _usage(tenant.business).answers == 2


def test_answers_counted_while_a_flush_runs_wait_for_the_next_one(tenant):
    bid = tenant.business.pk
    services.usage_record_answer(business_id=bid, tokens_in=5, tokens_out=1)
    original = services.quotas._usage_add

    def add_then_count_another(ctx, **kwargs):  # an answer lands between the read and the subtraction
        original(ctx, **kwargs)
        services.quotas.usage_record_answer(business_id=bid, tokens_in=7, tokens_out=2)

    services.quotas._usage_add = add_then_count_another
    try:
        services.usage_flush()
    finally:
        services.quotas._usage_add = original
    assert (_usage(tenant.business).answers, _usage(tenant.business).tokens_in) == (1, 5)
    services.usage_flush()
    usage = _usage(tenant.business)
    assert (usage.answers, usage.tokens_in, usage.tokens_out) == (2, 12, 3)


def test_without_a_reachable_redis_the_answer_is_counted_in_the_database(tenant, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    services.usage_record_answer(business_id=tenant.business.pk, tokens_in=9, tokens_out=4)
    usage = _usage(tenant.business)
    assert (usage.answers, usage.tokens_in, usage.tokens_out) == (1, 9, 4)


def test_the_flush_forgets_the_counts_of_a_deleted_business(tenant):
    other = make_tenant("gone")
    services.usage_record_answer(business_id=other.business.pk, tokens_in=3, tokens_out=1)
    services.usage_record_answer(business_id=tenant.business.pk, tokens_in=2, tokens_out=1)
    other.business.delete()
    assert services.usage_flush() == 1
    assert _usage(tenant.business).answers == 1
    assert services.usage_flush() == 0


def test_usage_is_counted_per_business(tenant, other_tenant):
    services.message_quota_reserve(business_id=tenant.business.pk)
    services.message_quota_reserve(business_id=tenant.business.pk)
    services.message_quota_reserve(business_id=other_tenant.business.pk)
    assert _usage(tenant.business).messages_used == 2
    assert _usage(other_tenant.business).messages_used == 1


def test_overage_plan_serves_past_the_allowance(tenant):
    _on_plan(tenant.business, "starter", status="active")
    Plan.objects.filter(code="starter").update(messages_per_month=2)
    for _ in range(5):
        services.message_quota_reserve(business_id=tenant.business.pk)
    usage = _usage(tenant.business)
    assert (usage.messages_used, usage.messages_limit, usage.overage_billable, usage.overage) == (5, 2, True, 3)


def test_free_plan_has_no_overage(tenant):
    Plan.objects.filter(code="free").update(messages_per_month=1)
    services.message_quota_reserve(business_id=tenant.business.pk)
    with pytest.raises(ApplicationError):
        services.message_quota_reserve(business_id=tenant.business.pk)
    assert _usage(tenant.business).overage_billable is False


def test_paid_plan_counts_in_its_stripe_period(tenant):
    start = timezone.now() - timedelta(days=3)
    _on_plan(tenant.business, "pro", status="active", current_period_start=start,
             current_period_end=start + timedelta(days=30))
    services.message_quota_reserve(business_id=tenant.business.pk)
    usage = _usage(tenant.business)
    assert usage.period_start == start and usage.period_end == start + timedelta(days=30)


def test_past_due_keeps_the_plan_for_the_grace_period_then_falls_to_free(tenant, settings):
    settings.BILLING_PAST_DUE_GRACE_DAYS = 7
    sub = _on_plan(tenant.business, "pro", status="past_due", past_due_since=timezone.now() - timedelta(days=6))
    assert selectors.plan_effective(subscription=sub).code == "pro"
    services.assistant_quota_check(business=tenant.business)  # Pro: 10 assistants

    Subscription.objects.for_business(tenant.business).update(past_due_since=timezone.now() - timedelta(days=8))
    sub.refresh_from_db()
    assert selectors.plan_effective(subscription=sub).code == "free"
    with pytest.raises(ApplicationError) as exc:
        services.assistant_quota_check(business=tenant.business)
    assert exc.value.details["limit"] == 1


@pytest.mark.parametrize("status", ["canceled", "unpaid", "incomplete", "incomplete_expired"])
def test_a_subscription_that_is_not_paid_gets_free_limits(tenant, status):
    sub = _on_plan(tenant.business, "pro", status=status)
    assert selectors.plan_effective(subscription=sub).code == "free"


def test_assistant_quota(tenant):
    # Signup created the first assistant; Free allows one.
    with pytest.raises(ApplicationError) as exc:
        services.assistant_quota_check(business=tenant.business)
    assert (exc.value.code, exc.value.status, exc.value.details["limit"]) == ("quota_exceeded", 402, 1)
    _on_plan(tenant.business, "starter", status="active")
    services.assistant_quota_check(business=tenant.business)
    assert Assistant.objects.for_business(tenant.business).count() == 1


def test_source_count_quota(tenant):
    for n in range(5):
        services.source_quota_check(business=tenant.business, adding_bytes=10)
        source_create(assistant=tenant.assistant, kind="text", title=f"S{n}", text="0123456789")
    with pytest.raises(ApplicationError) as exc:
        services.source_quota_check(business=tenant.business, adding_bytes=10)
    assert exc.value.details["limit"] == 5 and exc.value.details["resource"] == "sources"


def test_knowledge_size_quota(tenant):
    source_create(assistant=tenant.assistant, kind="text", title="Big", text="x" * (9 * MB))
    services.source_quota_check(business=tenant.business, adding_bytes=MB)
    with pytest.raises(ApplicationError) as exc:
        services.source_quota_check(business=tenant.business, adding_bytes=MB + 1)
    assert exc.value.status == 402
    assert exc.value.details == {"limit": 10 * MB, "resource": "knowledge_bytes", "used": 9 * MB,
                                 "adding": MB + 1}


def test_another_business_sources_do_not_count(tenant):
    other_tenant = make_tenant("Rival Noodles", plan="pro")
    source_create(assistant=other_tenant.assistant, kind="text", title="Big", text="x" * (10 * MB))
    services.source_quota_check(business=tenant.business, adding_bytes=MB)


def test_quotas_count_with_the_counters_the_owning_app_registered(tenant, monkeypatch):
    """Billing reads no assistants table: it counts with what AssistantsConfig.ready registered."""
    monkeypatch.setattr(holdings, "_counters", {})
    with pytest.raises(ImproperlyConfigured):  # fails closed: never "nothing counted, all allowed"
        services.assistant_quota_check(business=tenant.business)
    holdings.holdings_counters_register(assistants=lambda *, business_id: 0,
                                        knowledge=lambda *, business_id: (5, 0))
    services.assistant_quota_check(business=tenant.business)  # the sign-up's assistant is not counted now
    with pytest.raises(ApplicationError) as exc:
        services.source_quota_check(business=tenant.business, adding_bytes=1)
    assert exc.value.details["resource"] == "sources" and exc.value.details["used"] == 5
    assert selectors.billing_overview(business=tenant.business)["usage"]["sources"]["used"] == 5


def test_fifty_concurrent_reservations_spend_exactly_the_ten_left(transactional_db):
    """Each thread has its own database connection; the allowance is never overspent."""
    tenant = make_tenant("Busy Bistro", plan=None)
    bid = tenant.business.pk
    services.message_quota_reserve(business_id=bid)
    UsagePeriod.objects.for_business(bid).update(messages_used=90)

    barrier = threading.Barrier(50)
    results: list[str] = []
    lock = threading.Lock()

    def reserve() -> None:
        try:
            barrier.wait(timeout=30)
            try:
                services.message_quota_reserve(business_id=bid)
                outcome = "ok"
            except ApplicationError as exc:
                outcome = f"{exc.status}"
            with lock:
                results.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=reserve) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results).count("ok") == 10
    assert results.count("402") == 40
    assert _usage(tenant.business).messages_used == 100
