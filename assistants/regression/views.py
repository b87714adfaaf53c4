from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from assistants.ingestion.pipeline import source_discard, source_publish
from assistants.models import Assistant, KnowledgeSource, KnowledgeTest, KnowledgeTestRun
from assistants.regression import selectors, services
from assistants.regression.serializers import (
    KnowledgeTestCreateSerializer,
    KnowledgeTestRunSerializer,
    KnowledgeTestSerializer,
)
from assistants.serializers import SourceSerializer
from businesses.api.views import TenantAPIView
from businesses.audit import Actor


class KnowledgeTestListView(TenantAPIView):
    @extend_schema(responses=KnowledgeTestSerializer(many=True), summary="An assistant's knowledge tests")
    def get(self, request, pk):
        assistant = self.get_scoped(Assistant, pk, what="assistant")
        return self.paginate(selectors.knowledge_test_list(assistant=assistant), KnowledgeTestSerializer)

    @extend_schema(request=KnowledgeTestCreateSerializer, responses={201: KnowledgeTestSerializer},
                   summary="Add a knowledge test: a question with facts its answer must (not) contain, or a handoff")
    def post(self, request, pk):
        assistant = self.get_scoped(Assistant, pk, what="assistant")
        serializer = KnowledgeTestCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        test = services.knowledge_test_create(assistant=assistant, actor=Actor.from_request(request),
                                              **serializer.validated_data)
        return Response(KnowledgeTestSerializer(test).data, status=status.HTTP_201_CREATED)


class KnowledgeTestDetailView(TenantAPIView):
    @extend_schema(responses=KnowledgeTestSerializer, summary="A knowledge test and its latest verdict")
    def get(self, request, pk):
        return Response(KnowledgeTestSerializer(self.get_scoped(KnowledgeTest, pk, what="test")).data)

    @extend_schema(responses={204: None}, summary="Delete a knowledge test")
    def delete(self, request, pk):
        services.knowledge_test_delete(test=self.get_scoped(KnowledgeTest, pk, what="test"),
                                       actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class KnowledgeTestRunView(TenantAPIView):
    @extend_schema(request=None, responses={202: KnowledgeTestRunSerializer},
                   summary="Run all of an assistant's knowledge tests (in the background); poll the run")
    def post(self, request, pk):
        assistant = self.get_scoped(Assistant, pk, what="assistant")
        run = services.knowledge_run_start(assistant=assistant, actor=Actor.from_request(request))
        return Response(KnowledgeTestRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class KnowledgeTestRunDetailView(TenantAPIView):
    @extend_schema(responses=KnowledgeTestRunSerializer, summary="A run of knowledge tests and its results")
    def get(self, request, pk):
        return Response(KnowledgeTestRunSerializer(self.get_scoped(KnowledgeTestRun, pk, what="test run")).data)


class SourcePublishView(TenantAPIView):
    @extend_schema(request=None, responses=SourceSerializer,
                   summary="Publish a source version held for review, although knowledge tests fail with it")
    def post(self, request, pk):
        source = source_publish(source=self.get_scoped(KnowledgeSource, pk, what="source"),
                                actor=Actor.from_request(request))
        return Response(SourceSerializer(source).data)


class SourceDiscardView(TenantAPIView):
    @extend_schema(request=None, responses=SourceSerializer,
                   summary="Discard a source version held for review: the version serving now stays")
    def post(self, request, pk):
        source = source_discard(source=self.get_scoped(KnowledgeSource, pk, what="source"),
                                actor=Actor.from_request(request))
        return Response(SourceSerializer(source).data)
