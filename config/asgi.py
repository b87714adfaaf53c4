"""The one server entry point: sync views on a WSGI thread pool, async views on ASGI.

Measured on 2 cores (docs/benchmarks.md): Django's ASGI handler runs each sync view in a
per-request thread context, which made the plain REST endpoints about 3x slower than
gunicorn's sync workers. Streaming chat needs ASGI. So this app routes each request by
its view: async views (chat streaming, the OpenAI-compatible endpoint) go to Django's
ASGI handler with the API's own middleware chain (config/middleware.py); every sync view
goes to Django's WSGI handler on a small, fixed thread pool (config/wsgi_bridge.py: one
thread hop per request), which keeps persistent database connections per thread.
"""

import functools
import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.urls import Resolver404, ResolverMatch, get_resolver, resolve

django_asgi = get_asgi_application()


class _ApiMiddleware:
    """A Django handler that loads ``settings.API_MIDDLEWARE`` (config/middleware.py)."""

    def load_middleware(self, is_async=False):
        # BaseHandler.load_middleware reads settings.MIDDLEWARE; this runs once, at import,
        # before the server takes requests.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_MIDDLEWARE
        try:
            super().load_middleware(is_async=is_async)
        finally:
            settings.MIDDLEWARE = full


@functools.lru_cache(maxsize=4096)
def _resolved(resolver, path: str) -> ResolverMatch:
    return resolver.resolve(path)


class _RememberedResolve:
    """URL resolution remembered per path (the last 4096 paths), for requests on the default URLconf.

    Django matches the path against the URL patterns in order for every request: ~144 k
    instructions for /api/v1/assistants, 8 % of a list request (docs/benchmarks.md). Keyed by
    the resolver too, so a changed URLconf (tests) resolves anew; a path that does not resolve
    raises Resolver404 as before and is not remembered. Each request gets its own copy of the
    match (and of its kwargs).
    """

    def resolve_request(self, request):
        if hasattr(request, "urlconf"):  # a middleware chose another URLconf: Django's own path
            return super().resolve_request(request)
        remembered = _resolved(get_resolver(), request.path_info)
        match = ResolverMatch.__new__(ResolverMatch)
        match.__dict__.update(remembered.__dict__)
        match.kwargs = dict(remembered.kwargs)
        request.resolver_match = match
        return match


class AsyncApiHandler(_ApiMiddleware, ASGIHandler):
    """The async views: Django's ASGI handler with the API's chain."""


class ApiWSGIHandler(_RememberedResolve, _ApiMiddleware, WSGIHandler):
    """The sync views under /api/v1/: Django's WSGI handler with the API's chain."""


async_api = AsyncApiHandler()

from config.wsgi_bridge import WSGIBridge  # noqa: E402

# Both sync handlers share one pool of threads (and so the threads' database connections).
django_wsgi = WSGIBridge(get_wsgi_application(), workers=settings.WEB_SYNC_THREADS,
                         slow_after=settings.WEB_SYNC_SLOW_MS / 1000)
api_wsgi = WSGIBridge(ApiWSGIHandler(), pool=django_wsgi.pool)


@functools.lru_cache(maxsize=4096)
def _is_async(path: str) -> bool:
    try:
        view = _resolved(get_resolver(), path).func  # the match the API handler then reuses
    except Resolver404:
        return False
    return iscoroutinefunction(view) or getattr(getattr(view, "view_class", None), "view_is_async", False)


async def application(scope, receive, send):
    if scope["type"] != "http":
        await django_asgi(scope, receive, send)
    elif _is_async(scope["path"]):
        await async_api(scope, receive, send)
    elif scope["path"].startswith("/api/v1/"):
        await api_wsgi(scope, receive, send)
    else:
        await django_wsgi(scope, receive, send)

# Import the URLconf and with it every view module now, not in the first request: that
# request held its process's GIL for a tenth of a second, long enough for the sibling
# workers to take the connections this one was due (config/server.py).
resolve("/healthz")

# Everything imported so far (Django, the apps, their modules) lives as long as the process:
# move it out of the garbage collector's generations, so a full collection no longer walks
# it. Without this, full collections every few seconds were the API's p99 (docs/benchmarks.md).
gc.freeze()
