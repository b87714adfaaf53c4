"""A customer's data over the API: export (JSON or a readable transcript) and erasure."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from assistants.models import Conversation
from assistants.privacy import selectors, services
from businesses.api.views import TenantAPIView
from businesses.audit import Actor
from config.errors import ApplicationError, NotFoundError

FORMAT = OpenApiParameter("format", str, enum=["json", "txt"], description="json (default) or txt: a transcript.")


class ErasedSerializer(serializers.Serializer):
    """For the OpenAPI schema: what an erasure deleted, by kind."""

    deleted = serializers.DictField(child=serializers.IntegerField(), help_text=(
        "Counts: " + ", ".join(services.COUNT_KEYS) + ". Billing's usage counters are kept (they hold no "
        "customer data)."))


def _format(request) -> str:
    value = request.query_params.get("format") or "json"
    if value not in ("json", "txt"):
        raise ApplicationError("validation_error", "format must be json or txt.",
                               details={"fields": {"format": ["Unknown format."]}})
    return value


def _render(document: dict, fmt: str, filename: str):
    if fmt == "txt":
        response = HttpResponse(selectors.export_transcript(document), content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}.txt"'
        return response
    response = Response(document)
    response["Content-Disposition"] = f'attachment; filename="{filename}.json"'
    return response


class ConversationExportView(TenantAPIView):
    @extend_schema(parameters=[FORMAT], responses={200: OpenApiResponse(description="The export document")},
                   summary="Export a conversation: every message, citation, rating and channel record")
    def get(self, request, pk):
        fmt = _format(request)
        conversation = self.get_scoped(Conversation, pk, what="conversation",
                                       queryset=self.scoped(Conversation).select_related("assistant"))
        document = selectors.conversation_export_document(business=self.business, conversation=conversation)
        services.export_audit(business_id=self.business.pk, actor=Actor.from_request(request),
                              conversation=conversation)
        return _render(document, fmt, f"conversation-{conversation.pk}")


def _external_id(value: str) -> str:
    value = value.strip()
    if not value or len(value) > 200:
        raise NotFoundError("customer")
    return value


class CustomerExportView(TenantAPIView):
    @extend_schema(parameters=[FORMAT], responses={200: OpenApiResponse(description="The export document"),
                                                   404: OpenApiResponse(description="No conversation of it")},
                   summary="Export every conversation of one customer (widget or API customer id, WhatsApp "
                           "number)")
    def get(self, request, external_id):
        fmt = _format(request)
        external_id = _external_id(external_id)
        document = selectors.customer_export_document(business=self.business, external_id=external_id)
        if not document["conversations"]:
            raise NotFoundError("customer")
        services.export_audit(business_id=self.business.pk, actor=Actor.from_request(request),
                              external_id=external_id, conversations=len(document["conversations"]))
        return _render(document, fmt, "customer-export")


class CustomerView(TenantAPIView):
    @extend_schema(request=None, responses={200: ErasedSerializer, 404: OpenApiResponse(description="Nothing of it")},
                   summary="Erase every conversation of one customer (hard delete)")
    def delete(self, request, external_id):
        external_id = _external_id(external_id)
        counts = services.customer_erase(business_id=self.business.pk, external_id=external_id,
                                         actor=Actor.from_request(request))
        if not any(counts.values()):
            raise NotFoundError("customer")
        return Response({"deleted": counts})
