"""Reads of webhook endpoints and deliveries."""

from __future__ import annotations

from django.db.models import QuerySet

from businesses.models import Business, WebhookDelivery, WebhookEndpoint


def webhook_endpoint_list(*, business: Business) -> QuerySet[WebhookEndpoint]:
    """Unordered: the list's paginator orders it (businesses/api/pagination.py)."""
    return WebhookEndpoint.objects.for_business(business)


def webhook_delivery_list(*, endpoint: WebhookEndpoint, status: str | None = None) -> QuerySet[WebhookDelivery]:
    """Unordered: the list's paginator orders it (businesses/api/pagination.py)."""
    deliveries = WebhookDelivery.objects.for_business(endpoint.business_id).filter(endpoint=endpoint)
    if status:
        deliveries = deliveries.filter(status=status)
    return deliveries
