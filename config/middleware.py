"""Django's browser and header middleware, for the sync views only.

The async views (chat streaming, the OpenAI-compatible endpoint) answer API-key clients with
JSON or an event stream: no cookies, sessions, CSRF or users. Under the ASGI handler every hook
of a ``MiddlewareMixin`` middleware runs through ``sync_to_async``, a thread hop per hook:
about 4 ms of CPU per message for this chain (docs/benchmarks.md, "Chat"). So each of these
leaves the async handler's chain the documented way (``MiddlewareNotUsed`` when Django builds
that chain, where ``get_response`` is a coroutine function) and runs in full on the sync views.
The project's own middleware (metrics, widget CORS) is sync and async capable and runs on both.

Django's deploy checks security.W001-W003 look for the dotted paths of Django's own classes in
``MIDDLEWARE``; these are those classes, so the settings silence the three and ``check_chain``
below asks the same of the subclasses.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.core import checks
from django.core.exceptions import MiddlewareNotUsed
from django.middleware import clickjacking, common, csrf, locale, security


class _SyncViewsOnly:
    def __init__(self, get_response) -> None:
        if iscoroutinefunction(get_response):
            raise MiddlewareNotUsed
        super().__init__(get_response)


class SecurityMiddleware(_SyncViewsOnly, security.SecurityMiddleware):
    pass


class SessionMiddleware(_SyncViewsOnly, sessions.SessionMiddleware):
    pass


class LocaleMiddleware(_SyncViewsOnly, locale.LocaleMiddleware):
    """The dashboard's language: the user's setting (a cookie set at sign-in), else the browser's."""


class CommonMiddleware(_SyncViewsOnly, common.CommonMiddleware):
    pass


class CsrfViewMiddleware(_SyncViewsOnly, csrf.CsrfViewMiddleware):
    pass


class AuthenticationMiddleware(_SyncViewsOnly, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(_SyncViewsOnly, messages.MessageMiddleware):
    pass


class XFrameOptionsMiddleware(_SyncViewsOnly, clickjacking.XFrameOptionsMiddleware):
    pass


@checks.register(checks.Tags.security, deploy=True)
def check_chain(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Django's security.W001-W003, for this module's classes."""
    return [checks.Warning(f"{cls.__module__}.{cls.__name__} is not in MIDDLEWARE.", id=f"frontdesk.{code}")
            for code, cls in (("W001", SecurityMiddleware), ("W002", XFrameOptionsMiddleware),
                              ("W003", CsrfViewMiddleware))
            if f"{cls.__module__}.{cls.__name__}" not in settings.MIDDLEWARE]
