"""Reads of assistants and their knowledge."""

from __future__ import annotations

from django.db.models import QuerySet

from assistants.models import Assistant
from businesses.models import Business


def assistant_list(*, business: Business) -> QuerySet[Assistant]:
    return Assistant.objects.for_business(business).order_by("-created_at", "-id")
