"""Helpers of the privacy tests: a search of every table for a customer's words."""

from __future__ import annotations

from django.apps import apps
from django.db import models
from django.db.models import Q, TextField
from django.db.models.functions import Cast


def rows_containing(text: str) -> dict[str, int]:
    """Rows of every model (all tenants) with ``text`` in any text or JSON column."""
    found = {}
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields
                  if isinstance(f, (models.CharField, models.TextField, models.JSONField))]
        if not fields:
            continue
        queryset = model._base_manager.all()
        wanted = Q()
        for field in fields:
            if isinstance(field, models.JSONField):
                queryset = queryset.annotate(**{f"_{field.name}_text": Cast(field.name, TextField())})
                wanted |= Q(**{f"_{field.name}_text__icontains": text})
            else:
                wanted |= Q(**{f"{field.name}__icontains": text})
        n = queryset.filter(wanted).count()
        if n:
            found[model._meta.label] = n
    return found


def rows_of_business(business_id) -> dict[str, int]:
    """Rows of every model with a business_id column that name this business."""
    found = {}
    for model in apps.get_models():
        names = {f.attname for f in model._meta.concrete_fields}
        if "business_id" in names:
            n = model._base_manager.filter(business_id=business_id).count()
            if n:
                found[model._meta.label] = n
    return found
