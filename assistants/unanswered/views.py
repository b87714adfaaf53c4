from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from assistants.models import Assistant, UnansweredTopic
from assistants.unanswered import selectors, services
from assistants.unanswered.serializers import TopicAnsweredSerializer, TopicAnswerSerializer, TopicSerializer
from businesses.api.pagination import CursorPagination
from businesses.api.views import TenantAPIView
from businesses.audit import Actor
from config.errors import ApplicationError


class TopicPagination(CursorPagination):
    """Most asked first, then most recently asked. A topic's count can grow between two pages,
    so it may then show on both or neither: the next listing has it right."""

    ordering = ("-count", "-last_seen", "-id")


class TopicListView(TenantAPIView):
    """What customers asked that the assistant could not answer (answers with grounding none,
    handoffs to a person, thumbs-down ratings), grouped into topics by meaning."""

    pagination_class = TopicPagination  # also what the schema describes

    @extend_schema(parameters=[OpenApiParameter("status", str, enum=UnansweredTopic.Status.values)],
                   responses=TopicSerializer(many=True),
                   summary="Questions the assistant could not answer, grouped into topics (most asked first)")
    def get(self, request, pk):
        assistant = self.get_scoped(Assistant, pk, what="assistant")
        state = request.query_params.get("status")
        if state is not None and state not in UnansweredTopic.Status.values:
            raise ApplicationError("validation_error", "status must be open or answered.",
                                   details={"fields": {"status": ["Unknown status."]}})
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.topic_list(assistant=assistant, status=state), request, view=self)
        selectors.topic_examples_attach(page)
        return paginator.get_paginated_response(TopicSerializer(page, many=True).data)


class TopicAnswerView(TenantAPIView):
    """Answer a topic once: its most asked question and this answer become an FAQ of the
    assistant's knowledge, and the topic is closed (409 if it was answered already)."""

    @extend_schema(request=TopicAnswerSerializer, responses={201: TopicAnsweredSerializer},
                   summary="Answer a topic: adds an FAQ source (processed in the background) and closes the topic")
    def post(self, request, pk, topic_id):
        assistant = self.get_scoped(Assistant, pk, what="assistant")
        topic = self.get_scoped(UnansweredTopic, topic_id, what="topic",
                                queryset=self.scoped(UnansweredTopic).filter(assistant=assistant))
        serializer = TopicAnswerSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        source = services.topic_answer(actor=Actor.from_request(request),
                                       topic=topic, answer=serializer.validated_data["answer"])
        [topic] = selectors.topic_examples_attach(list(selectors.topic_list(assistant=assistant).filter(pk=topic.pk)))
        return Response(TopicAnsweredSerializer({"source": source, "topic": topic}).data,
                        status=status.HTTP_201_CREATED)
