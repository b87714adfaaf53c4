"""The one server entry point: sync views on a WSGI thread pool, async views on ASGI.

Measured on 2 cores (docs/benchmarks.md): Django's ASGI handler runs each sync view in a
per-request thread context, which made the plain REST endpoints about 3x slower than
gunicorn's sync workers. Streaming chat needs ASGI. So this app routes each request by
its view: async views (chat streaming, the OpenAI-compatible endpoint) go to Django's
ASGI handler with the API's own middleware chain (config/middleware.py); every sync view
goes to Django's WSGI handler on a small, fixed thread pool (a2wsgi), which keeps
persistent database connections per thread.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.handlers.asgi import ASGIHandler
from django.core.wsgi import get_wsgi_application
from django.urls import Resolver404, resolve

django_asgi = get_asgi_application()


class AsyncApiHandler(ASGIHandler):
    """Django's ASGI handler with ``settings.ASYNC_API_MIDDLEWARE`` (config/middleware.py)."""

    def load_middleware(self, is_async=False):
        # BaseHandler.load_middleware reads settings.MIDDLEWARE; this runs once, at import,
        # before the server takes requests.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.ASYNC_API_MIDDLEWARE
        try:
            super().load_middleware(is_async=is_async)
        finally:
            settings.MIDDLEWARE = full


async_api = AsyncApiHandler()

from a2wsgi import WSGIMiddleware  # noqa: E402

django_wsgi = WSGIMiddleware(get_wsgi_application(), workers=settings.WEB_SYNC_THREADS)


def _is_async(path: str) -> bool:
    try:
        view = resolve(path).func
    except Resolver404:
        return False
    return iscoroutinefunction(view) or getattr(getattr(view, "view_class", None), "view_is_async", False)


async def application(scope, receive, send):
    if scope["type"] != "http":
        await django_asgi(scope, receive, send)
    elif _is_async(scope["path"]):
        await async_api(scope, receive, send)
    else:
        await django_wsgi(scope, receive, send)
