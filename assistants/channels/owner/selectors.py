"""Reads for the weekly digest."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db.models import Count, Q

from assistants.models import Conversation, Message, UnansweredTopic
from assistants.unanswered.selectors import topic_examples_attach

DIGEST_TOPICS = 5  # unanswered topics a digest lists


def week_numbers(*, business_id: uuid.UUID | str, start: datetime, end: datetime) -> dict[str, int]:
    """The week's numbers of a business over ``[start, end)``, playground excluded.

    One function on purpose: when the analytics rollup exists, this is the one place to read it
    from instead. ``conversations``: started in the period; ``handed_off``: of those, the ones
    a person took over (a handoff reason is kept, or they are in handoff now); ``answered`` /
    ``not_answered``: the assistant's answers in the period grounded in the knowledge, catalog or
    hours / with grounding none; ``thumbs_up`` / ``thumbs_down``: ratings given in the period."""
    conversations = (Conversation.objects.for_business(business_id).exclude(channel=Conversation.Channel.PLAYGROUND)
                     .filter(created_at__gte=start, created_at__lt=end)
                     .aggregate(total=Count("id"),
                                handed_off=Count("id", filter=Q(state=Conversation.State.HANDOFF)
                                                 | Q(metadata__has_key="handoff_reason"))))
    messages = Message.objects.for_business(business_id).exclude(conversation__channel=Conversation.Channel.PLAYGROUND)
    answers = messages.filter(role=Message.Role.ASSISTANT, status=Message.Status.COMPLETE, created_at__gte=start,
                              created_at__lt=end).aggregate(
        answered=Count("id", filter=~Q(grounding__in=[Message.Grounding.NONE, ""])),
        not_answered=Count("id", filter=Q(grounding=Message.Grounding.NONE)))
    ratings = messages.filter(rated_at__gte=start, rated_at__lt=end).aggregate(
        up=Count("id", filter=Q(rating=Message.Rating.UP)), down=Count("id", filter=Q(rating=Message.Rating.DOWN)))
    return {"conversations": conversations["total"], "handed_off": conversations["handed_off"],
            "answered": answers["answered"], "not_answered": answers["not_answered"],
            "thumbs_up": ratings["up"], "thumbs_down": ratings["down"]}


def digest_topics(*, business_id: uuid.UUID | str, start: datetime, end: datetime,
                  limit: int = DIGEST_TOPICS) -> list[UnansweredTopic]:
    """The business's open unanswered topics asked about in ``[start, end)``, most asked that
    week first (then most asked ever), with ``week_count`` and ``examples`` set."""
    topics = list(UnansweredTopic.objects.for_business(business_id).filter(status=UnansweredTopic.Status.OPEN)
                  .annotate(week_count=Count("questions", filter=Q(questions__asked_at__gte=start,
                                                                   questions__asked_at__lt=end)))
                  .filter(week_count__gt=0).order_by("-week_count", "-count", "-last_seen", "id")[:limit])
    return topic_examples_attach(topics, limit=1)
