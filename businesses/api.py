"""The base every tenant API view inherits: the business comes from the key, every lookup is scoped."""

from __future__ import annotations

from django.db import models
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from config.errors import NotFoundError


class TenantAPIView(APIView):
    """``self.business`` is the caller's business; ``self.get_scoped`` never leaks another tenant.

    An object of another business is a 404, exactly like one that does not
    exist, so its existence is never confirmed.
    """

    @property
    def business(self):
        return self.request.business

    def scoped(self, model: type[models.Model]) -> models.QuerySet:
        return model.objects.for_business(self.business)

    def get_scoped(self, model: type[models.Model], pk, *, what: str | None = None, queryset=None):
        qs = queryset if queryset is not None else self.scoped(model)
        obj = qs.filter(pk=pk).first()
        if obj is None:
            raise NotFoundError(what or model._meta.verbose_name)
        return obj

    def paginate(self, queryset, serializer_class):
        """One page of ``queryset`` in the contract's list shape."""
        paginator = api_settings.DEFAULT_PAGINATION_CLASS()
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        return paginator.get_paginated_response(serializer_class(page, many=True).data)
