from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from businesses import selectors, services
from businesses.api.views import TenantAPIView
from businesses.audit import Actor
from businesses.models import ApiKey, AuditEvent, Business
from businesses.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    AuditEventSerializer,
    BusinessSerializer,
)
from config.errors import ApplicationError


def _owner_key(request) -> None:
    if not services.key_is_owners(key=request.auth):
        raise ApplicationError("permission_denied", "Only the owner's secret keys may do this.", status=403)


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
        business = services.business_update(business=business, data=serializer.validated_data,
                                            actor=Actor.from_request(request))
        return Response(BusinessSerializer(business).data)

    @extend_schema(request=None, responses={202: BusinessSerializer}, summary=(
        "Delete the business: everything of it is removed after the grace period "
        "(BUSINESS_DELETION_GRACE_DAYS), unless cancelled with POST /business/restore (owner keys)"))
    def delete(self, request):
        _owner_key(request)
        business = services.business_deletion_request(business=self._fresh(), actor=Actor.from_request(request))
        return Response(BusinessSerializer(business).data, status=status.HTTP_202_ACCEPTED)


class BusinessRestoreView(BusinessView):
    http_method_names = ["post", "options"]

    @extend_schema(request=None, responses=BusinessSerializer, summary="Cancel the business's scheduled deletion")
    def post(self, request):
        _owner_key(request)
        business = services.business_deletion_cancel(business=self._fresh(), actor=Actor.from_request(request))
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
        # A key made with a key speaks for the same person (key_is_owners).
        key, raw = services.api_key_create(business=self.business, **serializer.validated_data,
                                           created_by=request.auth.created_by, actor=Actor.from_request(request))
        key.key = raw
        return Response(ApiKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(TenantAPIView):
    @extend_schema(responses={204: None}, summary="Revoke an API key")
    def delete(self, request, pk):
        key = self.get_scoped(ApiKey, pk, what="API key")
        services.api_key_revoke(key=key, actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditListView(TenantAPIView):
    @extend_schema(responses=AuditEventSerializer(many=True), summary=(
        "The audit log: who changed what, when, from which IP; newest first (owner keys)"))
    def get(self, request):
        _owner_key(request)
        return self.paginate(AuditEvent.objects.for_business(self.business), AuditEventSerializer)
