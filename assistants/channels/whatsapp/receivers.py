"""The WhatsApp channel's part in conversations that chat runs (assistants/chat/signals.py).

``connect()`` runs in ``AssistantsConfig.ready``. The receivers run inside the transaction that
changed the conversation and queue their task for after its commit.
"""

from __future__ import annotations

from assistants.channels.whatsapp.services import owner_alert_connection
from assistants.channels.whatsapp.tasks import channel_whatsapp_owner_alert_task, channel_whatsapp_staff_task
from assistants.chat import signals
from assistants.models import Conversation, Message
from config.tasks import enqueue_on_commit


def owner_alert_on_handoff(sender, *, conversation: Conversation, notice: Message | None, **kwargs) -> None:
    """A widget or API conversation needs a person (chat wrote its notice): alert the owner on
    WhatsApp, if a connection names an owner number. A WhatsApp conversation's own handoff
    alerts the owner within the channel's flow (services._handoff)."""
    if notice is None:
        return
    if owner_alert_connection(conversation) is not None:
        enqueue_on_commit(channel_whatsapp_owner_alert_task, str(conversation.business_id), str(conversation.pk),
                          str(notice.pk))


def staff_message_deliver_on_send(sender, *, conversation: Conversation, message: Message, **kwargs) -> None:
    """The customer is on WhatsApp: the staff reply must leave through the Graph API too."""
    if conversation.channel == Conversation.Channel.WHATSAPP:
        enqueue_on_commit(channel_whatsapp_staff_task, str(conversation.business_id), str(message.pk))


def connect() -> None:
    signals.handoff_started.connect(owner_alert_on_handoff, dispatch_uid="whatsapp.owner_alert_on_handoff")
    signals.staff_message_sent.connect(staff_message_deliver_on_send,
                                       dispatch_uid="whatsapp.staff_message_deliver_on_send")
