"""Reads of tenant data."""

from __future__ import annotations

from django.db.models import QuerySet

from businesses.keys import publishable_decrypt
from businesses.models import ApiKey, Business, Membership


def api_key_list(*, business: Business) -> QuerySet[ApiKey]:
    """Unordered: the list's paginator orders it (businesses/api/pagination.py)."""
    return ApiKey.objects.for_business(business)


def publishable_key_for_widget(*, business: Business) -> str | None:
    """The newest active publishable key of the business, readable again (for the widget
    snippet); None when it has none the dashboard can show."""
    for key in (ApiKey.objects.for_business(business).filter(kind=ApiKey.Kind.PUBLISHABLE, revoked_at__isnull=True)
                .exclude(key_encrypted="").order_by("-created_at")):
        raw = publishable_decrypt(key.key_encrypted)
        if raw:
            return raw
    return None


def membership_list(*, business: Business) -> QuerySet[Membership]:
    return Membership.objects.filter(business=business).select_related("user").order_by("created_at")


def memberships_of(*, user) -> QuerySet[Membership]:
    """The businesses a person belongs to, for the switcher."""
    return Membership.objects.filter(user=user).select_related("business").order_by("business__name")


def membership_for(*, user, business_id) -> Membership | None:
    if not getattr(user, "is_authenticated", False) or business_id is None:
        return None
    return Membership.objects.filter(user=user, business_id=business_id).select_related("business").first()
