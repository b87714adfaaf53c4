"""Celery tasks of analytics: thin, idempotent (a rollup replaces whole days), on the ``ingest``
queue. Named ``assistants.tasks.analytics_*`` for the route in config/settings/redis.py;
config/celery.py autodiscovers this module."""

from __future__ import annotations

import logging

from celery import shared_task

from assistants.analytics import services
from businesses.models import Business

logger = logging.getLogger(__name__)

BATCH = 200  # businesses per task: a few seconds of work, so no worker is held for long


@shared_task(name="assistants.tasks.analytics_rollup_task")
def analytics_rollup_task() -> int:
    """Celery beat: every business's yesterday and today, in batches of :data:`BATCH` tasks.
    Returns the number of batches queued."""
    ids = [str(pk) for pk in Business.objects.order_by("pk").values_list("pk", flat=True)]
    batches = [ids[i:i + BATCH] for i in range(0, len(ids), BATCH)]
    for batch in batches:
        analytics_rollup_batch_task.delay(batch)
    return len(batches)


@shared_task(name="assistants.tasks.analytics_rollup_batch_task", acks_late=True, reject_on_worker_lost=True)
def analytics_rollup_batch_task(business_ids: list[str]) -> int:
    """Roll up yesterday and today of each business, each in its own short transaction; one
    business's failure is logged and the others go on (the next beat tries it again)."""
    rows = 0
    for business_id in business_ids:
        try:
            rows += services.analytics_rollup_recent(business_id=business_id)
        except Exception:
            logger.exception("analytics: rollup of business %s failed; the next run retries it", business_id)
    return rows
