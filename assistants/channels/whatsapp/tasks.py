"""Celery tasks of the WhatsApp channel: thin, idempotent.

Named ``assistants.tasks.channel_*`` (not after this module) so that the ``channels`` queue's
route in config/settings/redis.py applies to them; config/celery.py autodiscovers this module.
"""

from __future__ import annotations

import random

from celery import shared_task

from assistants.channels.whatsapp import services

MAX_RETRIES = 2  # model-server failures; then the customer is told and a person takes over


@shared_task(bind=True, name="assistants.tasks.channel_whatsapp_inbound_task", max_retries=MAX_RETRIES,
             acks_late=True, reject_on_worker_lost=True)
def channel_whatsapp_inbound_task(self, business_id: str, inbound_id: str) -> None:
    try:
        services.inbound_process(business_id=business_id, inbound_id=inbound_id,
                                 final_attempt=self.request.retries >= MAX_RETRIES)
    except services.TransientChannelError as exc:
        # 30 s, 60 s (± 25 %): long enough for a restarting model server.
        raise self.retry(exc=exc, countdown=30 * 2 ** self.request.retries * random.uniform(0.75, 1.25)) from exc


@shared_task(name="assistants.tasks.channel_whatsapp_staff_task", acks_late=True,
             reject_on_worker_lost=True)
def channel_whatsapp_staff_task(business_id: str, message_id: str) -> None:
    """Deliver a staff message written through the API to the WhatsApp customer."""
    services.staff_message_deliver(business_id=business_id, message_id=message_id)


@shared_task(name="assistants.tasks.channel_whatsapp_owner_alert_task", acks_late=True,
             reject_on_worker_lost=True)
def channel_whatsapp_owner_alert_task(business_id: str, conversation_id: str, notice_id: str) -> None:
    """Tell the owner on WhatsApp that a web-widget or API conversation needs a person."""
    services.owner_alert_send(business_id=business_id, conversation_id=conversation_id, notice_id=notice_id)
