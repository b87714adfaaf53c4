"""Celery tasks of the email channel: thin, idempotent.

Named ``assistants.tasks.channel_*`` (not after this module) so that the ``channels`` queue's
route in config/settings/redis.py applies to them; config/celery.py autodiscovers this module.
"""

from __future__ import annotations

import logging
import random

from celery import shared_task

from assistants.channels.email import services

logger = logging.getLogger(__name__)

# A mail server that cannot be reached: retried after about 30 s, 1, 2 and 4 min (± 25 %), long
# enough for a relay restart; then the handoff stays in the inbox without the mail.
MAX_RETRIES = 4
RETRY_BASE_SECONDS = 30


@shared_task(bind=True, name="assistants.tasks.channel_handoff_email_task", max_retries=MAX_RETRIES,
             acks_late=True, reject_on_worker_lost=True)
def channel_handoff_email_task(self, business_id: str, conversation_id: str, handoff_at: str) -> None:
    """Email the business's members and handoff address that a customer is waiting."""
    try:
        services.handoff_email_send(business_id=business_id, conversation_id=conversation_id,
                                    handoff_at=handoff_at)
    except services.TransientEmailError as exc:
        attempt = self.request.retries + 1
        if self.request.retries >= MAX_RETRIES:
            logger.error("handoff email for conversation %s given up after %d attempts: %s", conversation_id,
                         attempt, exc)
            return
        countdown = RETRY_BASE_SECONDS * 2 ** self.request.retries * random.uniform(0.75, 1.25)
        logger.warning("handoff email for conversation %s, attempt %d of %d: %s; retrying in %.0f s",
                       conversation_id, attempt, MAX_RETRIES + 1, exc, countdown)
        raise self.retry(exc=exc, countdown=countdown) from exc
