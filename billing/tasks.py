"""Celery tasks of billing/ (queue ``billing``): thin wrappers that call services."""

from __future__ import annotations

import random

from celery import shared_task

from billing import services, stripe_api

MAX_RETRIES = 5


@shared_task(bind=True, name="billing.tasks.stripe_event_process_task", max_retries=MAX_RETRIES,
             acks_late=True, reject_on_worker_lost=True)
def stripe_event_process_task(self, event_id: str) -> str:
    """Process one stored Stripe event. Takes the event's id: its business is known only once
    the event is read. Retries only when Stripe could not be reached."""
    try:
        return services.stripe_event_process(event_id=event_id)
    except stripe_api.TRANSIENT_ERRORS as exc:
        # Exponential backoff with jitter: 15 s, 30 s, 60 s, … (± 25 %).
        countdown = 15 * 2 ** self.request.retries * random.uniform(0.75, 1.25)
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(name="billing.tasks.usage_report_task")
def usage_report_task() -> dict[str, int]:
    """Report overage usage to Stripe Billing Meters (periodic, celery beat). Failed rows are
    retried on the next run with the same identifiers."""
    return services.usage_report()


@shared_task(name="billing.tasks.usage_flush_task")
def usage_flush_task() -> int:
    """Add the answer and token counts kept in Redis to the usage rows (periodic, celery beat)."""
    return services.usage_flush()
