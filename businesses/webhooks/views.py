from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from businesses.api.views import TenantAPIView
from businesses.audit import Actor
from businesses.models import WebhookEndpoint
from businesses.webhooks import selectors, services
from businesses.webhooks.serializers import (
    WebhookDeliveryQuerySerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointSerializer,
)


class WebhookEndpointListView(TenantAPIView):
    @extend_schema(responses=WebhookEndpointSerializer(many=True),
                   summary="List webhook endpoints (never their secret)")
    def get(self, request):
        return self.paginate(selectors.webhook_endpoint_list(business=self.business), WebhookEndpointSerializer)

    @extend_schema(request=WebhookEndpointCreateSerializer, responses={201: WebhookEndpointCreatedSerializer},
                   summary="Add a webhook endpoint (its signing secret is shown once)")
    def post(self, request):
        serializer = WebhookEndpointCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint, secret = services.webhook_endpoint_create(actor=Actor.from_request(request),
                                                            business=self.business, **serializer.validated_data)
        endpoint.secret = secret
        return Response(WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookEndpointDetailView(TenantAPIView):
    @extend_schema(responses={204: None}, summary="Delete a webhook endpoint and its delivery history")
    def delete(self, request, pk):
        endpoint = self.get_scoped(WebhookEndpoint, pk, what="webhook endpoint")
        services.webhook_endpoint_delete(actor=Actor.from_request(request), endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveryListView(TenantAPIView):
    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=["pending", "succeeded", "failed"], required=False)],
        responses=WebhookDeliverySerializer(many=True),
        summary="Deliveries of one endpoint, newest first, with attempts",
    )
    def get(self, request, pk):
        endpoint = self.get_scoped(WebhookEndpoint, pk, what="webhook endpoint")
        query = WebhookDeliveryQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        deliveries = selectors.webhook_delivery_list(endpoint=endpoint, status=query.validated_data.get("status"))
        return self.paginate(deliveries, WebhookDeliverySerializer)
