"""A customer's data over the API: export (JSON or a readable transcript) and erasure."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, serializers
from rest_framework.response import Response

from assistants.models import Conversation
from assistants.privacy import retention, selectors, services
from businesses.api.views import TenantAPIView
from businesses.audit import Actor
from config.errors import ApplicationError, NotFoundError

FORMAT = OpenApiParameter("format", str, enum=["json", "txt"], description="json (default) or txt: a transcript.")


class ErasedSerializer(serializers.Serializer):
    """For the OpenAPI schema: what an erasure deleted, by kind."""

    deleted = serializers.DictField(child=serializers.IntegerField(), help_text=(
        "Counts: " + ", ".join(services.COUNT_KEYS) + ". Billing's usage counters are kept (they hold no "
        "customer data)."))


class TranscriptRenderer(renderers.BaseRenderer):
    """``?format=txt`` (DRF reads ``format`` to pick the renderer): the readable transcript."""

    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, str):
            return data.encode(self.charset)
        # An error body (403, 404, 400) on a txt request: still the one error shape, as JSON, and
        # said so in its Content-Type (DRF set the header from this renderer before rendering).
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return renderers.JSONRenderer().render(data)


class _ExportView(TenantAPIView):
    renderer_classes = [renderers.JSONRenderer, TranscriptRenderer]


def _format(request) -> str:
    value = request.query_params.get("format") or "json"
    if value not in ("json", "txt"):
        raise ApplicationError("validation_error", "format must be json or txt.",
                               details={"fields": {"format": ["Unknown format."]}})
    return value


def _render(document: dict, fmt: str, filename: str):
    response = Response(selectors.export_transcript(document) if fmt == "txt" else document)
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response


class ConversationExportView(_ExportView):
    @extend_schema(parameters=[FORMAT], responses={(200, "application/json"): OpenApiResponse(
                       OpenApiTypes.OBJECT, description="The export document"), (200, "text/plain"): OpenApiResponse(
                       OpenApiTypes.STR, description="?format=txt: the transcript")},
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


class CustomerExportView(_ExportView):
    @extend_schema(parameters=[FORMAT], responses={(200, "application/json"): OpenApiResponse(
                       OpenApiTypes.OBJECT, description="The export document"), (200, "text/plain"): OpenApiResponse(
                       OpenApiTypes.STR, description="?format=txt: the transcript"),
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


class PrivacySettingsSerializer(serializers.Serializer):
    retention_days = serializers.IntegerField(allow_null=True, min_value=1, help_text=(
        "Days a conversation is kept after its last message; null: the default. At most retention_days_max."))


def _privacy_body(business) -> dict:
    from django.conf import settings

    return {"retention_days": business.retention_days,
            "retention_days_in_force": retention.retention_days_for(business),
            "retention_days_max": retention.retention_days_max(business_id=business.pk),
            "raw_payload_days": settings.PRIVACY_RAW_PAYLOAD_DAYS,
            "deletion_scheduled_for": business.deletion_scheduled_for}


class PrivacySettingsView(TenantAPIView):
    def _fresh(self):
        from businesses.models import Business

        return Business.objects.get(pk=self.business.pk)

    @extend_schema(responses={200: OpenApiResponse(description="Retention in force and its bounds")},
                   summary="How long this business's customer data is kept")
    def get(self, request):
        return Response(_privacy_body(self._fresh()))

    @extend_schema(request=PrivacySettingsSerializer, responses={200: OpenApiResponse(description="As GET")},
                   summary="Choose how long conversations are kept (bounded by the plan)")
    def patch(self, request):
        serializer = PrivacySettingsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        business = retention.retention_set(business=self._fresh(), days=serializer.validated_data["retention_days"],
                                           actor=Actor.from_request(request))
        return Response(_privacy_body(business))
