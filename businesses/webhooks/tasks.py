"""Celery tasks of outgoing webhooks (queue ``webhooks`` via the ``*.webhook_*`` route)."""

from __future__ import annotations

from celery import shared_task

from businesses.webhooks import services


@shared_task(name="businesses.webhooks.tasks.webhook_deliver_task")
def webhook_deliver_task(business_id: str, delivery_id: str) -> None:
    """One attempt of one delivery; the service schedules the next one itself."""
    services.delivery_attempt(business_id=business_id, delivery_id=delivery_id)


@shared_task(name="businesses.webhooks.tasks.webhook_sweep_task")
def webhook_sweep_task() -> int:
    return services.webhook_sweep()
