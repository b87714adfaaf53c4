"""Feedback on answers: the customer (or the business) rates an assistant answer helpful or not,
with an optional comment.

One rating per answer: a later one replaces the rating and the comment, ``None`` removes both.
Other parts follow ratings through the ``answer_rated`` signal (unanswered questions can take a
thumbs-down as a question the assistant did not answer well; analytics counts them) without chat
importing them; integrators get the ``message.rated`` webhook event.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from assistants.chat import signals
from assistants.chat.services import customer_token_matches
from assistants.models import Message
from businesses.models import ApiKey, Business
from businesses.webhooks.services import event_emit
from config.errors import ApplicationError, NotFoundError

RATINGS: tuple[str, ...] = tuple(Message.Rating.values)  # "up", "down"
COMMENT_MAX_LENGTH = Message._meta.get_field("rating_comment").max_length


def message_for_caller(*, business: Business, message_id, key: ApiKey, customer_token: str | None) -> Message:
    """The message if this caller may rate it, otherwise 404 (never confirm it exists): a secret
    key reaches every message of its business, a publishable key only the messages of the
    conversation its ``X-Customer-Token`` opens (``conversation_for_caller``'s rule)."""
    message = (Message.objects.for_business(business).select_related("conversation")
               .filter(pk=message_id).first())
    if message is None or not (key.is_secret or customer_token_matches(message.conversation, customer_token)):
        raise NotFoundError("message")
    return message


def message_rate(*, message: Message, rating: str | None, comment: str = "") -> Message:
    """Rate an assistant answer "up" or "down" with an optional comment (at most 1000
    characters), replacing any earlier rating; ``rating=None`` removes the rating and its
    comment. Only a complete assistant answer can be rated (400 ``not_an_answer``).

    A change sends ``answer_rated`` and emits ``message.rated``, inside the transaction that
    saved it; the same rating and comment again change nothing and send nothing.
    """
    comment = (comment or "").strip()
    if rating is not None and rating not in RATINGS:
        raise ApplicationError("validation_error", "rating must be up, down or null.",
                               details={"fields": {"rating": ["Choose up, down or null."]}})
    if len(comment) > COMMENT_MAX_LENGTH:
        raise ApplicationError("validation_error", f"A comment has at most {COMMENT_MAX_LENGTH} characters.",
                               details={"fields": {"comment": [f"At most {COMMENT_MAX_LENGTH} characters."]}})
    if rating is None and comment:
        raise ApplicationError("validation_error", "A comment goes with a rating: send up or down with it.",
                               details={"fields": {"comment": ["Send it with a rating."]}})
    with transaction.atomic():
        locked = (Message.objects.for_business(message.business_id).select_for_update(of=("self",))
                  .select_related("conversation").get(pk=message.pk))
        if locked.role != Message.Role.ASSISTANT:
            raise ApplicationError("not_an_answer", f"Only the assistant's answers can be rated; this is a "
                                   f"{locked.role} message.", details={"role": locked.role})
        if locked.status != Message.Status.COMPLETE:
            raise ApplicationError("not_an_answer", f"Only a complete answer can be rated; this one is "
                                   f"{locked.status}.", details={"status": locked.status})
        previous = locked.rating or None
        if previous == rating and locked.rating_comment == comment:
            return locked
        locked.rating = rating or ""
        locked.rating_comment = comment
        locked.rated_at = timezone.now() if rating else None
        locked.save(update_fields=["rating", "rating_comment", "rated_at", "updated_at"])
        event_emit(business_id=locked.business_id, type="message.rated", data={
            "message_id": str(locked.pk), "conversation_id": str(locked.conversation_id),
            "assistant_id": str(locked.conversation.assistant_id), "rating": rating, "previous_rating": previous,
            "comment": comment, "rated_at": locked.rated_at})
        signals.answer_rated.send(sender=Message, message=locked, rating=rating, previous=previous)
    return locked
