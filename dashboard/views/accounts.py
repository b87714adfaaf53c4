"""Signing up, in and out, resetting a password, accepting an invitation, switching business
and language."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from assistants.services import business_signup
from businesses.accounts import (
    account_business_remember,
    account_language_set,
    account_settings_for,
    invitation_accept,
    invitation_from_token,
)
from businesses.api.ratelimit import client_ip, hit
from businesses.roles import Capability, role_can
from businesses.selectors import membership_for
from config.errors import ApplicationError
from dashboard.access import SESSION_ASSISTANT, SESSION_BUSINESS, error_page, member_page
from dashboard.forms import InvitationAcceptForm, LanguageForm, SignInForm, SignupForm

User = get_user_model()
BACKEND = "django.contrib.auth.backends.ModelBackend"


def _with_language(response, user):
    """Sign-in carries the person's language setting into the cookie Django's LocaleMiddleware reads."""
    language = account_settings_for(user=user).language
    if language:
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=365 * 86400, samesite="Lax")
    return response


class SignInView(auth_views.LoginView):
    template_name = "dashboard/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        return _with_language(super().form_valid(form), form.get_user())

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttled:
            response.status_code = 429
        return response


def signup(request):
    if request.user.is_authenticated:
        return redirect("dashboard:home")
    form = SignupForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.is_valid():
        wait = hit(scope="signup-ip", identity=client_ip(request), rate=settings.RATELIMIT_SIGNUP_PER_IP)
        if wait is not None:
            form.add_error(None, _("Too many sign-ups from this address. Try again later."))
            status = 429
        else:
            data = form.cleaned_data
            try:
                result = business_signup(email=data["email"], password=data["password"],
                                         business_name=data["business_name"])
            except ApplicationError as exc:
                for field, errors in exc.details.get("fields", {}).items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
                if not exc.details.get("fields"):
                    form.add_error("email" if exc.code == "email_taken" else None, exc.message)
                status = exc.status
            else:
                login(request, result.user, backend=BACKEND)
                request.session[SESSION_BUSINESS] = str(result.business.pk)
                return redirect("dashboard:onboarding")
    elif request.method == "POST":
        status = 400
    return render(request, "dashboard/signup.html", {"form": form}, status=status)


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "dashboard/password_reset.html"
    email_template_name = "dashboard/email/password_reset.txt"
    subject_template_name = "dashboard/email/password_reset_subject.txt"
    success_url = reverse_lazy("dashboard:password_reset_done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "dashboard/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "dashboard/password_reset_confirm.html"
    success_url = reverse_lazy("dashboard:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "dashboard/password_reset_complete.html"


def invitation(request, token: str):
    """Accept an invitation: a new person chooses a password; a signed-in one (the invited email)
    confirms."""
    try:
        pending = invitation_from_token(token)
    except ApplicationError as exc:
        return error_page(request, exc)
    form = InvitationAcceptForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            membership = invitation_accept(token=token, user=request.user,
                                           password=form.cleaned_data["password"])
        except ApplicationError as exc:
            fields = exc.details.get("fields", {})
            for error in fields.get("password", []) or ([] if fields else [exc.message]):
                form.add_error("password" if fields else None, error)
            status = exc.status
        else:
            if not request.user.is_authenticated:
                login(request, membership.user, backend=BACKEND)
            request.session[SESSION_BUSINESS] = str(membership.business_id)
            messages.success(request, _("Welcome to %(business)s.") % {"business": membership.business.name})
            return redirect("dashboard:home")
    has_account = not request.user.is_authenticated and User.objects.filter(email__iexact=pending.email).exists()
    return render(request, "dashboard/invitation.html",
                  {"invitation": pending, "form": form, "has_account": has_account}, status=status)


@require_POST
@member_page()
def business_switch(request):
    membership = membership_for(user=request.user, business_id=request.POST.get("business"))
    if membership is None:
        raise Http404
    request.session[SESSION_BUSINESS] = str(membership.business_id)
    request.session.pop(SESSION_ASSISTANT, None)
    account_business_remember(user=request.user, business=membership.business)
    return redirect("dashboard:home")


@member_page()
def account(request):
    form = LanguageForm(request.POST if request.method == "POST" else None,
                        initial={"language": account_settings_for(user=request.user).language})
    if request.method == "POST" and form.is_valid():
        language = form.cleaned_data["language"]
        account_language_set(user=request.user, language=language)
        response = redirect("dashboard:account")
        if language:
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=365 * 86400, samesite="Lax")
        else:
            response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
        return response
    return render(request, "dashboard/account.html", {"form": form}, status=400 if form.errors else 200)


def home(request):
    """/app/: the first page a role uses."""
    if not request.user.is_authenticated:
        return redirect(reverse("dashboard:login"))
    return _home(request)


@member_page()
def _home(request):
    if role_can(request.membership.role, Capability.KNOWLEDGE) and request.assistant is not None \
            and not request.assistant.sources.exists():
        return redirect("dashboard:onboarding")
    if role_can(request.membership.role, Capability.ASSISTANT):
        return redirect("dashboard:playground")
    return redirect("dashboard:inbox")
