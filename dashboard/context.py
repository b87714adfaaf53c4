"""What every dashboard page shows around its content: the navigation a role may open and the
businesses the person can switch to."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from businesses.roles import Capability, role_can
from businesses.selectors import memberships_of

NAV = [
    ("dashboard:onboarding", _("Get started"), Capability.KNOWLEDGE),
    ("dashboard:inbox", _("Inbox"), Capability.INBOX),
    ("dashboard:unanswered", _("Unanswered"), Capability.KNOWLEDGE),
    ("dashboard:analytics", _("Analytics"), Capability.ASSISTANT),
    ("dashboard:playground", _("Playground"), Capability.ASSISTANT),
    ("dashboard:knowledge", _("Knowledge"), Capability.KNOWLEDGE),
    ("dashboard:tests", _("Tests"), Capability.KNOWLEDGE),
    ("dashboard:catalog", _("Menu"), Capability.KNOWLEDGE),
    ("dashboard:assistant", _("Assistant"), Capability.ASSISTANT),
    ("dashboard:channels", _("Channels"), Capability.CHANNELS),
    ("dashboard:webhooks", _("Webhooks"), Capability.WEBHOOKS),
    ("dashboard:keys", _("API keys"), Capability.API_KEYS),
    ("dashboard:members", _("Members"), Capability.MEMBERS),
    ("dashboard:billing", _("Billing"), Capability.BILLING),
    ("dashboard:business", _("Business"), Capability.BUSINESS_DELETE),
]


def dashboard(request) -> dict:
    membership = getattr(request, "membership", None)
    if membership is None:
        return {}
    path = request.path
    nav = []
    for name, label, capability in NAV:
        if role_can(membership.role, capability):
            url = reverse(name)
            nav.append({"url": url, "label": label, "current": path.startswith(url)})
    return {"nav": nav, "membership": membership, "memberships": list(memberships_of(user=request.user)),
            "business": membership.business, "assistant": getattr(request, "assistant", None)}
