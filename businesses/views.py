from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from businesses import selectors, services
from businesses.api.views import TenantAPIView
from businesses.models import ApiKey, Business
from businesses.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    BusinessSerializer,
)


class BusinessView(TenantAPIView):
    def _fresh(self) -> Business:
        # request.business may come from the key cache; this endpoint shows the row as it is now.
        return Business.objects.get(pk=self.business.pk)

    @extend_schema(responses=BusinessSerializer, summary="The caller's business")
    def get(self, request):
        return Response(BusinessSerializer(self._fresh()).data)

    @extend_schema(request=BusinessSerializer, responses=BusinessSerializer, summary="Change the business")
    def patch(self, request):
        business = self._fresh()
        serializer = BusinessSerializer(business, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        business = services.business_update(business=business, data=serializer.validated_data)
        return Response(BusinessSerializer(business).data)


class ApiKeyListView(TenantAPIView):
    @extend_schema(responses=ApiKeySerializer(many=True), summary="List API keys (never their secret part)")
    def get(self, request):
        return self.paginate(selectors.api_key_list(business=self.business), ApiKeySerializer)

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: ApiKeyCreatedSerializer},
                   summary="Create an API key (shown once)")
    def post(self, request):
        serializer = ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key, raw = services.api_key_create(business=self.business, **serializer.validated_data)
        key.key = raw
        return Response(ApiKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(TenantAPIView):
    @extend_schema(responses={204: None}, summary="Revoke an API key")
    def delete(self, request, pk):
        key = self.get_scoped(ApiKey, pk, what="API key")
        services.api_key_revoke(key=key)
        return Response(status=status.HTTP_204_NO_CONTENT)
