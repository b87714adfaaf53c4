"""Who may open a dashboard page: a signed-in member of the current business, with a role that
has the page's capability (businesses/roles.py). Another business's object is a 404; a page
the role may not open is a 403 page; an error a service raises is a page that says it."""

from __future__ import annotations

import functools

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from assistants.models import Assistant
from assistants.selectors import assistant_list
from businesses.accounts import account_settings_for
from businesses.models import Membership
from businesses.roles import Capability, role_can
from businesses.selectors import membership_for, memberships_of
from config.errors import ApplicationError

SESSION_BUSINESS = "business_id"
SESSION_ASSISTANT = "assistant_id"


def current_membership(request) -> Membership | None:
    """The membership of the business this session works on: the one chosen in the switcher,
    else the one used last, else the first."""
    user = request.user
    membership = membership_for(user=user, business_id=request.session.get(SESSION_BUSINESS))
    if membership is None:
        last = account_settings_for(user=user).last_business_id
        membership = membership_for(user=user, business_id=last) or memberships_of(user=user).first()
        if membership is not None:
            request.session[SESSION_BUSINESS] = str(membership.business_id)
    return membership


def current_assistant(request) -> Assistant | None:
    assistants = assistant_list(business=request.business).order_by("created_at")
    chosen = request.session.get(SESSION_ASSISTANT)
    assistant = assistants.filter(pk=chosen).first() if chosen else None
    return assistant or assistants.first()


def error_page(request, exc: ApplicationError):
    return render(request, "dashboard/error.html", {"status": exc.status, "message": exc.message, "code": exc.code},
                  status=exc.status)


def member_page(capability: Capability | None = None):
    """Decorate a dashboard view: sign-in, business, role, and readable service errors."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = current_membership(request)
            if membership is None:
                return render(request, "dashboard/no_business.html", status=403)
            request.membership = membership
            request.business = membership.business
            if capability is not None and not role_can(membership.role, capability):
                raise PermissionDenied
            request.assistant = current_assistant(request)
            try:
                return view(request, *args, **kwargs)
            except ApplicationError as exc:
                return error_page(request, exc)

        return wrapper

    return decorate
