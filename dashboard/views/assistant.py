"""The assistant's settings with a live widget preview, and the playground."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin

from assistants.chat.playground import playground_ask
from assistants.serializers import AssistantSerializer
from assistants.services import assistant_update
from businesses.audit import Actor
from businesses.roles import Capability
from businesses.selectors import publishable_key_for_widget
from businesses.services import business_update
from config.errors import ApplicationError
from dashboard.access import member_page
from dashboard.forms import DAY_LABELS, AssistantForm
from dashboard.hours import (
    HoursTextError,
    exceptions_from_text,
    exceptions_to_text,
    ranges_from_text,
    ranges_to_text,
)
from dashboard.text import serializer_errors

ASSISTANT_FIELDS = ("name", "persona", "instructions", "greeting", "language", "handoff_message", "widget_color",
                    "widget_position", "widget_launcher_text")


def _initial(assistant, business) -> dict:
    initial = {name: getattr(assistant, name) for name in ASSISTANT_FIELDS}
    initial.update(handoff_email=business.handoff_email, handoff_phone=business.handoff_phone,
                   allowed_origins="\n".join(assistant.allowed_origins or []),
                   hours_exceptions=exceptions_to_text(assistant.hours_exceptions))
    for day in DAY_LABELS:
        initial[f"hours_{day}"] = ranges_to_text((assistant.business_hours or {}).get(day))
    return initial


def _changes(form: AssistantForm) -> dict:
    data = {name: form.cleaned_data[name] for name in ASSISTANT_FIELDS}
    hours = {}
    for day in DAY_LABELS:
        try:
            ranges = ranges_from_text(form.cleaned_data[f"hours_{day}"])
        except HoursTextError as exc:
            form.add_error(f"hours_{day}", _("“%(text)s” is not a time range like 11:30-14:30.") % {"text": exc})
            continue
        if ranges:
            hours[day] = ranges
    data["business_hours"] = hours
    try:
        data["hours_exceptions"] = exceptions_from_text(form.cleaned_data["hours_exceptions"])
    except HoursTextError as exc:
        form.add_error("hours_exceptions", _("“%(text)s” is not like “2026-12-25 closed Christmas”.") % {"text": exc})
    data["allowed_origins"] = [line.strip() for line in form.cleaned_data["allowed_origins"].splitlines()
                               if line.strip()]
    return data


@member_page(Capability.ASSISTANT)
def assistant_settings(request):
    assistant, business = request.assistant, request.business
    form = AssistantForm(request.POST if request.method == "POST" else None, initial=_initial(assistant, business))
    if request.method == "POST" and form.is_valid():
        data = _changes(form)
        serializer = AssistantSerializer(assistant, data=data, partial=True)
        if not form.errors and not serializer.is_valid():
            for field, errors in serializer.errors.items():
                target = field if field in form.fields else None
                if field == "business_hours":
                    target = None
                form.add_error(target, serializer_errors(errors))
        if not form.errors:
            with transaction.atomic():
                assistant_update(actor=Actor.from_request(request), assistant=assistant, data=serializer.validated_data)
                try:
                    business_update(actor=Actor.from_request(request),
                                    business=business, data={"handoff_email": form.cleaned_data["handoff_email"],
                                                             "handoff_phone": form.cleaned_data["handoff_phone"]})
                except ApplicationError as exc:
                    form.add_error(None, exc.message)
                    transaction.set_rollback(True)
            if not form.errors:
                messages.success(request, _("Saved. Customers see the changes in their next message."))
                return redirect("dashboard:assistant")
    status = 400 if form.errors else 200
    return render(request, "dashboard/assistant.html",
                  {"form": form, "publishable_key": publishable_key_for_widget(business=business)}, status=status)


@xframe_options_sameorigin
@member_page(Capability.ASSISTANT)
def widget_preview(request):
    """A bare page with the real widget on it, for the settings page's preview frame; the
    unsaved colour, position and launcher text come as query parameters."""
    color = request.GET.get("color", request.assistant.widget_color)
    position = request.GET.get("position", request.assistant.widget_position)
    return render(request, "dashboard/widget_preview.html", {
        "publishable_key": publishable_key_for_widget(business=request.business),
        "color": color if len(color) == 7 and color.startswith("#") else request.assistant.widget_color,
        "position": position if position in ("left", "right") else "right",
        "launcher_text": request.GET.get("launcher", request.assistant.widget_launcher_text)[:40],
    })


@member_page(Capability.ASSISTANT)
def playground(request):
    result = None
    question = (request.POST.get("question") or request.GET.get("q") or "").strip()
    status = 200
    if request.method == "POST":
        if not question:
            messages.error(request, _("Type a question."))
            status = 400
        elif len(question) > 4000:
            messages.error(request, _("A question has at most 4,000 characters."))
            status = 400
        else:
            result = playground_ask(assistant=request.assistant, question=question)
    return render(request, "dashboard/playground.html", {"result": result, "question": question}, status=status)
