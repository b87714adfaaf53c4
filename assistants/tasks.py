"""Celery tasks of assistants/: thin wrappers that load ids and call services."""

from __future__ import annotations

import random

from celery import shared_task

from assistants.ingestion import pipeline
from assistants.services import sources_sweep

MAX_RETRIES = 3


@shared_task(bind=True, name="assistants.tasks.source_ingest_task", max_retries=MAX_RETRIES,
             acks_late=True, reject_on_worker_lost=True)
def source_ingest_task(self, business_id: str, source_id: str) -> None:
    try:
        pipeline.source_ingest(business_id=business_id, source_id=source_id,
                               final_attempt=self.request.retries >= MAX_RETRIES)
    except pipeline.TransientIngestionError as exc:
        # Exponential backoff with jitter: 10 s, 20 s, 40 s (± 25 %).
        countdown = 10 * 2 ** self.request.retries * random.uniform(0.75, 1.25)
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(name="assistants.tasks.source_sweep_task")
def source_sweep_task() -> int:
    """Re-queue sources a dead worker left behind (periodic, celery beat)."""
    return sources_sweep()
