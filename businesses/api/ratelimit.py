"""Rate limits per API key and per client IP, counted in Redis by `limits`.

A sliding-window counter: two Redis keys per identity, no unbounded lists (unlike DRF's
built-in throttles, which keep a timestamp list in the cache and are not atomic across
processes).
"""

from __future__ import annotations

import functools
import time

from django.conf import settings
from limits import RateLimitItem, parse, storage, strategies
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle


@functools.cache
def _limiter(uri: str) -> strategies.RateLimiter:
    return strategies.SlidingWindowCounterRateLimiter(storage.storage_from_string(uri))


@functools.cache
def _rate(text: str) -> RateLimitItem:
    return parse(text)


def client_ip(request) -> str:
    """The client's address; X-Forwarded-For only as far as TRUSTED_PROXY_COUNT proxies vouch for it."""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "unknown")


def hit(*, scope: str, identity: str, rate: str) -> float | None:
    """Count one request; None when allowed, else seconds until the next one is."""
    if not settings.RATELIMIT_ENABLED:
        return None
    limiter = _limiter(settings.RATELIMIT_STORAGE_URI)
    item = _rate(rate)
    if limiter.hit(item, scope, identity):
        return None
    return _wait(limiter, item, scope, identity)


def identities_forget(identities: set[str]) -> int:
    """Delete the rate-limit counters kept for these identities in any scope (a customer's data is
    erased: no counter keyed by their number or conversation stays). Returns how many went.

    One SCAN over the limiter's keys; counters expire with their window anyway, this only makes
    them go now."""
    wanted = {str(i) for i in identities if i}
    uri = settings.RATELIMIT_STORAGE_URI
    if not wanted or not uri.startswith(("redis://", "rediss://")):
        return 0  # in-memory counters (the demo) live as long as the process, for one window
    store = _limiter(uri).storage
    client = store.storage
    prefix = f"{store.key_prefix}:{{LIMITER/"  # limits writes "LIMITS:{LIMITER/<scope>/<identity>/…}"
    doomed = []
    for raw in client.scan_iter(match=f"{prefix}*", count=1000):
        key = raw.decode() if isinstance(raw, bytes) else raw
        parts = key[len(prefix):].split("/")
        if len(parts) > 1 and parts[1] in wanted:
            doomed.append(raw)
    if doomed:
        client.delete(*doomed)
    return len(doomed)


def _wait(limiter, item: RateLimitItem, scope: str, identity: str) -> float:
    reset_time, _remaining = limiter.get_window_stats(item, scope, identity)
    return max(1.0, reset_time - time.time())


class _RateLimit(BaseThrottle):
    scope = ""

    def identity(self, request: Request) -> str | None:
        raise NotImplementedError

    def rate(self) -> str:
        raise NotImplementedError

    def allow_request(self, request: Request, view) -> bool:
        identity = self.identity(request)
        if identity is None:
            return True
        self._wait = hit(scope=self.scope, identity=identity, rate=self.rate())
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


class ApiKeyRateLimit(_RateLimit):
    """Default for every authenticated endpoint: RATELIMIT_PER_API_KEY per key."""

    scope = "key"

    def identity(self, request: Request) -> str | None:
        key = request.auth
        return str(key.pk) if key is not None else None

    def rate(self) -> str:
        return settings.RATELIMIT_PER_API_KEY


class SignupIpRateLimit(_RateLimit):
    """Sign-ups per client IP: RATELIMIT_SIGNUP_PER_IP."""

    scope = "signup-ip"

    def identity(self, request: Request) -> str | None:
        return client_ip(request)

    def rate(self) -> str:
        return settings.RATELIMIT_SIGNUP_PER_IP
