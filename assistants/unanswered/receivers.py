"""Unanswered questions follow the conversations chat runs (assistants/chat/signals.py).

``connect()`` runs in ``AssistantsConfig.ready``. A receiver only queues a task for after the
commit (no query, no embedding): the customer's answer never waits for the collection.
"""

from __future__ import annotations

import functools
import logging

from assistants.chat import signals
from assistants.models import Conversation, Message
from assistants.unanswered.services import Reason, unanswered_record, unanswered_record_handoff

logger = logging.getLogger(__name__)


def _never_raise(receiver):
    """A receiver runs inside the customer's answer or handoff: its failure is logged, and the
    answer goes on without the question being collected."""

    @functools.wraps(receiver)
    def guarded(sender, **kwargs) -> None:
        try:
            receiver(sender, **kwargs)
        except Exception:
            logger.exception("unanswered: %s failed; the question is not collected", receiver.__name__)

    return guarded


@_never_raise
def unanswered_on_answer(sender, *, answer: Message, **kwargs) -> None:
    """The honest "I don't know" (grounding none): its question is unanswered."""
    if answer.grounding == Message.Grounding.NONE:
        unanswered_record(business_id=answer.business_id, message_id=answer.pk, reason=Reason.NO_ANSWER)


@_never_raise
def unanswered_on_handoff(sender, *, conversation: Conversation, **kwargs) -> None:
    unanswered_record_handoff(conversation=conversation)


@_never_raise
def unanswered_on_rating(sender, *, message: Message, rating: str | None, **kwargs) -> None:
    """A thumbs-down: the customer says the answer did not answer."""
    if rating == "down":
        unanswered_record(business_id=message.business_id, message_id=message.pk, reason=Reason.THUMBS_DOWN)


def connect() -> None:
    signals.answer_completed.connect(unanswered_on_answer, dispatch_uid="unanswered.on_answer")
    signals.answer_rated.connect(unanswered_on_rating, dispatch_uid="unanswered.on_rating")
    signals.handoff_started.connect(unanswered_on_handoff, dispatch_uid="unanswered.on_handoff")
