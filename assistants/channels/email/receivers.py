"""The email channel's part in conversations that chat runs (assistants/chat/signals.py).

``connect()`` runs in ``AssistantsConfig.ready``. The receiver runs inside the transaction that
changed the conversation and queues its task for after its commit.
"""

from __future__ import annotations

from assistants.channels.email.tasks import channel_handoff_email_task
from assistants.chat import signals
from assistants.models import Conversation
from config.tasks import enqueue_on_commit


def handoff_email_on_handoff(sender, *, conversation: Conversation, **kwargs) -> None:
    """Any channel's conversation needs a person: email the business's people. The handoff is
    named by the conversation's ``updated_at``, which ``conversation_set_state`` stamps in the
    UPDATE that changed the state: a retry carries the same stamp, a later handoff a new one."""
    enqueue_on_commit(channel_handoff_email_task, str(conversation.business_id), str(conversation.pk),
                      conversation.updated_at.isoformat())


def connect() -> None:
    signals.handoff_started.connect(handoff_email_on_handoff, dispatch_uid="email.handoff_email_on_handoff")
