"""Celery tasks of unanswered questions: thin, idempotent, on the ``ingest`` queue (the worker
that embeds knowledge; nothing a customer waits for). Named ``assistants.tasks.unanswered_*``
for the route in config/settings/redis.py; config/celery.py autodiscovers this module."""

from __future__ import annotations

import logging
import random
from datetime import datetime

from celery import shared_task

from assistants.unanswered import services

logger = logging.getLogger(__name__)

# An embedding server that does not answer: retried after about 10, 20 and 40 s (± 25 %); then
# the question is stored without a topic, and filed by the next collection that embeds.
MAX_RETRIES = 3
RETRY_BASE_SECONDS = 10


def _retry(task, exc: Exception, what: str):
    countdown = RETRY_BASE_SECONDS * 2 ** task.request.retries * random.uniform(0.75, 1.25)
    logger.warning("unanswered: %s, attempt %d of %d: %s; retrying in %.0f s", what, task.request.retries + 1,
                   MAX_RETRIES + 1, exc, countdown)
    return task.retry(exc=exc, countdown=countdown)


@shared_task(bind=True, name="assistants.tasks.unanswered_collect_task", max_retries=MAX_RETRIES,
             acks_late=True, reject_on_worker_lost=True)
def unanswered_collect_task(self, business_id: str, message_id: str, reason: str) -> None:
    """File the question of ``message_id`` (a customer message or the answer to one) under a topic."""
    try:
        services.unanswered_collect(business_id=business_id, message_id=message_id, reason=reason,
                                    final_attempt=self.request.retries >= MAX_RETRIES)
    except services.TransientCollectError as exc:
        raise _retry(self, exc, f"question of message {message_id}") from exc


@shared_task(bind=True, name="assistants.tasks.unanswered_handoff_task", max_retries=MAX_RETRIES,
             acks_late=True, reject_on_worker_lost=True)
def unanswered_handoff_task(self, business_id: str, conversation_id: str, handoff_at: str) -> None:
    """File the last customer question before a handoff under a topic."""
    try:
        services.collect_handoff(business_id=business_id, conversation_id=conversation_id,
                                 handoff_at=datetime.fromisoformat(handoff_at),
                                 final_attempt=self.request.retries >= MAX_RETRIES)
    except services.TransientCollectError as exc:
        raise _retry(self, exc, f"handoff of conversation {conversation_id}") from exc
