"""The server's entry point: Django's ASGI handler for the async views, its WSGI handler for the rest.

The async views (a chat message and its streamed answer, the OpenAI-compatible endpoint) wait
on the model server for seconds without holding a thread, so they run on Django's ASGI
handler. Every other view is sync: it runs on Django's WSGI handler in a fixed pool of
threads (a2wsgi's ``WSGIMiddleware``), as under a WSGI server, so each thread keeps its
database connection (``CONN_MAX_AGE``) and the browser middleware (sessions, CSRF) runs
without a thread hop per hook (config/middleware.py).
"""

import functools
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

from a2wsgi import WSGIMiddleware
from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.urls import Resolver404, resolve

from config.bodylimit import BodyLimitMiddleware

django_asgi = get_asgi_application()

from config.wsgi import application as django_wsgi  # noqa: E402  (after Django is set up)

sync_views = WSGIMiddleware(django_wsgi, workers=settings.WEB_SYNC_THREADS)


@functools.lru_cache(maxsize=4096)
def is_async_view(path: str) -> bool:
    try:
        view = resolve(path).func
    except Resolver404:
        return False
    return iscoroutinefunction(view) or getattr(getattr(view, "view_class", None), "view_is_async", False)


async def route(scope, receive, send):
    if scope["type"] == "http" and not is_async_view(scope["path"]):
        await sync_views(scope, receive, send)
    else:
        await django_asgi(scope, receive, send)


# Body limits before either handler reads a byte (config/bodylimit.py).
application = BodyLimitMiddleware(route)
