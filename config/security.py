"""Security headers the framework does not set: a Content-Security-Policy on every response,
``X-Content-Type-Options`` on the async views too.

Django's SecurityMiddleware (sync views) sets ``X-Content-Type-Options: nosniff``,
``Referrer-Policy`` and ``Cross-Origin-Opener-Policy``, and in production HSTS; the
XFrameOptionsMiddleware sets ``X-Frame-Options``. This middleware adds the CSP: HTML pages get
CONTENT_SECURITY_POLICY with a fresh nonce per response (``request.csp_nonce``, for a page's
own inline ``<script nonce=…>``), so an injected script tag cannot run; the pages, the demo and
the widget's preview load only our own scripts (the widget is /widget.js, its calls go to our
own API). Every other response (JSON, the widget's script) gets ``default-src 'none';
frame-ancestors 'none'``: nothing in it may be rendered as a page.

It is sync and async capable, so the async API views get it without a thread hop.
"""

from __future__ import annotations

import secrets

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings

NOT_A_PAGE_POLICY = "default-src 'none'; frame-ancestors 'none'"


class SecurityHeadersMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        request.csp_nonce = secrets.token_urlsafe(16)
        return self._headers(request, self.get_response(request))

    async def _acall(self, request):
        request.csp_nonce = secrets.token_urlsafe(16)
        return self._headers(request, await self.get_response(request))

    @staticmethod
    def _headers(request, response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if "Content-Security-Policy" not in response.headers:
            if response.get("Content-Type", "").startswith("text/html"):
                policy = settings.CONTENT_SECURITY_POLICY.replace("{nonce}", request.csp_nonce)
            else:
                policy = NOT_A_PAGE_POLICY
            response.headers["Content-Security-Policy"] = policy
        return response
