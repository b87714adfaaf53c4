"""Resolve `Authorization: Bearer sk_…|pk_…` to ``request.business``."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication, exceptions

from businesses.keys import KIND_PREFIX, PREFIX_LENGTH, key_hash, key_matches
from businesses.models import ApiKey

# last_used_at is written at most this often per key, so the hot path stays read-only.
LAST_USED_RESOLUTION = timedelta(seconds=60)
_CACHE_SIZE = 10_000


class _KeyCache:
    """Resolved keys per process for API_KEY_CACHE_SECONDS: the key lookup is the costliest
    part of a small API request (docs/benchmarks.md). Revoking drops the key here at once;
    other processes notice within the TTL."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[float, ApiKey]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> ApiKey | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None or entry[0] < time.monotonic():
                return None
            self._entries.move_to_end(digest)
            return entry[1]

    def put(self, digest: str, key: ApiKey) -> None:
        ttl = settings.API_KEY_CACHE_SECONDS
        if ttl <= 0:
            return
        with self._lock:
            self._entries[digest] = (time.monotonic() + ttl, key)
            while len(self._entries) > _CACHE_SIZE:
                self._entries.popitem(last=False)

    def forget(self, key_id) -> None:
        with self._lock:
            for digest in [d for d, (_, k) in self._entries.items() if k.pk == key_id]:
                del self._entries[digest]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


key_cache = _KeyCache()


def api_key_resolve(raw_key: str) -> ApiKey | None:
    """The active key for this raw key, or None. Used by DRF and by plain async views."""
    if not raw_key.startswith(tuple(KIND_PREFIX.values())) or len(raw_key) < PREFIX_LENGTH + 8:
        return None
    digest = key_hash(raw_key)
    key = key_cache.get(digest)
    if key is None:
        key = (
            ApiKey.objects.unscoped()  # resolving the tenant itself: nothing to scope by yet
            .select_related("business")
            .filter(prefix=raw_key[:PREFIX_LENGTH])
            .first()
        )
        if key is None or not key_matches(raw_key, key.key_hash) or key.revoked_at is not None:
            return None
        key_cache.put(digest, key)
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
