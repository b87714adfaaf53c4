"""DRF's content negotiation, remembered per ``Accept`` header.

Which renderer answers depends only on the view's renderer classes, the ``Accept`` header and
the format override, and almost every client sends one of a handful of ``Accept`` values (none,
``*/*``, ``application/json``). DRF parses and ranks the header for every request; that was 30-50 µs
of a list request's ~0.5 ms of CPU (docs/benchmarks.md, "API overhead"). The answer is remembered
for the last 512 combinations seen (headers up to 256 characters); a header no renderer
matches is still a 406 every time.
"""

from __future__ import annotations

import functools

from rest_framework.negotiation import DefaultContentNegotiation

MAX_REMEMBERED_ACCEPT = 256  # characters; the cache holds at most 512 such headers


class CachedContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        format_ = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        classes = tuple(type(renderer) for renderer in renderers)
        if len(accept) > MAX_REMEMBERED_ACCEPT:  # a client's odd header: not worth a place in the cache
            index, media_type = self.negotiate(classes, accept, format_)
        else:
            index, media_type = _negotiate(type(self), classes, accept, format_)
        return renderers[index], media_type

    def negotiate(self, renderer_classes, accept, format_):
        """DRF's choice for these inputs: the renderer's index and the media type."""
        renderers = [renderer_class() for renderer_class in renderer_classes]
        renderer, media_type = super().select_renderer(_Headers(accept), renderers, format_)
        return renderers.index(renderer), media_type


class _Headers:
    """What ``DefaultContentNegotiation.select_renderer`` reads of a request."""

    def __init__(self, accept: str) -> None:
        self.headers = {"accept": accept}
        self.query_params: dict = {}  # the format override, if any, is passed as the suffix


@functools.lru_cache(maxsize=512)
def _negotiate(negotiation_class, renderer_classes, accept, format_):
    return negotiation_class().negotiate(renderer_classes, accept, format_)
