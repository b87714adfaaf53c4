"""Prometheus metrics: requests by route and status, and a latency histogram.

Labels use the URL *pattern* (``api/v1/assistants/<uuid:pk>``), never the raw
path, so the number of series stays bounded. With several worker processes set
PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode) so /metrics
adds up every process.
"""

from __future__ import annotations

import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

REQUESTS = Counter("frontdesk_http_requests_total", "HTTP requests handled.", ["route", "method", "status"])
LATENCY = Histogram(
    "frontdesk_http_request_duration_seconds",
    "Time from the request reaching Django to the response leaving it.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def _route(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    return match.route if match is not None and match.route else "unmatched"


def _observe(request: HttpRequest, response: HttpResponse, started: float) -> None:
    route = _route(request)
    REQUESTS.labels(route, request.method, str(response.status_code)).inc()
    LATENCY.labels(route, request.method).observe(time.perf_counter() - started)


class MetricsMiddleware:
    """Sync and async capable, so an async view is not pushed through a thread."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        started = time.perf_counter()
        response = self.get_response(request)
        _observe(request, response, started)
        return response

    async def __acall__(self, request: HttpRequest):
        started = time.perf_counter()
        response = await self.get_response(request)
        _observe(request, response, started)
        return response


def metrics_view(request: HttpRequest) -> HttpResponse:
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        payload = generate_latest(registry)
    else:
        payload = generate_latest()
    return HttpResponse(payload, content_type=CONTENT_TYPE_LATEST)
