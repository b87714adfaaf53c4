"""Reads of assistants and their knowledge."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery, Sum

from assistants.models import Assistant, Conversation, KnowledgeSource, Message
from assistants.retrieval import Passage, hybrid_search
from businesses.models import Business
from inference import providers
from inference.errors import InferenceError

logger = logging.getLogger(__name__)


def assistant_list(*, business: Business) -> QuerySet[Assistant]:
    """Unordered: the list's paginator orders it (businesses/api/pagination.py)."""
    return Assistant.objects.for_business(business)


def source_list(*, assistant: Assistant) -> QuerySet[KnowledgeSource]:
    """Unordered: the list's paginator orders it (businesses/api/pagination.py)."""
    return KnowledgeSource.objects.for_business(assistant.business_id).filter(assistant=assistant)


def conversation_list(*, business: Business, state: str | None = None, grounding: str | None = None,
                      channel: str | None = None) -> QuerySet[Conversation]:
    """The inbox: unordered (the paginator orders it). ``grounding``: only conversations with an
    answer of that grounding ("none": questions the assistant handed to a person). The
    dashboard's playground conversations are left out unless ``channel`` asks for them."""
    queryset = Conversation.objects.for_business(business)
    if channel:
        queryset = queryset.filter(channel=channel)
    else:
        queryset = queryset.exclude(channel=Conversation.Channel.PLAYGROUND)
    if state:
        queryset = queryset.filter(state=state)
    if grounding:
        answers = Message.objects.for_business(business).filter(
            conversation=OuterRef("pk"), role=Message.Role.ASSISTANT, grounding=grounding)
        queryset = queryset.filter(Exists(answers))
    return queryset


def conversation_inbox(*, business: Business, state: str | None = None, channel: str | None = None,
                       limit: int = 50) -> list[Conversation]:
    """The dashboard's inbox: newest activity first, each with its last customer message
    (``last_text``)."""
    last = (Message.objects.for_business(business).filter(conversation=OuterRef("pk"), role=Message.Role.CUSTOMER)
            .order_by("-created_at").values("content")[:1])
    queryset = conversation_list(business=business, state=state, channel=channel).select_related("assistant")
    return list(queryset.annotate(last_text=Subquery(last)).order_by("-last_message_at", "-created_at")[:limit])


def assistant_count(*, business_id) -> int:
    return Assistant.objects.for_business(business_id).count()


def knowledge_usage(*, business_id) -> tuple[int, int]:
    """(sources, bytes) the business holds now."""
    totals = KnowledgeSource.objects.for_business(business_id).aggregate(n=Count("id"), size=Sum("size_bytes"))
    return int(totals["n"] or 0), int(totals["size"] or 0)


def assistant_chunk_count(*, assistant: Assistant) -> int:
    return (KnowledgeSource.objects.for_business(assistant.business_id).filter(assistant=assistant)
            .aggregate(n=Sum("chunk_count"))["n"] or 0)


# The chunk count only picks the search plan (exact up to RETRIEVAL_EXACT_MAX_CHUNKS, HNSW
# beyond); both plans answer correctly, so a count up to a minute old is fine and saves a
# query on every question. Per process; cleared wholesale if it ever holds too many assistants.
_PLAN_COUNT_SECONDS = 60.0
_plan_counts: dict[str, tuple[float, int]] = {}


def _plan_chunk_count(assistant: Assistant) -> int:
    key, now = str(assistant.pk), time.monotonic()
    cached = _plan_counts.get(key)
    if cached is not None and cached[0] > now:
        return cached[1]
    count = assistant_chunk_count(assistant=assistant)
    if len(_plan_counts) > 50_000:
        _plan_counts.clear()
    _plan_counts[key] = (now + _PLAN_COUNT_SECONDS, count)
    return count


def query_embed(query: str) -> list[float] | None:
    """The question's vector, or None when the embedding server is down (full text alone still
    answers)."""
    try:
        return providers.embedder().embed_query(query)
    except InferenceError:
        logger.warning("embedding the query failed; searching full text only", exc_info=True)
        return None


EMBED = object()  # chunks_search's default: embed the query itself


def chunks_search(*, assistant: Assistant, query: str, k: int = 5, vector: list[float] | object | None = EMBED
                  ) -> list[Passage]:
    """The assistant's best passages for ``query`` (hybrid: vector + full text, RRF). ``vector``:
    the query's vector embedded beforehand (None: full text only)."""
    embedder = providers.embedder()
    if vector is EMBED:
        vector = query_embed(query)
    exact = _plan_chunk_count(assistant) <= settings.RETRIEVAL_EXACT_MAX_CHUNKS
    return hybrid_search(business_id=assistant.business_id, assistant_id=assistant.pk, query=query,
                         query_vector=vector, model=embedder.model_name, language=assistant.language, k=k,
                         exact=exact)
