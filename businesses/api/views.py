"""The base every tenant API view inherits: the business comes from the key, every lookup is scoped."""

from __future__ import annotations

import functools
import math

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import models
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from businesses.api.ratelimit import hit as rate_limit_hit
from businesses.authentication import api_key_resolve, bearer_token
from businesses.models import ApiKey
from config.bodylimit import payload_too_large_body
from config.errors import ApplicationError, NotFoundError, error_response
from config.jsonlimits import JsonTooDeep, json_loads_limited


class TenantAPIView(APIView):
    """``self.business`` is the caller's business; ``self.get_scoped`` never leaks another tenant.

    An object of another business is a 404, exactly like one that does not
    exist, so its existence is never confirmed.
    """

    # What ``paginate`` uses; naming it here also tells drf-spectacular that a list response
    # (``responses=X(many=True)``) is the {results, next} page, with its cursor and limit.
    pagination_class = api_settings.DEFAULT_PAGINATION_CLASS

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

    def paginate(self, queryset, serializer_class) -> Response:
        """One page of ``queryset`` in the contract's list shape."""
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        return paginator.get_paginated_response(serializer_class(page, many=True).data)


# --------------------------------------------------------------------------- async views
# DRF has no native async views, so the streaming endpoints are plain Django async views.
# These helpers give them the same key authentication, rate limit and error shape.


async def api_key_authenticate_async(request) -> ApiKey:
    header = request.headers.get("Authorization", "")
    if not header:
        raise ApplicationError("unauthenticated", "Send an API key as 'Authorization: Bearer sk_…'.", status=401,
                               headers={"WWW-Authenticate": 'Bearer realm="api"'})
    token = bearer_token(header)
    key = await sync_to_async(api_key_resolve, thread_sensitive=False)(token) if token else None
    if key is None:
        raise ApplicationError("invalid_api_key", "Invalid or revoked API key.", status=401,
                               headers={"WWW-Authenticate": 'Bearer realm="api"'})
    wait = await sync_to_async(rate_limit_hit, thread_sensitive=False)(
        scope="key", identity=str(key.pk), rate=settings.RATELIMIT_PER_API_KEY)
    if wait is not None:
        retry_after = max(1, math.ceil(wait))
        raise ApplicationError("rate_limited", f"Too many requests; retry in {retry_after} s.", status=429,
                               details={"retry_after": retry_after}, headers={"Retry-After": str(retry_after)})
    return key


def json_body(request, *, max_bytes: int | None = None) -> dict:
    """The request's JSON object, or the error shape's 400/413/415."""
    if request.content_type != "application/json":
        raise ApplicationError("unsupported_media_type", "Send the body as application/json.", status=415)
    try:
        raw = request.body
    except RequestDataTooBig as exc:
        body = payload_too_large_body(settings.MAX_JSON_BODY_BYTES)["error"]
        raise ApplicationError(body["code"], body["message"], status=413, details=body["details"]) from exc
    try:
        data = json_loads_limited(raw or b"null")
    except JsonTooDeep as exc:
        raise ApplicationError("malformed_request", str(exc), status=400,
                               details={"max_depth": exc.limit}) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApplicationError("malformed_request", f"The body is not valid JSON: {exc}", status=400) from exc
    if not isinstance(data, dict):
        raise ApplicationError("validation_error", "Expected a JSON object.", status=400)
    return data


def async_api_view(*, methods: tuple[str, ...], secret_only: bool = False):
    """Wrap ``async def view(request, key, **kwargs)``: method check, key auth, rate limit, errors."""

    def decorate(view):
        @functools.wraps(view)
        async def wrapper(request, **kwargs):
            try:
                key = await api_key_authenticate_async(request)
                if request.method not in methods:
                    response = error_response("method_not_allowed", f'Method "{request.method}" not allowed.',
                                              status=405)
                    response["Allow"] = ", ".join(methods)
                    return response
                if secret_only and not key.is_secret:
                    raise ApplicationError("permission_denied", "This endpoint needs a secret key (sk_…).",
                                           status=403)
                request.business = key.business
                return await view(request, key, **kwargs)
            except ApplicationError as exc:
                response = error_response(exc.code, exc.message, status=exc.status, details=exc.details)
                for name, value in exc.headers.items():
                    response[name] = value
                return response

        wrapper.csrf_exempt = True  # API-key authenticated, no cookies
        return wrapper

    return decorate
