"""Celery tasks of data and privacy: thin wrappers over retention.py and tenant.py. The beat
schedule is in config/settings/redis.py; config/celery.py autodiscovers this module."""

from __future__ import annotations

from celery import shared_task

from billing.stripe_api import TRANSIENT_ERRORS


@shared_task(name="assistants.privacy.tasks.retention_sweep_task")
def retention_sweep_task() -> dict:
    from assistants.privacy.retention import retention_sweep

    return vars(retention_sweep())


@shared_task(name="assistants.privacy.tasks.business_purge_task", bind=True, autoretry_for=TRANSIENT_ERRORS,
             retry_backoff=60, retry_backoff_max=3600, max_retries=8)
def business_purge_task(self, business_id: str) -> dict | None:
    from assistants.privacy.tenant import business_purge

    return business_purge(business_id=business_id)


@shared_task(name="assistants.privacy.tasks.business_purge_due_task")
def business_purge_due_task() -> int:
    from assistants.privacy.tenant import business_purge_due

    due = business_purge_due()
    for business_id in due:
        business_purge_task.delay(business_id)
    return len(due)
