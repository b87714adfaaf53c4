"""One error shape for the whole API: {"error": {"code", "message", "details"}}.

Services raise ApplicationError; DRF's own exceptions, Django's 404 and
oversized bodies are translated here, so no caller ever sees an HTML page or a
bare DRF ``{"detail": ...}``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed, PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response

from config.bodylimit import BODY_TOO_LARGE, PAGE_PREFIX, payload_too_large_body

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """An error a caller can act on; rendered as the API error shape."""

    def __init__(self, code: str, message: str, *, status: int = 400, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details or {}
        self.headers = headers or {}


class NotFoundError(ApplicationError):
    def __init__(self, what: str = "object") -> None:
        super().__init__("not_found", f"No such {what}.", status=404)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(code: str, message: str, *, status: int, details: dict[str, Any] | None = None) -> JsonResponse:
    """The error shape outside DRF (plain Django views, handlers, middleware)."""
    return JsonResponse(error_body(code, message, details), status=status)


_DRF_CODES: dict[type[exceptions.APIException], tuple[str, str | None]] = {
    exceptions.NotAuthenticated: ("unauthenticated", "Send an API key as 'Authorization: Bearer sk_…'."),
    exceptions.AuthenticationFailed: ("invalid_api_key", None),
    exceptions.PermissionDenied: ("permission_denied", None),
    exceptions.NotFound: ("not_found", None),
    exceptions.MethodNotAllowed: ("method_not_allowed", None),
    exceptions.NotAcceptable: ("not_acceptable", None),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", None),
    exceptions.Throttled: ("rate_limited", None),
    exceptions.ParseError: ("malformed_request", None),
    exceptions.ValidationError: ("validation_error", "The request has invalid fields; see details."),
}


def _drf_code(exc: exceptions.APIException) -> tuple[str, str]:
    for klass in type(exc).__mro__:
        if klass in _DRF_CODES:
            code, message = _DRF_CODES[klass]
            return code, message or _flatten(exc.detail)
    return "error", _flatten(exc.detail)


def _flatten(detail: Any) -> str:
    if isinstance(detail, list | tuple):
        return " ".join(_flatten(d) for d in detail)
    if isinstance(detail, dict):
        return " ".join(f"{k}: {_flatten(v)}" for k, v in detail.items())
    return str(detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER."""
    headers: dict[str, str] = {}
    if isinstance(exc, ApplicationError):
        response = Response(error_body(exc.code, exc.message, exc.details), status=exc.status)
        for name, value in exc.headers.items():
            response[name] = value
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("No such object.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        return Response(payload_too_large_body(settings.MAX_JSON_BODY_BYTES),
                        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)

    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: let Django log it and answer 500 (handler500 keeps the shape)

    code, message = _drf_code(exc)
    details: dict[str, Any] = {}
    if isinstance(exc, exceptions.ValidationError):
        details = {"fields": exc.detail} if isinstance(exc.detail, dict) else {"errors": exc.detail}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        retry_after = max(1, math.ceil(exc.wait))
        headers["Retry-After"] = str(retry_after)
        details = {"retry_after": retry_after}
        message = f"Too many requests; retry in {retry_after} s."
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if isinstance(exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated):
        headers.setdefault("WWW-Authenticate", 'Bearer realm="api"')
        status_code = status.HTTP_401_UNAUTHORIZED
    else:
        status_code = exc.status_code
    return Response(error_body(code, message, details), status=status_code, headers=headers)


# Django-level handlers (URLs outside DRF views, e.g. an unknown path). The owner's dashboard
# (/app/, config.bodylimit.PAGE_PREFIX) gets the same errors as a readable page.


def _page(request: HttpRequest, status: int, message: str, code: str) -> HttpResponse:
    from django.template import loader  # the dashboard's template, found by name only

    body = loader.render_to_string("dashboard/error.html", {"status": status, "message": message, "code": code},
                                   request=request)
    return HttpResponse(body, status=status)


def payload_too_large_page(request: HttpRequest, limit: int) -> HttpResponse:
    """The dashboard's 413: the limit in words ("21.0 MB"), nothing saved, how to go on."""
    return _page(request, 413, _("What you sent is larger than the limit of %(limit)s, so nothing was saved. Go "
                                 "back and send a smaller file, or split it into parts.")
                 % {"limit": filesizeformat(limit)}, "payload_too_large")


class PayloadTooLargePageMiddleware:
    """A dashboard request whose body config.bodylimit refused (and dropped) is answered here
    with the 413 page, before any view or the CSRF check reads the (now empty) body. Placed
    after the session, language and authentication middleware, so the page is the owner's.
    Sync views only, as config/middleware.py's: async capable so that Django hands the async
    chain's handler over as it is, and that chain then leaves this out (``MiddlewareNotUsed``)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        if iscoroutinefunction(get_response):
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        scope = getattr(request, "scope", None) or request.environ.get("asgi.scope") or {}
        limit = scope.get(BODY_TOO_LARGE)
        if limit is not None:
            return payload_too_large_page(request, limit)
        return self.get_response(request)


def _wants_page(request: HttpRequest) -> bool:
    return request.path.startswith(PAGE_PREFIX)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):
        if _wants_page(request):
            return payload_too_large_page(request, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        return JsonResponse(payload_too_large_body(settings.MAX_JSON_BODY_BYTES), status=413)
    if _wants_page(request):
        return _page(request, 400, _("The request could not be understood."), "bad_request")
    return error_response("bad_request", "The request could not be understood.", status=400)


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_page(request):
        return _page(request, 403, _("Your role in this business cannot open this page. Ask the owner if you "
                                     "need it."), "permission_denied")
    return error_response("permission_denied", "You do not have permission to do this.", status=403)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_page(request):
        return _page(request, 404, _("There is nothing here: the page or the item does not exist, or it "
                                     "belongs to another business."), "not_found")
    return error_response("not_found", f"No such endpoint: {request.path}", status=404)


def handler500(request: HttpRequest) -> HttpResponse:
    if _wants_page(request):
        return _page(request, 500, _("Something went wrong on our side; it has been logged."), "internal_error")
    return error_response("internal_error", "Something went wrong on our side; it has been logged.", status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a form posted without its token (an old tab, cookies blocked)."""
    if _wants_page(request):
        return _page(request, 403, _("This form expired or was sent from another site. Go back, reload the "
                                     "page and try again."), "csrf_failed")
    return error_response("csrf_failed", "CSRF verification failed.", status=403)
