"""Rate limits per API key and per client IP, counted in Redis by `limits`.

A sliding-window counter: two Redis keys per identity, no unbounded lists (unlike DRF's
built-in throttles, which keep a timestamp list in the cache and are not atomic across
processes).

Far from its limit, a key's hits are batched per process. The Redis round trip of every
request was a fifth of what a cheap API request costs behind the server
(docs/benchmarks.md, "API overhead"). A process that last saw a key with plenty of room
(more than a tenth of its limit left, seen under ``LOCAL_WINDOW`` seconds ago) admits the
key's requests itself and adds them to Redis in one hit at its next contact. Close to the
limit, after ``LOCAL_WINDOW``, and for limits under ``LOCAL_MIN_AMOUNT`` (sign-ups per IP, ...)
every request goes to Redis, so the 429 comes exactly where it did. The price: other
processes' traffic of the last ``LOCAL_WINDOW`` seconds is unseen, so a key can overshoot by
at most about a tenth of its limit per other process, and only when it is driven that hard.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass

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


LOCAL_MIN_AMOUNT = 100  # limits below this are counted in Redis request by request
LOCAL_WINDOW = 0.25  # seconds a process trusts what it last learned of a key's room


@dataclass
class _Local:
    remaining: float  # room in Redis when last asked, less this process's hits counted since
    seen_at: float  # time.monotonic() of that answer
    pending: int = 0  # hits admitted here and not yet in Redis


_local: dict[tuple, _Local] = {}
_local_lock = threading.Lock()


def hit(*, scope: str, identity: str, rate: str) -> float | None:
    """Count one request; None when allowed, else seconds until the next one is."""
    if not settings.RATELIMIT_ENABLED:
        return None
    limiter = _limiter(settings.RATELIMIT_STORAGE_URI)
    item = _rate(rate)
    if item.amount < LOCAL_MIN_AMOUNT:
        if limiter.hit(item, scope, identity):
            return None
        return _wait(limiter, item, scope, identity)

    key, headroom, now = (settings.RATELIMIT_STORAGE_URI, scope, identity, rate), item.amount // 10, time.monotonic()
    with _local_lock:
        state = _local.get(key)
        if state is not None and now - state.seen_at < LOCAL_WINDOW and state.remaining - state.pending > headroom:
            state.pending += 1
            return None
        cost = 1 + (state.pending if state is not None else 0)
        if state is not None:
            state.pending = 0
    allowed = limiter.hit(item, scope, identity, cost=cost)
    if not allowed and cost > 1:
        # The batch does not fit any more; its requests were served already. Count this one.
        allowed, cost = limiter.hit(item, scope, identity), 1
    if not allowed:
        with _local_lock:
            _local.pop(key, None)
        return _wait(limiter, item, scope, identity)
    if state is None or now - state.seen_at >= LOCAL_WINDOW or state.remaining - cost > 2 * headroom:
        # Worth knowing the room again (it may have grown as the window slid): one more round trip.
        remaining = limiter.get_window_stats(item, scope, identity).remaining
        seen_at = time.monotonic()
    else:  # near the limit: every request goes to Redis anyway, no need to ask
        remaining, seen_at = state.remaining - cost, state.seen_at
    with _local_lock:
        current = _local.get(key)
        pending = current.pending if current is not None else 0
        if len(_local) > 10_000:  # one entry per active key and rate; drop the lot now and then
            _local.clear()
        _local[key] = _Local(remaining=remaining, seen_at=seen_at, pending=pending)
    return None


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
