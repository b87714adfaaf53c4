"""The one place that builds a Stripe client, and helpers for Stripe's object shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import stripe
from django.conf import settings

from config.errors import ApplicationError

# Stripe errors worth retrying later: the request may succeed next time.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)


def is_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def client() -> stripe.StripeClient:
    """A StripeClient for the configured account, or 503 ``billing_not_configured``."""
    if not settings.STRIPE_SECRET_KEY:
        raise ApplicationError("billing_not_configured",
                               "Payments are not set up on this server (STRIPE_SECRET_KEY is not set).", status=503)
    kwargs: dict[str, Any] = {}
    if settings.STRIPE_API_BASE:
        kwargs["base_addresses"] = {"api": settings.STRIPE_API_BASE}
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
        http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT),
        **kwargs,
    )


def error_for_caller(exc: stripe.StripeError) -> ApplicationError:
    """A Stripe failure during a caller's request, in the API's error shape."""
    if isinstance(exc, TRANSIENT_ERRORS):
        return ApplicationError("stripe_unavailable", "Stripe did not answer; try again in a minute.", status=503)
    return ApplicationError("stripe_error", f"Stripe refused the request: {exc.user_message or exc}", status=502)


def timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def get(obj: Any, *path: str) -> Any:
    """``obj[a][b]…`` for dicts and StripeObjects, None where a step is missing."""
    for key in path:
        if obj is None:
            return None
        try:
            obj = obj[key]
        except (KeyError, TypeError, IndexError):
            return None
    return obj


def subscription_items(subscription: Any) -> list:
    return list(get(subscription, "items", "data") or [])


def subscription_period(subscription: Any) -> tuple[datetime | None, datetime | None]:
    """The current period. API 2025-03-31.basil moved it from the subscription onto its items."""
    start, end = get(subscription, "current_period_start"), get(subscription, "current_period_end")
    if not start or not end:
        for item in subscription_items(subscription):
            if get(item, "current_period_start") and get(item, "current_period_end"):
                start, end = item["current_period_start"], item["current_period_end"]
                break
    return timestamp(start), timestamp(end)


def subscription_price_ids(subscription: Any) -> list[str]:
    """The price ids on the subscription's items (legacy `plan` objects count as prices)."""
    ids = []
    for item in subscription_items(subscription):
        price_id = get(item, "price", "id") or get(item, "plan", "id")
        if price_id:
            ids.append(price_id)
    return ids


def invoice_subscription_id(invoice: Any) -> str | None:
    """The invoice's subscription: top level before API 2025-03-31.basil, under `parent` since."""
    value = get(invoice, "subscription") or get(invoice, "parent", "subscription_details", "subscription")
    if isinstance(value, str):
        return value
    return get(value, "id")


def object_id(value: Any) -> str | None:
    """An id from a field that is either an id or an expanded object."""
    if value is None or isinstance(value, str):
        return value
    return get(value, "id")
