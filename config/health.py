"""Operator endpoints: liveness, readiness (says which dependency is down)."""

from __future__ import annotations

import httpx
import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    """Alive: the process answers. Touches nothing else, so it never flaps."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # any failure means "not ready"; the reason is reported
        return f"down: {type(exc).__name__}: {exc}".strip()[:300]


def _check_redis() -> str:
    if not settings.REDIS_URL:
        return "not configured (tasks run in-process, cache in memory)"
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        return "ok"
    except Exception as exc:
        return f"down: {type(exc).__name__}: {exc}".strip()[:300]


def _check_inference() -> str:
    """At least one vLLM replica answers GET /models; without INFERENCE_BASE_URL nothing to check."""
    if not settings.INFERENCE_BASE_URL:
        return "not configured (extractive answers)"
    failures = []
    for base in settings.INFERENCE_BASE_URL:
        try:
            response = httpx.get(base.rstrip("/") + "/models", timeout=2.0,
                                 headers={"Authorization": f"Bearer {settings.INFERENCE_API_KEY}"}
                                 if settings.INFERENCE_API_KEY else None)
            if response.status_code == 200:
                return "ok" if not failures else f"ok ({len(failures)} replica(s) down: {'; '.join(failures)})"
            failures.append(f"{base}: HTTP {response.status_code}")
        except httpx.HTTPError as exc:
            failures.append(f"{base}: {type(exc).__name__}")
    return "down: " + "; ".join(failures)[:300]


def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _check_database(), "redis": _check_redis(), "inference": _check_inference()}
    ready = all(not value.startswith("down") for value in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
