"""Sign-in forms with the sign-in rate limit (businesses/accounts.py): the dashboard's and the
Django admin's count failures in the same windows, so neither is a way around the other."""

from __future__ import annotations

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from businesses.accounts import login_blocked, login_failed
from businesses.api.ratelimit import client_ip


class LoginLimitMixin:
    """For a subclass of Django's ``AuthenticationForm``: refuse while the IP or the account
    is over its limit (even a right password), count each failure."""

    throttled = False
    # The dashboard signs in by email, typed in any case; the admin by the user name as stored.
    lowercase_username = True

    def clean(self):
        ip = client_ip(self.request) if self.request is not None else "unknown"
        email = (self.data.get("username") or "").strip().lower()
        wait = login_blocked(ip=ip, email=email)
        if wait is not None:
            self.throttled = True
            raise ValidationError(_("Too many sign-in attempts. Try again in %(minutes)s minutes."),
                                  code="throttled", params={"minutes": max(1, round(wait / 60))})
        if self.lowercase_username:
            self.cleaned_data["username"] = email
        try:
            return super().clean()
        except ValidationError:
            login_failed(ip=ip, email=email)
            raise


class AdminSignInForm(LoginLimitMixin, AdminAuthenticationForm):
    """The Django admin's login form (``admin.site.login_form``, businesses/admin.py)."""

    lowercase_username = False
