"""Celery tasks of the owner's digest: thin, idempotent (OwnerDigest is unique per week).

Named ``assistants.tasks.channel_*`` so that the ``channels`` queue's route applies to them;
config/celery.py autodiscovers this module.
"""

from __future__ import annotations

from celery import shared_task

from assistants.channels.owner import services


@shared_task(name="assistants.tasks.channel_owner_digest_sweep_task")
def channel_owner_digest_sweep_task() -> int:
    """Celery beat, every OWNER_DIGEST_SWEEP_INTERVAL seconds: queue the digests that are due."""
    due = services.owner_digests_due()
    for business_id in due:
        channel_owner_digest_task.delay(str(business_id))
    return len(due)


@shared_task(name="assistants.tasks.channel_owner_digest_task", acks_late=True, reject_on_worker_lost=True)
def channel_owner_digest_task(business_id: str) -> None:
    services.owner_digest_send(business_id=business_id)
