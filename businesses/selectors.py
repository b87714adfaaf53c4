"""Reads of tenant data."""

from __future__ import annotations

from django.db.models import QuerySet

from businesses.models import ApiKey, Business


def api_key_list(*, business: Business) -> QuerySet[ApiKey]:
    """Unordered: the list's paginator orders it (businesses/api/pagination.py)."""
    return ApiKey.objects.for_business(business)
