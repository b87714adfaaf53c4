"""Reads of unanswered questions and their topics."""

from __future__ import annotations

import re
import uuid
from collections import Counter

from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from assistants.models import Assistant, UnansweredQuestion, UnansweredTopic

EXAMPLES = 5  # example questions a topic shows
_EXAMPLES_SCAN = 50  # newest questions per topic read to find them (repeats are skipped)
_TRAILING = re.compile(r"[\s?!.。？！]+$")


def question_key(text: str) -> str:
    """Two questions that differ only in case, spacing or the final "?" are the same question."""
    return _TRAILING.sub("", " ".join(text.casefold().split()))


def topic_list(*, assistant: Assistant, status: str | None = None) -> QuerySet[UnansweredTopic]:
    """The assistant's topics with ``reason_<reason>`` counts; unordered (the list's paginator
    orders it: most asked first)."""
    queryset = UnansweredTopic.objects.for_business(assistant.business_id).filter(assistant=assistant)
    if status:
        queryset = queryset.filter(status=status)
    return queryset.annotate(**{
        f"reason_{reason}": Count("questions", filter=Q(questions__reason=reason))
        for reason in UnansweredQuestion.Reason.values
    })


def topic_examples_attach(topics: list[UnansweredTopic], *, limit: int = EXAMPLES) -> list[UnansweredTopic]:
    """Set ``examples`` on each topic: its questions' texts, newest first, without repeats, at
    most ``limit``; and ``example_messages``: the customer message of each. One query for all
    the topics."""
    by_topic: dict = {topic.pk: [] for topic in topics}
    messages: dict = {topic.pk: [] for topic in topics}
    if topics:
        business_id = topics[0].business_id
        rows = (UnansweredQuestion.objects.for_business(business_id).filter(topic__in=list(by_topic))
                .annotate(rank=Window(RowNumber(), partition_by=[F("topic_id")],
                                      order_by=[F("asked_at").desc(), F("id").desc()]))
                .filter(rank__lte=_EXAMPLES_SCAN).order_by("topic_id", "rank")
                .values_list("topic_id", "message__content", "message_id"))
        seen: dict = {pk: set() for pk in by_topic}
        for topic_id, text, message_id in rows:
            key = question_key(text)
            if key and key not in seen[topic_id] and len(by_topic[topic_id]) < limit:
                seen[topic_id].add(key)
                by_topic[topic_id].append(text)
                messages[topic_id].append(message_id)
    for topic in topics:
        topic.examples = by_topic[topic.pk]
        topic.example_messages = messages[topic.pk]
    return topics


def topic_question(*, topic: UnansweredTopic) -> str | None:
    """The question that stands for the topic in its FAQ: the one asked most often (compared
    without case, spacing or the final "?"), the first asked among equals; None when the topic
    has no questions left."""
    found = topic_question_message(topic=topic)
    return found[0] if found is not None else None


def topic_question_message(*, topic: UnansweredTopic) -> tuple[str, uuid.UUID] | None:
    """``topic_question`` and the customer message it was asked in."""
    rows = list(UnansweredQuestion.objects.for_business(topic.business_id).filter(topic=topic)
                .order_by("asked_at", "id").values_list("message__content", "message_id")[:1000])
    counts = Counter(question_key(text) for text, _message in rows)
    best = max(counts.values(), default=0)
    return next(((text.strip(), message) for text, message in rows
                 if counts[question_key(text)] == best and text.strip()), None)
