"""The business page (owners): how long customer data is kept, and deleting the business (a grace
period in which the owner can change their mind)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from assistants.privacy.retention import retention_days_for, retention_days_max, retention_set
from businesses.audit import Actor
from businesses.models import Business
from businesses.roles import Capability
from businesses.services import business_deletion_cancel, business_deletion_request
from config.errors import ApplicationError
from dashboard.access import member_page


@member_page(Capability.BUSINESS_DELETE)
def business_page(request):
    business = Business.objects.get(pk=request.business.pk)
    error = ""
    if request.method == "POST":
        action = request.POST.get("action")
        actor = Actor.from_request(request)
        if action == "retention":
            raw = (request.POST.get("retention_days") or "").strip()
            try:
                retention_set(business=business, days=int(raw) if raw else None, actor=actor)
            except (ValueError, ApplicationError):
                error = _("Choose a number of days between 1 and %(max)s.") % {
                    "max": retention_days_max(business_id=business.pk)}
            else:
                messages.success(request, _("Retention saved."))
                return redirect("dashboard:business")
        elif action == "delete":
            if request.POST.get("confirm_name", "").strip() != business.name:
                error = _("Type the business's name exactly to confirm.")
            else:
                business_deletion_request(business=business, actor=actor, requested_by=request.user)
                messages.success(request, _("The business will be deleted; you can cancel until then."))
                return redirect("dashboard:business")
        elif action == "cancel":
            business_deletion_cancel(business=business, actor=actor)
            messages.success(request, _("The deletion is cancelled; nothing was removed."))
            return redirect("dashboard:business")
    return render(request, "dashboard/business.html", {
        "business": business, "error": error, "retention_in_force": retention_days_for(business),
        "retention_max": retention_days_max(business_id=business.pk),
        "retention_default": settings.PRIVACY_RETENTION_DAYS_DEFAULT,
        "raw_payload_days": settings.PRIVACY_RAW_PAYLOAD_DAYS, "grace_days": settings.BUSINESS_DELETION_GRACE_DAYS,
    }, status=400 if error else 200)
