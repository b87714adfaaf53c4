"""Celery tasks of the knowledge tests: thin wrappers around the services."""

from __future__ import annotations

from celery import shared_task

from assistants.regression.services import knowledge_run


@shared_task(name="assistants.regression.tasks.knowledge_run_task", acks_late=True, reject_on_worker_lost=True)
def knowledge_run_task(business_id: str, run_id: str) -> None:
    knowledge_run(business_id=business_id, run_id=run_id)
