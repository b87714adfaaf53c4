"""The process's Redis client for counters (REDIS_URL), or None without Redis (the demo).

One ``redis.Redis`` per URL and process: its connection pool is thread-safe, so the request
threads and the Celery tasks of a process share it.
"""

from __future__ import annotations

import functools

import redis
from django.conf import settings


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2, health_check_interval=30)


def client() -> redis.Redis | None:
    url = settings.REDIS_URL
    return _client(url) if url else None
