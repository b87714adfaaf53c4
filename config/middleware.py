"""The middleware of the async API views (chat streaming, the OpenAI-compatible endpoint).

In async mode Django runs every hook of a ``MiddlewareMixin`` middleware through
``sync_to_async(thread_sensitive=True)``: a hop to the request's own thread and back, for
each hook. With the full browser chain (sessions, CSRF, users, messages) that was 15 hops per
streamed message, ~200 threads alive and ~60 ms of web CPU per message at 256 concurrent
conversations; with this chain, 2 hops (Django's request signals), ~27 threads and ~40 ms
(docs/benchmarks.md, "Chat").

The async views are all API-key authenticated (no cookies, no sessions, no users), so their
handler (``config.asgi``) loads ``settings.API_MIDDLEWARE``: the chain minus what only
browsers need, with Django's pure header middlewares run inline on the event loop. Inline is
only right for hooks that never block (no database, no network, no files); the ones here
only read the request and set response headers.
"""

from __future__ import annotations

from django.middleware import clickjacking, common, security


class _InlineHooks:
    """Run ``process_request``/``process_response`` on the event loop instead of a thread."""

    async def __acall__(self, request):
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response


class SecurityMiddleware(_InlineHooks, security.SecurityMiddleware):
    """HTTPS redirect, HSTS, nosniff, referrer and cross-origin-opener policy headers."""


class CommonMiddleware(_InlineHooks, common.CommonMiddleware):
    """Disallowed user agents, PREPEND_WWW / APPEND_SLASH redirects, Content-Length."""


class XFrameOptionsMiddleware(_InlineHooks, clickjacking.XFrameOptionsMiddleware):
    """X-Frame-Options on every response."""
