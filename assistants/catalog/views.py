"""The typed catalog over the API: thin views over assistants/catalog/services.py."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from assistants.catalog import selectors, services
from assistants.catalog.serializers import CatalogItemSerializer
from assistants.models import Assistant, CatalogItem
from businesses.api.views import TenantAPIView


class CatalogItemListView(TenantAPIView):
    @extend_schema(responses=CatalogItemSerializer(many=True), summary="An assistant's catalog items")
    def get(self, request, pk):
        assistant = self.get_scoped(Assistant, pk, what="assistant")
        return self.paginate(selectors.catalog_item_list(assistant=assistant), CatalogItemSerializer)

    @extend_schema(request=CatalogItemSerializer, responses={201: CatalogItemSerializer},
                   summary="Add a catalog item (its passage is searchable at once)")
    def post(self, request, pk):
        assistant = self.get_scoped(Assistant, pk, what="assistant")
        serializer = CatalogItemSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = services.catalog_item_create(assistant=assistant, data=serializer.validated_data)
        return Response(CatalogItemSerializer(item).data, status=status.HTTP_201_CREATED)


class CatalogItemDetailView(TenantAPIView):
    @extend_schema(responses=CatalogItemSerializer, summary="A catalog item")
    def get(self, request, pk):
        return Response(CatalogItemSerializer(self.get_scoped(CatalogItem, pk, what="catalog item")).data)

    @extend_schema(request=CatalogItemSerializer(partial=True), responses=CatalogItemSerializer,
                   summary='Change a catalog item; {"available": false} marks it sold out')
    def patch(self, request, pk):
        item = self.get_scoped(CatalogItem, pk, what="catalog item")
        serializer = CatalogItemSerializer(item, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        item = services.catalog_item_update(item=item, data=serializer.validated_data)
        return Response(CatalogItemSerializer(item).data)

    @extend_schema(responses={204: None}, summary="Delete a catalog item and its passage")
    def delete(self, request, pk):
        services.catalog_item_delete(item=self.get_scoped(CatalogItem, pk, what="catalog item"))
        return Response(status=status.HTTP_204_NO_CONTENT)
