"""Billing use cases. The quota services are the interface the chat and knowledge code call."""

from billing.services.metering import usage_report, usage_report_one
from billing.services.quotas import (
    assistant_quota_check,
    message_quota_release,
    message_quota_reserve,
    source_quota_check,
    usage_flush,
    usage_record_answer,
)
from billing.services.subscriptions import (
    checkout_session_create,
    portal_session_create,
    stripe_customer_ensure,
    subscription_apply,
    subscription_cancel_now,
)
from billing.services.webhooks import stripe_event_process, stripe_event_receive

__all__ = [
    "assistant_quota_check",
    "checkout_session_create",
    "message_quota_release",
    "message_quota_reserve",
    "portal_session_create",
    "source_quota_check",
    "stripe_customer_ensure",
    "stripe_event_process",
    "stripe_event_receive",
    "subscription_apply",
    "subscription_cancel_now",
    "usage_flush",
    "usage_record_answer",
    "usage_report",
    "usage_report_one",
]
