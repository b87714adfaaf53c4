from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from assistants import selectors, services
from assistants.models import Assistant, KnowledgeSource
from assistants.serializers import (
    AssistantSerializer,
    SearchResponseSerializer,
    SearchSerializer,
    SourceCreateSerializer,
    SourceResyncSerializer,
    SourceResyncUploadSerializer,
    SourceSerializer,
    SourceUploadSerializer,
)
from businesses.api.ratelimit import SignupIpRateLimit
from businesses.api.views import TenantAPIView
from businesses.audit import Actor
from businesses.serializers import BusinessSerializer, SignupResponseSerializer, SignupSerializer
from config.errors import ApplicationError
from config.jsonlimits import JSONParser


# Here, not in businesses: sign-up creates the business's first assistant too.
class SignupView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [SignupIpRateLimit]

    @extend_schema(request=SignupSerializer, responses={201: SignupResponseSerializer}, auth=[],
                   summary="Create an account, its business, first assistant and keys")
    def post(self, request):
        serializer = SignupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = services.business_signup(
            email=data["email"], password=data["password"], business_name=data["business_name"],
            timezone_name=data["timezone"], locale=data["locale"],
        )
        body = {
            "user": {"id": result.user.pk, "email": result.user.email},
            "business": BusinessSerializer(result.business).data,
            "assistant": AssistantSerializer(result.assistant).data,
            "api_keys": {"secret": result.secret_key, "publishable": result.publishable_key},
        }
        return Response(body, status=status.HTTP_201_CREATED)


class AssistantListView(TenantAPIView):
    @extend_schema(responses=AssistantSerializer(many=True), summary="List assistants")
    def get(self, request):
        return self.paginate(selectors.assistant_list(business=self.business), AssistantSerializer)

    @extend_schema(request=AssistantSerializer, responses={201: AssistantSerializer}, summary="Create an assistant")
    def post(self, request):
        serializer = AssistantSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        assistant = services.assistant_create(actor=Actor.from_request(request),
                                              business=self.business, data=serializer.validated_data)
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
        assistant = services.assistant_update(actor=Actor.from_request(request),
                                              assistant=assistant, data=serializer.validated_data)
        return Response(AssistantSerializer(assistant).data)

    @extend_schema(responses={204: None}, summary="Delete an assistant and its knowledge")
    def delete(self, request, pk):
        services.assistant_delete(actor=Actor.from_request(request),
                                  assistant=self.get_scoped(Assistant, pk, what="assistant"))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SourceListView(TenantAPIView):
    """List an assistant's knowledge, or teach it something new (202: processed in the background)."""

    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(responses=SourceSerializer(many=True), summary="List an assistant's knowledge sources")
    def get(self, request, pk):
        assistant = self.get_scoped(Assistant, pk, what="assistant")
        return self.paginate(selectors.source_list(assistant=assistant), SourceSerializer)

    @extend_schema(
        request={"application/json": SourceCreateSerializer, "multipart/form-data": SourceUploadSerializer},
        responses={202: SourceSerializer}, summary="Add knowledge: text, FAQ, URL (JSON) or a file (multipart)",
    )
    def post(self, request, pk):
        assistant = self.get_scoped(Assistant, pk, what="assistant")
        if request.content_type.startswith("multipart/"):
            source = self._create_from_upload(assistant, request)
        else:
            serializer = SourceCreateSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            if data["kind"] == "url":
                services.source_url_check(data["url"])
            source = services.source_create(actor=Actor.from_request(request),
                assistant=assistant, kind=data["kind"], title=data["title"], text=data.get("text", ""),
                pairs=[dict(p) for p in data.get("pairs", [])], url=data.get("url", ""), crawl=data["crawl"],
                max_pages=data["max_pages"] if data["crawl"] else 1,
            )
        return Response(SourceSerializer(source).data, status=status.HTTP_202_ACCEPTED)

    def _create_from_upload(self, assistant, request):
        serializer = SourceUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        data = services.upload_read(upload)
        return services.source_create(actor=Actor.from_request(request),
            assistant=assistant, kind="file", title=serializer.validated_data.get("title") or upload.name[:300],
            file_name=upload.name, content_type=upload.content_type or "", data=data,
        )


class SourceDetailView(TenantAPIView):
    @extend_schema(responses=SourceSerializer, summary="A source's status, progress, error and chunk count")
    def get(self, request, pk):
        return Response(SourceSerializer(self.get_scoped(KnowledgeSource, pk, what="source")).data)

    @extend_schema(responses={204: None}, summary="Delete a source and its passages")
    def delete(self, request, pk):
        services.source_delete(actor=Actor.from_request(request),
                               source=self.get_scoped(KnowledgeSource, pk, what="source"))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SourceResyncView(TenantAPIView):
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        request={"application/json": SourceResyncSerializer, "multipart/form-data": SourceResyncUploadSerializer},
        responses={202: SourceSerializer},
        summary="Process a source again, optionally with edited content; its passages keep serving meanwhile",
    )
    def post(self, request, pk):
        source = self.get_scoped(KnowledgeSource, pk, what="source")
        if request.content_type.startswith("multipart/"):
            serializer = SourceResyncUploadSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            if source.kind != KnowledgeSource.Kind.FILE:
                raise ApplicationError("wrong_kind", "Only file sources take a new file.", status=400)
            upload = serializer.validated_data["file"]
            source = services.source_resync(actor=Actor.from_request(request),
                                            source=source, data=services.upload_read(upload), file_name=upload.name,
                                            content_type=upload.content_type or "")
        else:
            serializer = SourceResyncSerializer(data=request.data or {}, context={"source": source})
            serializer.is_valid(raise_exception=True)
            pairs = serializer.validated_data.get("pairs")
            source = services.source_resync(actor=Actor.from_request(request),
                                            source=source, text=serializer.validated_data.get("text"),
                                            pairs=[dict(p) for p in pairs] if pairs is not None else None)
        return Response(SourceSerializer(source).data, status=status.HTTP_202_ACCEPTED)


class SearchView(TenantAPIView):
    @extend_schema(request=SearchSerializer, responses=SearchResponseSerializer,
                   summary="Hybrid search (vector + full text) in an assistant's knowledge")
    def post(self, request, pk):
        assistant = self.get_scoped(Assistant, pk, what="assistant")
        serializer = SearchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        passages = selectors.chunks_search(assistant=assistant, query=serializer.validated_data["query"],
                                           k=serializer.validated_data["k"])
        return Response({"results": [
            {"chunk_id": p.chunk_id, "source_id": p.source_id, "source_title": p.source_title, "text": p.text,
             "score": round(p.score, 6)} for p in passages]})
