"""Reads of the typed catalog."""

from __future__ import annotations

from django.db.models import QuerySet

from assistants.models import Assistant, CatalogItem


def catalog_item_list(*, assistant: Assistant) -> QuerySet[CatalogItem]:
    """Unordered: the list's paginator orders it (businesses/api/pagination.py)."""
    return CatalogItem.objects.for_business(assistant.business_id).filter(assistant=assistant)
