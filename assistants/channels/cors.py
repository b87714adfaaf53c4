"""CORS for the web widget: a page on a customer's website calls the widget-facing endpoints
(config, start a conversation, messages, handoff, feedback on an answer) from the browser.

Only those paths get CORS, and only for the origins on the assistant's ``allowed_origins``
(empty: any origin). A preflight from any other origin is a 403 without CORS headers, and so
is the request itself, so a browser on a site the owner did not list can neither read nor send.
The check needs the assistant, found from the path alone (a preflight carries no key): an id
that names nothing is answered like an open assistant, so a preflight never confirms that an
object exists; the request itself then gets its ordinary 404.

Requests without an ``Origin`` header (servers, curl) and same-origin requests (the /demo/ page)
pass through untouched, without a database query. Sync and async capable like
config.metrics.MetricsMiddleware, so the async chat views are not pushed through a thread.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

from assistants.models import Assistant, Conversation, Message
from config.errors import error_response

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # Django's <uuid:> converter
WIDGET_PATHS = re.compile(
    rf"^/api/v1/(?:assistants/(?P<assistant_id>{_UUID})/(?:widget|conversations)"
    rf"|conversations/(?P<conversation_id>{_UUID})/(?:messages|handoff)"
    rf"|messages/(?P<message_id>{_UUID})/feedback)$"
)
ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type, X-Customer-Token, Idempotency-Key, Accept"
EXPOSE_HEADERS = "Retry-After"
PREFLIGHT_MAX_AGE = "600"  # seconds a browser may reuse a preflight answer


def allowed_origins_for(*, assistant_id: str | None = None, conversation_id: str | None = None,
                        message_id: str | None = None) -> list[str] | None:
    """The assistant's allowed origins, or None when the id names nothing.

    Unscoped on purpose: a preflight has no key, so there is no tenant yet; only the list of
    origins is read, and it is never returned to the caller.
    """
    if assistant_id:
        query = Assistant.objects.unscoped().filter(pk=uuid.UUID(assistant_id)).values_list("allowed_origins",
                                                                                            flat=True)
    elif conversation_id:
        query = Conversation.objects.unscoped().filter(pk=uuid.UUID(conversation_id)).values_list(
            "assistant__allowed_origins", flat=True)
    else:
        query = Message.objects.unscoped().filter(pk=uuid.UUID(message_id)).values_list(
            "conversation__assistant__allowed_origins", flat=True)
    return query.first()


def origin_allowed(origin: str, allowed: list[str] | None) -> bool:
    return not allowed or origin.lower() in allowed


def _widget_request(request: HttpRequest) -> tuple[str, re.Match] | None:
    """(origin, path match) for a cross-origin call to a widget endpoint; None for anything else."""
    origin = request.META.get("HTTP_ORIGIN")  # request.headers would build a dict of every header (~1 % of a request)
    if not origin:
        return None
    match = WIDGET_PATHS.match(request.path)
    if match is None:
        return None
    try:
        if urlsplit(origin).netloc.lower() == request.get_host().lower():
            return None  # same site (the /demo/ page); the scheme may differ behind a TLS proxy
    except (DisallowedHost, ValueError):
        pass
    return origin, match


def _is_preflight(request: HttpRequest) -> bool:
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


def _refused(origin: str) -> HttpResponse:
    return error_response("origin_not_allowed", f"Pages on {origin} may not use this assistant's widget: add the "
                          "origin to the assistant's allowed_origins.", status=403)


def _preflight_ok(origin: str) -> HttpResponse:
    response = HttpResponse(status=204)
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Allow-Methods"] = ALLOW_METHODS
    response["Access-Control-Allow-Headers"] = ALLOW_HEADERS
    response["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
    patch_vary_headers(response, ("Origin",))
    return response


def _decorate(response: HttpResponse, origin: str) -> HttpResponse:
    # No Allow-Credentials: the widget authenticates with headers, never cookies.
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    patch_vary_headers(response, ("Origin",))
    return response


class WidgetCorsMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        found = _widget_request(request)
        if found is None:
            return self.get_response(request)
        origin, match = found
        allowed = allowed_origins_for(**match.groupdict())
        if not origin_allowed(origin, allowed):
            return _refused(origin)
        if _is_preflight(request):
            return _preflight_ok(origin)
        return _decorate(self.get_response(request), origin)

    async def __acall__(self, request: HttpRequest):
        found = _widget_request(request)
        if found is None:
            return await self.get_response(request)
        origin, match = found
        allowed = await sync_to_async(allowed_origins_for, thread_sensitive=False)(**match.groupdict())
        if not origin_allowed(origin, allowed):
            return _refused(origin)
        if _is_preflight(request):
            return _preflight_ok(origin)
        return _decorate(await self.get_response(request), origin)
