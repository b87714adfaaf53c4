from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from assistants.channels.whatsapp import services
from assistants.channels.whatsapp.serializers import (
    ConnectionCreateSerializer,
    ConnectionSerializer,
    ConnectionUpdateSerializer,
    FaqFromMessageSerializer,
)
from assistants.models import Assistant, Message, WhatsAppConnection
from assistants.serializers import SourceSerializer
from businesses.api.views import TenantAPIView
from businesses.audit import Actor
from config.errors import ApplicationError, error_response


@csrf_exempt  # Meta signs the body; there is no cookie session to protect
def whatsapp_webhook(request: HttpRequest) -> HttpResponse:
    """GET: Meta's verification handshake. POST: a signed delivery, stored and queued (200 at once)."""
    try:
        if request.method == "GET":
            challenge = services.webhook_verify(mode=request.GET.get("hub.mode"),
                                                token=request.GET.get("hub.verify_token"),
                                                challenge=request.GET.get("hub.challenge"))
            return HttpResponse(challenge, content_type="text/plain")
        if request.method == "POST":
            services.webhook_receive(body=request.body,
                                     signature=request.headers.get("X-Hub-Signature-256", ""))
            return JsonResponse({"received": True})
    except ApplicationError as exc:
        return error_response(exc.code, exc.message, status=exc.status, details=exc.details)
    response = error_response("method_not_allowed", f'Method "{request.method}" not allowed.', status=405)
    response["Allow"] = "GET, POST"
    return response


class ConnectionListView(TenantAPIView):
    @extend_schema(responses=ConnectionSerializer(many=True), summary="List WhatsApp connections")
    def get(self, request):
        queryset = WhatsAppConnection.objects.for_business(self.business)  # paginate() orders it
        return self.paginate(queryset, ConnectionSerializer)

    @extend_schema(request=ConnectionCreateSerializer, responses={201: ConnectionSerializer},
                   summary="Connect a WhatsApp phone number to an assistant")
    def post(self, request):
        serializer = ConnectionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        assistant = self.get_scoped(Assistant, data["assistant_id"], what="assistant")
        connection = services.connection_create(
            business=self.business, assistant=assistant, phone_number_id=data["phone_number_id"],
            access_token=data["access_token"], owner_whatsapp=data["owner_whatsapp"],
            display_phone_number=data["display_phone_number"])
        return Response(ConnectionSerializer(connection).data, status=status.HTTP_201_CREATED)


class ConnectionDetailView(TenantAPIView):
    @extend_schema(responses=ConnectionSerializer, summary="A WhatsApp connection")
    def get(self, request, pk):
        return Response(ConnectionSerializer(self.get_scoped(WhatsAppConnection, pk, what="connection")).data)

    @extend_schema(request=ConnectionUpdateSerializer, responses=ConnectionSerializer,
                   summary="Change a connection's assistant, token or owner number")
    def patch(self, request, pk):
        connection = self.get_scoped(WhatsAppConnection, pk, what="connection")
        serializer = ConnectionUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "assistant_id" in data:
            data["assistant"] = self.get_scoped(Assistant, data.pop("assistant_id"), what="assistant")
        connection = services.connection_update(connection=connection, **data)
        return Response(ConnectionSerializer(connection).data)

    @extend_schema(responses={204: None}, summary="Disconnect a WhatsApp number")
    def delete(self, request, pk):
        services.connection_delete(connection=self.get_scoped(WhatsAppConnection, pk, what="connection"))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessageFaqView(TenantAPIView):
    @extend_schema(request=FaqFromMessageSerializer, responses={202: SourceSerializer},
                   summary="Turn a staff reply into an FAQ pair of the assistant's knowledge")
    def post(self, request, pk):
        message = self.get_scoped(Message, pk, what="message", queryset=Message.objects.for_business(
            self.business).select_related("conversation__assistant__business"))
        serializer = FaqFromMessageSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        source = services.faq_from_message(message=message, actor=Actor.from_request(request),
                                           **serializer.validated_data)
        return Response(SourceSerializer(source).data, status=status.HTTP_202_ACCEPTED)
