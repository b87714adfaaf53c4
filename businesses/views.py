from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from assistants.serializers import AssistantSerializer
from businesses import selectors, services
from businesses.api.ratelimit import SignupIpRateLimit
from businesses.api.views import TenantAPIView
from businesses.models import ApiKey, Business
from businesses.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    BusinessSerializer,
    SignupResponseSerializer,
    SignupSerializer,
)


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
