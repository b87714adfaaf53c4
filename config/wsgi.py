"""Django's WSGI handler, for the sync views (config/asgi.py serves it in a thread pool)."""

import os
import tempfile

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

django_wsgi = get_wsgi_application()


def application(environ, start_response):
    """Django's WSGI handler, for request bodies sent with ``Transfer-Encoding: chunked`` too.

    Django reads ``CONTENT_LENGTH`` bytes of a WSGI request's body and nothing when there is
    no length, so a chunked body (no ``Content-Length``) reached a sync view empty. Such a body
    is read here, up to one byte over the largest one Django accepts, and handed on with its
    length; one over the limit then gets Django's own 413, as a body with a length does.
    """
    if "CONTENT_LENGTH" not in environ and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        limit = max(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0, settings.INGEST_MAX_UPLOAD_BYTES) + 1
        body = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)
        stream, size = environ["wsgi.input"], 0
        while size < limit and (chunk := stream.read(min(65536, limit - size))):
            body.write(chunk)
            size += len(chunk)
        body.seek(0)
        environ = {**environ, "CONTENT_LENGTH": str(size), "wsgi.input": body}
    return django_wsgi(environ, start_response)
