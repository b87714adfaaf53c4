"""The dashboard's forms: labels and the checks a browser form needs; the rules themselves are
the services' and the API serializers' (the views pass the cleaned values on)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from businesses.forms import LoginLimitMixin
from businesses.models import Membership
from businesses.roles import ROLE_LABELS


class SignInForm(LoginLimitMixin, AuthenticationForm):
    """Django's sign-in form with the email as the user name and a rate limit on failures."""

    username = forms.EmailField(label=_("Email"), max_length=150,
                                widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}))
    error_messages = {
        "invalid_login": _("That email and password do not match an account. The password is case-sensitive."),
        "inactive": _("This account is inactive."),
    }


class SignupForm(forms.Form):
    business_name = forms.CharField(label=_("Business name"), max_length=200,
                                    widget=forms.TextInput(attrs={"autofocus": True}))
    email = forms.EmailField(label=_("Email"), max_length=150, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(label=_("Password"), max_length=128, strip=False,
                               help_text=_("At least 10 characters, not a common password."),
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))


class InvitationAcceptForm(forms.Form):
    password = forms.CharField(label=_("Choose a password"), max_length=128, strip=False, required=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))


class LanguageForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), choices=[("", _("The browser's")), *settings.LANGUAGES],
                                 required=False)


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=150)
    role = forms.ChoiceField(label=_("Role"), choices=list(ROLE_LABELS.items()), initial=Membership.Role.STAFF)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=list(ROLE_LABELS.items()))


DAY_LABELS = {"mon": _("Monday"), "tue": _("Tuesday"), "wed": _("Wednesday"), "thu": _("Thursday"),
              "fri": _("Friday"), "sat": _("Saturday"), "sun": _("Sunday")}


class AssistantForm(forms.Form):
    """The assistant's settings page. Hours and exceptions are typed as text (dashboard/hours.py)."""

    name = forms.CharField(label=_("Assistant's name"), max_length=100)
    persona = forms.CharField(label=_("Persona"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                              help_text=_("Who the assistant is, in a few sentences."))
    instructions = forms.CharField(label=_("Instructions"), required=False,
                                   widget=forms.Textarea(attrs={"rows": 4}),
                                   help_text=_("Rules it must follow, e.g. “Never promise a table; give the "
                                               "booking number.”"))
    greeting = forms.CharField(label=_("Greeting"), max_length=500, required=False)
    language = forms.ChoiceField(label=_("Language"), choices=[("en", "English"), ("zh", "中文")])
    handoff_message = forms.CharField(label=_("Handoff message"), max_length=500, required=False,
                                      help_text=_("What a customer reads when a person takes over."))
    handoff_email = forms.EmailField(label=_("Handoff email"), required=False,
                                     help_text=_("Where customers' requests for a person are sent."))
    handoff_phone = forms.CharField(label=_("Handoff phone"), max_length=32, required=False)
    widget_color = forms.CharField(label=_("Widget colour"), max_length=7,
                                   widget=forms.TextInput(attrs={"type": "color"}))
    widget_position = forms.ChoiceField(label=_("Widget position"),
                                        choices=[("right", _("Bottom right")), ("left", _("Bottom left"))])
    widget_launcher_text = forms.CharField(label=_("Launcher text"), max_length=40, required=False,
                                           help_text=_("Empty: a round chat button."))
    allowed_origins = forms.CharField(label=_("Sites allowed to embed the widget"), required=False,
                                      widget=forms.Textarea(attrs={"rows": 2}),
                                      help_text=_("One per line, like https://example.com. Empty: any site."))
    hours_exceptions = forms.CharField(label=_("Holidays and special hours"), required=False,
                                       widget=forms.Textarea(attrs={"rows": 3}),
                                       help_text=_("One per line: “2026-12-25 closed Christmas” or "
                                                   "“2026-12-31 12:00-16:00 New Year's Eve”."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for day, label in DAY_LABELS.items():
            self.fields[f"hours_{day}"] = forms.CharField(
                label=label, required=False, max_length=200,
                widget=forms.TextInput(attrs={"placeholder": _("closed")}))

    def day_fields(self):
        return [self[f"hours_{day}"] for day in DAY_LABELS]


class AnalyticsRangeForm(forms.Form):
    """The analytics page's range: the API's rules (assistants/analytics/serializers.py)."""

    # A date input's value is an ISO date in every language (not the locale's date format).
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput({"type": "date"}, "%Y-%m-%d"))
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput({"type": "date"}, "%Y-%m-%d"))
    interval = forms.ChoiceField(label=_("Points"), required=False, initial="day",
                                 choices=[("day", _("Days")), ("week", _("Weeks"))])

    def __init__(self, *args, today, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self):
        from datetime import timedelta

        from assistants.analytics.serializers import DEFAULT_RANGE_DAYS, MAX_RANGE_DAYS

        data = super().clean()
        end = data.get("end") or self.today
        start = data.get("start") or end - timedelta(days=DEFAULT_RANGE_DAYS - 1)
        if start > end:
            raise ValidationError(_("The first day must be on or before the last day."))
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            raise ValidationError(_("A report covers at most %(n)s days.") % {"n": MAX_RANGE_DAYS})
        return {**data, "start": start, "end": end, "interval": data.get("interval") or "day"}
