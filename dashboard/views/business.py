"""The business's pages: channels (widget snippet, WhatsApp), API keys, webhooks, billing,
members and invitations."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from assistants.channels.whatsapp import services as whatsapp
from assistants.models import WhatsAppConnection
from billing.models import Plan
from billing.selectors import billing_overview
from billing.services import checkout_session_create, portal_session_create
from businesses import accounts
from businesses.audit import Actor
from businesses.models import ApiKey, Invitation, Membership, WebhookDelivery, WebhookEndpoint
from businesses.roles import Capability
from businesses.selectors import api_key_list, membership_list, publishable_key_for_widget
from businesses.services import api_key_create, api_key_revoke
from businesses.webhooks.events import EVENT_TYPES
from businesses.webhooks.selectors import webhook_delivery_list, webhook_endpoint_list
from businesses.webhooks.services import webhook_endpoint_create, webhook_endpoint_delete
from config.errors import ApplicationError
from dashboard.access import member_page
from dashboard.forms import InviteForm, RoleForm


def _base_url(request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


# --------------------------------------------------------------------------- channels


@member_page(Capability.CHANNELS)
def channels(request):
    connections = list(WhatsAppConnection.objects.for_business(request.business).select_related("assistant"))
    if request.method == "POST":
        try:
            whatsapp.connection_create(
                business=request.business, assistant=request.assistant,
                phone_number_id=request.POST.get("phone_number_id", "").strip()[:64],
                access_token=request.POST.get("access_token", "").strip(),
                owner_whatsapp=request.POST.get("owner_whatsapp", "").strip()[:32],
                display_phone_number=request.POST.get("display_phone_number", "").strip()[:32])
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("WhatsApp is connected: messages to this number reach the assistant."))
        return redirect("dashboard:channels")
    return render(request, "dashboard/channels.html", {
        "connections": connections, "publishable_key": publishable_key_for_widget(business=request.business),
        "base_url": _base_url(request)})


@require_POST
@member_page(Capability.CHANNELS)
def whatsapp_delete(request, pk):
    connection = get_object_or_404(WhatsAppConnection.objects.for_business(request.business), pk=pk)
    whatsapp.connection_delete(connection=connection)
    messages.success(request, _("WhatsApp disconnected."))
    return redirect("dashboard:channels")


@require_POST
@member_page(Capability.CHANNELS)
def whatsapp_owner(request, pk):
    """Change (or clear) the owner number: the phone that gets handoff alerts and the weekly
    digest, and whose messages to the business number are commands."""
    connection = get_object_or_404(WhatsAppConnection.objects.for_business(request.business), pk=pk)
    try:
        whatsapp.connection_update(connection=connection,
                                   owner_whatsapp=request.POST.get("owner_whatsapp", "").strip()[:32])
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Owner number saved."))
    return redirect("dashboard:channels")


@require_POST
@member_page(Capability.CHANNELS)
def widget_key_create(request):
    api_key_create(actor=Actor.from_request(request),
                   business=request.business, kind=ApiKey.Kind.PUBLISHABLE, name="web widget",
                   created_by=request.user)
    return redirect("dashboard:channels")


# --------------------------------------------------------------------------- API keys


@member_page(Capability.API_KEYS)
def keys(request):
    created = None
    if request.method == "POST":
        kind = request.POST.get("kind")
        name = (request.POST.get("name") or "").strip()[:100] or "default"
        if kind not in ApiKey.Kind.values:
            messages.error(request, _("Choose a kind of key."))
        else:
            key, raw = api_key_create(actor=Actor.from_request(request),
                                      business=request.business, kind=kind, name=name, created_by=request.user)
            created = {"key": key, "raw": raw}
    return render(request, "dashboard/keys.html", {
        "keys": list(api_key_list(business=request.business).order_by("-created_at")), "created": created})


@require_POST
@member_page(Capability.API_KEYS)
def key_revoke(request, pk):
    key = get_object_or_404(ApiKey.objects.for_business(request.business), pk=pk)
    try:
        api_key_revoke(actor=Actor.from_request(request), key=key)
        messages.success(request, _("Key %(prefix)s… revoked.") % {"prefix": key.prefix})
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("dashboard:keys")


# --------------------------------------------------------------------------- webhooks


@member_page(Capability.WEBHOOKS)
def webhooks(request):
    created = None
    if request.method == "POST":
        try:
            endpoint, secret = webhook_endpoint_create(actor=Actor.from_request(request),
                business=request.business, url=request.POST.get("url", "").strip()[:2048],
                description=request.POST.get("description", "").strip()[:200],
                event_types=request.POST.getlist("event_types"))
            created = {"endpoint": endpoint, "secret": secret}
        except ApplicationError as exc:
            messages.error(request, exc.message)
    return render(request, "dashboard/webhooks.html", {
        "endpoints": list(webhook_endpoint_list(business=request.business).order_by("-created_at")),
        "created": created, "event_types": EVENT_TYPES})


@member_page(Capability.WEBHOOKS)
def webhook_detail(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint.objects.for_business(request.business), pk=pk)
    deliveries = list(webhook_delivery_list(endpoint=endpoint).order_by("-created_at")[:50])
    return render(request, "dashboard/webhook.html", {"endpoint": endpoint, "deliveries": deliveries,
                                                      "statuses": WebhookDelivery.Status})


@require_POST
@member_page(Capability.WEBHOOKS)
def webhook_delete(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint.objects.for_business(request.business), pk=pk)
    webhook_endpoint_delete(actor=Actor.from_request(request), endpoint=endpoint)
    messages.success(request, _("Webhook endpoint deleted."))
    return redirect("dashboard:webhooks")


# --------------------------------------------------------------------------- billing


def _percent(used, limit) -> int:
    return min(100, round(100 * used / limit)) if limit else 0


@member_page(Capability.BILLING)
def billing(request):
    overview = billing_overview(business=request.business)
    usage = overview["usage"]
    bars = [
        {"label": _("Messages this period"), "used": usage["messages"]["used"], "limit": usage["messages"]["limit"]},
        {"label": _("Assistants"), "used": usage["assistants"]["used"], "limit": usage["assistants"]["limit"]},
        {"label": _("Knowledge sources"), "used": usage["sources"]["used"], "limit": usage["sources"]["limit"]},
        {"label": _("Knowledge size (MB)"), "used": round(usage["knowledge_bytes"]["used"] / 1048576, 1),
         "limit": round(usage["knowledge_bytes"]["limit"] / 1048576, 1)},
    ]
    for bar in bars:
        bar["percent"] = _percent(bar["used"], bar["limit"])
    plans = list(Plan.objects.filter(is_public=True).order_by("sort_order", "monthly_price"))
    return render(request, "dashboard/billing.html", {"overview": overview, "bars": bars, "plans": plans})


@require_POST
@member_page(Capability.BILLING)
def billing_checkout(request):
    base = _base_url(request)
    url = checkout_session_create(actor=Actor.from_request(request),
                                  business=request.business, plan_code=request.POST.get("plan", ""),
                                  success_url=f"{base}/app/billing/?checkout=done",
                                  cancel_url=f"{base}/app/billing/")
    return redirect(url)


@require_POST
@member_page(Capability.BILLING)
def billing_portal(request):
    return redirect(portal_session_create(actor=Actor.from_request(request),
                                          business=request.business, return_url=f"{_base_url(request)}/app/billing/"))


# --------------------------------------------------------------------------- members


@member_page(Capability.MEMBERS)
def members(request):
    form = InviteForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            accounts.invitation_create(actor=Actor.from_request(request),
                                       business=request.business, email=form.cleaned_data["email"],
                                       role=form.cleaned_data["role"], invited_by=request.user,
                                       base_url=_base_url(request))
        except ApplicationError as exc:
            form.add_error("email", exc.message)
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]})
            return redirect("dashboard:members")
    invitations = list(Invitation.objects.for_business(request.business)
                       .filter(accepted_at__isnull=True, revoked_at__isnull=True).order_by("-created_at"))
    return render(request, "dashboard/members.html", {
        "form": form, "members": list(membership_list(business=request.business)), "invitations": invitations,
        "roles": Membership.Role.values}, status=400 if form.errors else 200)


@require_POST
@member_page(Capability.MEMBERS)
def member_role(request, pk):
    membership = get_object_or_404(Membership.objects.filter(business=request.business), pk=pk)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            accounts.member_role_set(actor=Actor.from_request(request),
                                     membership=membership, role=form.cleaned_data["role"])
            messages.success(request, _("Role changed."))
        except ApplicationError as exc:
            messages.error(request, exc.message)
    return redirect("dashboard:members")


@require_POST
@member_page(Capability.MEMBERS)
def member_remove(request, pk):
    membership = get_object_or_404(Membership.objects.filter(business=request.business), pk=pk)
    try:
        accounts.member_remove(actor=Actor.from_request(request), membership=membership)
        messages.success(request, _("%(email)s was removed.") % {"email": membership.user.email})
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("dashboard:members")


@require_POST
@member_page(Capability.MEMBERS)
def invitation_revoke(request, pk):
    invitation = get_object_or_404(Invitation.objects.for_business(request.business), pk=pk)
    accounts.invitation_revoke(actor=Actor.from_request(request), invitation=invitation)
    return redirect("dashboard:members")
