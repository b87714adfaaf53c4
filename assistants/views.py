from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from assistants import selectors, services
from assistants.models import Assistant
from assistants.serializers import AssistantSerializer
from businesses.api import TenantAPIView


class AssistantListView(TenantAPIView):
    @extend_schema(responses=AssistantSerializer(many=True), summary="List assistants")
    def get(self, request):
        return self.paginate(selectors.assistant_list(business=self.business), AssistantSerializer)

    @extend_schema(request=AssistantSerializer, responses={201: AssistantSerializer}, summary="Create an assistant")
    def post(self, request):
        serializer = AssistantSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        assistant = services.assistant_create(business=self.business, data=serializer.validated_data)
        return Response(AssistantSerializer(assistant).data, status=status.HTTP_201_CREATED)


class AssistantDetailView(TenantAPIView):
    @extend_schema(responses=AssistantSerializer, summary="Read an assistant")
    def get(self, request, pk):
        return Response(AssistantSerializer(self.get_scoped(Assistant, pk, what="assistant")).data)

    @extend_schema(request=AssistantSerializer, responses=AssistantSerializer, summary="Change an assistant")
    def patch(self, request, pk):
        assistant = self.get_scoped(Assistant, pk, what="assistant")
        serializer = AssistantSerializer(assistant, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        assistant = services.assistant_update(assistant=assistant, data=serializer.validated_data)
        return Response(AssistantSerializer(assistant).data)

    @extend_schema(responses={204: None}, summary="Delete an assistant and its knowledge")
    def delete(self, request, pk):
        services.assistant_delete(assistant=self.get_scoped(Assistant, pk, what="assistant"))
        return Response(status=status.HTTP_204_NO_CONTENT)
