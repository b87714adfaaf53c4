"""Collecting unanswered questions into topics, and answering a topic with an FAQ.

The customer's answer never waits for any of this: chat's signals (and, for a thumbs-down, the
ratings) call ``unanswered_record``, which only queues ``unanswered_collect_task`` after the
commit; the task embeds the question and files it under the assistant's closest open topic.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from pgvector.django import CosineDistance

from assistants.chat.intent import asks_for_person
from assistants.models import (
    Assistant,
    Conversation,
    KnowledgeSource,
    Message,
    UnansweredQuestion,
    UnansweredTopic,
)
from assistants.regression.services import knowledge_tests_from_topic
from assistants.unanswered.selectors import topic_examples_attach, topic_question_message
from businesses.audit import Actor
from config.errors import ApplicationError
from config.tasks import enqueue_on_commit
from inference import providers
from inference.errors import InferenceError

logger = logging.getLogger(__name__)

Reason = UnansweredQuestion.Reason

# Handoffs that say nothing about the knowledge: "no_answer" is collected from the answer itself
# (reason no_answer), and an exhausted plan or a model server outage is ours, not a question the
# knowledge lacks.
HANDOFF_REASONS_SKIPPED = frozenset({"no_answer", "quota_exceeded", "inference_unavailable", "rate_limited"})
MAX_ANSWER_CHARS = 20_000  # an FAQ answer's limit (assistants/serializers.py FaqPairSerializer)
MAX_QUESTION_CHARS = 2_000  # an FAQ question's limit
UNGROUPED_PER_RUN = 20  # questions left without a topic (embedding server down) filed per run


class TransientCollectError(Exception):
    """The embedding server failed in a way that may pass: the task retries."""


class _EnqueueSafely:
    """What ``enqueue_on_commit`` sends: a broker outage is logged, never raised into the answer
    or the handoff that led to the question (the question is then not collected)."""

    def __init__(self, task) -> None:
        self.task = task

    def delay(self, *args):
        try:
            return self.task.delay(*args)
        except Exception:
            logger.exception("unanswered: could not queue the collection of %s", args)
            return None

    def apply(self, *, args):
        return self.task.apply(args=args)


def unanswered_record(*, business_id: uuid.UUID | str, message_id: uuid.UUID | str, reason: str) -> None:
    """Collect a question the assistant did not answer well, after the caller's transaction
    commits, in the background (the caller never waits for the embedding).

    ``message_id``: the customer's message (the question) or the assistant's answer to it (its
    ``reply_to`` is the question). ``reason``: ``no_answer``, ``handoff`` or ``thumbs_down``.
    Idempotent: the same message and reason twice are collected once."""
    from assistants.unanswered.tasks import unanswered_collect_task

    if reason not in Reason.values:
        raise ValueError(f"unknown unanswered reason {reason!r}; one of {', '.join(Reason.values)}")
    enqueue_on_commit(_EnqueueSafely(unanswered_collect_task), str(business_id), str(message_id), str(reason))


def unanswered_record_handoff(*, conversation: Conversation) -> None:
    """A person took the conversation over: collect its last customer question in the background
    (unless the handoff's reason says nothing about the knowledge)."""
    from assistants.unanswered.tasks import unanswered_handoff_task

    if (conversation.metadata or {}).get("handoff_reason") in HANDOFF_REASONS_SKIPPED:
        return
    if conversation.channel == Conversation.Channel.PLAYGROUND:
        return
    enqueue_on_commit(_EnqueueSafely(unanswered_handoff_task), str(conversation.business_id),
                      str(conversation.pk), conversation.updated_at.isoformat())


def handoff_question(*, business_id: uuid.UUID | str, conversation_id: uuid.UUID | str,
                     handoff_at: datetime) -> Message | None:
    """The customer's last message before the handoff that is a question, not the request for a
    person itself ("can I talk to someone?")."""
    asked = (Message.objects.for_business(business_id)
             .filter(conversation_id=conversation_id, role=Message.Role.CUSTOMER, created_at__lte=handoff_at)
             .exclude(content="").order_by("-created_at")[:10])
    return next((m for m in asked if m.content.strip() and not asks_for_person(m.content)), None)


def _question_and_answer(message: Message) -> tuple[Message | None, Message | None]:
    if message.role == Message.Role.CUSTOMER:
        answer = Message.objects.for_business(message.business_id).filter(reply_to=message).first()
        return message, answer
    if message.role == Message.Role.ASSISTANT and message.reply_to_id:
        question = Message.objects.for_business(message.business_id).filter(pk=message.reply_to_id).first()
        return question, message
    return None, None


def unanswered_collect(*, business_id: uuid.UUID | str, message_id: uuid.UUID | str, reason: str,
                       final_attempt: bool = True) -> UnansweredQuestion | None:
    """File one question under the assistant's closest open topic (or a new one). None when
    there is nothing to collect: the message is gone, is not a customer's question, comes
    from the playground, or the customer message was collected already for another reason (a
    question counts once).

    An embedding error that may pass raises ``TransientCollectError`` unless ``final_attempt``;
    then, or for an error that will not pass, the question is stored without a topic, and a
    later collection for the same assistant files it once the embedding server answers."""
    message = (Message.objects.for_business(business_id).select_related("conversation")
               .filter(pk=message_id).first())
    if message is None:
        return None
    question, answer = _question_and_answer(message)
    if question is None or not question.content.strip():
        return None
    conversation = message.conversation
    if conversation.channel == Conversation.Channel.PLAYGROUND:
        return None
    existing = UnansweredQuestion.objects.for_business(business_id).filter(message=question)
    done = existing.filter(reason=reason).first()
    if done is not None and done.topic_id is not None:
        return done
    if done is None and existing.exists():
        return None
    vector, model = _embed(question.content, final_attempt=final_attempt)
    with transaction.atomic():
        _assistant_lock(business_id, conversation.assistant_id)
        try:
            with transaction.atomic():
                row, _ = UnansweredQuestion.objects.for_business(business_id).get_or_create(
                    message=question, reason=reason,
                    defaults={"business_id": business_id, "assistant_id": conversation.assistant_id,
                              "conversation": conversation, "answer": answer, "asked_at": question.created_at})
        except IntegrityError:  # inserted by a concurrent run meanwhile
            row = UnansweredQuestion.objects.for_business(business_id).get(message=question, reason=reason)
        if row.topic_id is None and vector is not None:
            _file(row, vector, model)
    if vector is not None:
        _file_ungrouped(business_id=business_id, assistant_id=conversation.assistant_id)
    return row


def collect_handoff(*, business_id: uuid.UUID | str, conversation_id: uuid.UUID | str, handoff_at: datetime,
                    final_attempt: bool = True) -> UnansweredQuestion | None:
    question = handoff_question(business_id=business_id, conversation_id=conversation_id, handoff_at=handoff_at)
    if question is None:
        return None
    return unanswered_collect(business_id=business_id, message_id=question.pk, reason=Reason.HANDOFF,
                              final_attempt=final_attempt)


def _embed(text: str, *, final_attempt: bool) -> tuple[np.ndarray | None, str]:
    embedder = providers.embedder()
    try:
        return np.asarray(embedder.embed_query(text[:MAX_QUESTION_CHARS]), dtype=np.float32), embedder.model_name
    except InferenceError as exc:
        if exc.retryable and not final_attempt:
            raise TransientCollectError(f"{exc.code}: {exc.message}") from exc
        logger.warning("unanswered: embedding failed (%s); the question is kept without a topic for now", exc.code)
        return None, embedder.model_name


def _assistant_lock(business_id, assistant_id) -> None:
    """Serialise filing per assistant, so two paraphrases filed at once cannot open two topics.
    FOR NO KEY UPDATE: new conversations (which reference the assistant) are not blocked."""
    list(Assistant.objects.for_business(business_id).select_for_update(no_key=True).filter(pk=assistant_id)
         .values_list("pk", flat=True))


def _file(row: UnansweredQuestion, vector: np.ndarray, model: str) -> None:
    """Attach ``row`` to the closest open topic at least UNANSWERED_TOPIC_SIMILARITY similar,
    moving its centroid (running mean, re-normalised), or open a topic for it."""
    topics = UnansweredTopic.objects.for_business(row.business_id).filter(
        assistant_id=row.assistant_id, status=UnansweredTopic.Status.OPEN, embedding_model=model,
        embedding_dim=len(vector))
    nearest = topics.annotate(distance=CosineDistance("centroid", vector.tolist())).order_by("distance").first()
    if nearest is not None and 1 - nearest.distance >= settings.UNANSWERED_TOPIC_SIMILARITY:
        nearest.centroid = centroid_merge(nearest.centroid, nearest.count, vector).tolist()
        nearest.count += 1
        nearest.first_seen = min(nearest.first_seen, row.asked_at)
        nearest.last_seen = max(nearest.last_seen, row.asked_at)
        nearest.save(update_fields=["centroid", "count", "first_seen", "last_seen", "updated_at"])
        topic = nearest
    else:
        topic = UnansweredTopic.objects.unscoped().create(
            business_id=row.business_id, assistant_id=row.assistant_id, centroid=vector.tolist(),
            embedding_model=model, embedding_dim=len(vector), count=1, first_seen=row.asked_at,
            last_seen=row.asked_at)
    row.topic = topic
    row.save(update_fields=["topic", "updated_at"])


def centroid_merge(centroid, count: int, vector: np.ndarray) -> np.ndarray:
    """The centroid of ``count`` questions with ``vector`` added: the running mean of the unit
    vectors, re-normalised (so cosine distance to it is comparable whatever the count)."""
    mean = (np.asarray(centroid, dtype=np.float64) * count + vector) / (count + 1)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm else np.asarray(vector, dtype=np.float64)


def _file_ungrouped(*, business_id, assistant_id) -> None:
    """The embedding server answers again: file questions stored without a topic meanwhile."""
    waiting = list(UnansweredQuestion.objects.for_business(business_id)
                   .filter(assistant_id=assistant_id, topic__isnull=True).select_related("message")
                   .order_by("asked_at")[:UNGROUPED_PER_RUN])
    for row in waiting:
        vector, model = _embed(row.message.content, final_attempt=True)
        if vector is None:
            return
        with transaction.atomic():
            _assistant_lock(business_id, assistant_id)
            locked = (UnansweredQuestion.objects.for_business(business_id).select_for_update()
                      .filter(pk=row.pk, topic__isnull=True).first())
            if locked is not None:
                _file(locked, vector, model)


# --------------------------------------------------------------------------- answering a topic


def topic_answer(*, topic: UnansweredTopic, answer: str, by_user=None, actor: Actor | None = None) -> KnowledgeSource:
    """Teach the assistant the answer to a topic: an FAQ source (the topic's most asked question,
    ``answer``), ingested as usual, and the topic closed (answered). 409 if it was answered."""
    from assistants.services import source_create

    text = (answer or "").strip()
    if not text:
        raise ApplicationError("validation_error", "Write the answer first.",
                               details={"fields": {"answer": ["This field may not be blank."]}})
    if len(text) > MAX_ANSWER_CHARS:
        raise ApplicationError("validation_error", f"An answer has at most {MAX_ANSWER_CHARS:,} characters.",
                               details={"fields": {"answer": [f"At most {MAX_ANSWER_CHARS} characters."]}})
    with transaction.atomic():
        _assistant_lock(topic.business_id, topic.assistant_id)  # no question is filed under it meanwhile
        locked = UnansweredTopic.objects.for_business(topic.business_id).select_for_update().get(pk=topic.pk)
        if locked.status != UnansweredTopic.Status.OPEN:
            raise ApplicationError("topic_answered", "This topic has been answered already.", status=409)
        found = topic_question_message(topic=locked)
        if found is None:  # every question of it was erased with its conversation
            raise ApplicationError("topic_empty", "This topic has no questions left to answer.", status=409)
        question, question_message = found[0][:MAX_QUESTION_CHARS], found[1]
        assistant = Assistant.objects.for_business(locked.business_id).select_related("business").get(
            pk=locked.assistant_id)
        source = source_create(assistant=assistant, kind=KnowledgeSource.Kind.FAQ,
                               title=f"Unanswered question: {question[:200]}",
                               pairs=[{"question": question, "answer": text}], actor=actor)
        locked.status, locked.answered_at = UnansweredTopic.Status.ANSWERED, timezone.now()
        locked.answered_by, locked.faq_source = by_user, source
        locked.save(update_fields=["status", "answered_at", "answered_by", "faq_source", "updated_at"])
        # Its example questions become knowledge tests, so a later upload cannot quietly break
        # the answer (assistants/regression/).
        [with_examples] = topic_examples_attach([locked])
        examples = list(zip(with_examples.examples, with_examples.example_messages, strict=True))
        knowledge_tests_from_topic(topic=locked, answer=text, questions=examples or [(question, question_message)],
                                   actor=actor)
    for name in ("status", "answered_at", "answered_by_id", "faq_source_id", "updated_at"):
        setattr(topic, name, getattr(locked, name))
    return source
