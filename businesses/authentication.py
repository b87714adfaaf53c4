"""Resolve `Authorization: Bearer sk_…|pk_…` to ``request.business``."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication, exceptions

from businesses.keys import KIND_PREFIX, PREFIX_LENGTH, key_matches
from businesses.models import ApiKey

# last_used_at is written at most this often per key, so the hot path stays read-only.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def api_key_resolve(raw_key: str) -> ApiKey | None:
    """The active key for this raw key, or None. Used by DRF and by plain async views."""
    if not raw_key.startswith(tuple(KIND_PREFIX.values())) or len(raw_key) < PREFIX_LENGTH + 8:
        return None
    key = (
        ApiKey.objects.unscoped()  # resolving the tenant itself: nothing to scope by yet
        .select_related("business")
        .filter(prefix=raw_key[:PREFIX_LENGTH])
        .first()
    )
    if key is None or not key_matches(raw_key, key.key_hash) or key.revoked_at is not None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.unscoped().filter(pk=key.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        key.last_used_at = now
    return key


def bearer_token(header: str) -> str | None:
    parts = header.split()
    if len(parts) == 2 and parts[0].lower() == "bearer":
        return parts[1]
    return None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Sets ``request.auth`` to the ApiKey and ``request.business`` to its business."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        token = bearer_token(header)
        if token is None:
            raise exceptions.AuthenticationFailed("Malformed Authorization header; use 'Bearer <key>'.")
        key = api_key_resolve(token)
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        request._request.business = key.business
        request.business = key.business
        return (None, key)

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
