"""Request body limits for every endpoint, applied before any view reads a byte.

A body over the limit gets ``413 payload_too_large`` in the API's error shape, with the limit
in ``details``. The limit is known before the body is read when the request has a
``Content-Length``; a chunked body is counted as it arrives and refused once it passes the
limit, so neither kind is ever buffered whole (Django's ASGI handler reads a body in full before
it routes the request, so without this a 30 MB body to an unknown conversation was spooled to
disk before its 404).

A client that sends the whole body before reading (Python's ``urllib``, curl without
``Expect: 100-continue``) only reads the answer if the server reads the body first: closing a
socket with unread data makes the kernel send a reset, and the client sees "connection reset"
instead of the 413. So an unread body is drained (read and dropped, never kept) before the
last byte of the answer, up to ``BODY_DRAIN_MAX_BYTES`` and ``BODY_DRAIN_SECONDS``; past those
the connection is closed. A client that sent ``Expect: 100-continue`` has not sent the body and
gets the 413 at once.

The owner's dashboard (``/app/``, its sign-in and sign-up pages included) is a browser, not an
API client: there the drained request goes on to Django with an empty body and the limit in its
scope (``BODY_TOO_LARGE``), and ``config.errors.PayloadTooLargePageMiddleware`` answers the 413
as a dashboard page, in the signed-in owner's language, before any view or CSRF check runs.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from django.conf import settings

Scope = dict[str, Any]

PAGE_PREFIX = "/app/"  # the owner's dashboard: errors are pages there (config/errors.py)
BODY_TOO_LARGE = "frontdesk.body_too_large"  # the scope key: the limit the refused body passed


def body_limit_for(content_type: str) -> int:
    """Multipart bodies carry uploads (their own, larger limit); everything else is a form or JSON."""
    if content_type.split(";", 1)[0].strip().lower() == "multipart/form-data":
        return settings.MAX_UPLOAD_BODY_BYTES
    return settings.MAX_JSON_BODY_BYTES


def payload_too_large_body(limit: int) -> dict[str, Any]:
    return {"error": {"code": "payload_too_large",
                      "message": f"The request body is larger than the limit of {limit} bytes.",
                      "details": {"limit_bytes": limit}}}


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


class BodyLimitMiddleware:
    """Pure ASGI middleware: config/asgi.py wraps the whole application in it."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit_for(_header(scope, b"content-type"))
        length_header = _header(scope, b"content-length")
        try:
            length = int(length_header) if length_header else None
        except ValueError:
            length = None  # the server's parser refuses a malformed length before we get here
        if length is not None and length > limit:
            if "100-continue" not in _header(scope, b"expect").lower():
                await self._drain(receive, already=0)
            await self._refuse(scope, receive, send, limit)
            return

        state = {"received": 0, "done": length == 0, "over": False, "started": False}

        async def counted_receive():
            if state["over"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if not message.get("more_body", False):
                    state["done"] = True
                if state["received"] > limit:
                    # The app sees a client that went away; the answer is ours.
                    state["over"] = True
                    return {"type": "http.disconnect"}
            elif message["type"] == "http.disconnect":
                state["done"] = True
            return message

        async def guarded_send(message):
            if state["over"]:
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False) \
                    and not state["done"]:
                # The view answered without reading the whole body (a 404, a 401): read the rest
                # first, so the client gets this answer and not a reset.
                await self._drain(receive, already=state["received"])
                state["done"] = True
            await send(message)

        await self.app(scope, counted_receive, guarded_send)
        if state["over"] and not state["started"]:
            if not state["done"]:
                await self._drain(receive, already=state["received"])
            await self._refuse(scope, receive, send, limit)

    @staticmethod
    async def _drain(receive, *, already: int) -> None:
        budget = settings.BODY_DRAIN_MAX_BYTES - already

        async def drain() -> None:
            nonlocal budget
            while budget > 0:
                message = await receive()
                if message["type"] != "http.request":
                    return
                budget -= len(message.get("body", b""))
                if not message.get("more_body", False):
                    return

        try:
            await asyncio.wait_for(drain(), timeout=settings.BODY_DRAIN_SECONDS)
        except TimeoutError:
            pass  # a client this slow gets the answer and a closed connection

    async def _refuse(self, scope: Scope, receive, send, limit: int) -> None:
        if scope["path"].startswith(PAGE_PREFIX):
            await self._refuse_page(scope, receive, send, limit)
            return
        body = json.dumps(payload_too_large_body(limit)).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def _refuse_page(self, scope: Scope, receive, send, limit: int) -> None:
        """The dashboard's 413: the same request, its body dropped, answered by Django (which
        renders the page with the session's user and language)."""
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() not in (b"content-length",
                                                                                    b"transfer-encoding")]
        page_scope = {**scope, "headers": [*headers, (b"content-length", b"0")], BODY_TOO_LARGE: limit}
        body_given = False

        async def empty_receive():
            nonlocal body_given
            if not body_given:
                body_given = True
                return {"type": "http.request", "body": b"", "more_body": False}
            while True:  # what is left of an undrained body is dropped; a disconnect is passed on
                message = await receive()
                if message["type"] != "http.request":
                    return message

        async def closing_send(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        await self.app(page_scope, empty_receive, closing_send)
