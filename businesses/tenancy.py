"""Tenant scoping that fails closed.

Every tenant-owned model uses ``TenantManager``: ``Model.objects.all()`` raises,
``Model.objects.for_business(b)`` filters, and crossing tenants takes the
loudly named ``Model.objects.unscoped()``. Related managers
(``business.assistants``, ``assistant.sources``) are allowed: their parent
object is the scope.
"""

from __future__ import annotations

import uuid

from django.db import models


class TenantScopeError(RuntimeError):
    """A tenant-owned table was queried without a business in scope."""


class TenantManager(models.Manager):
    def get_queryset(self) -> models.QuerySet:
        # Reverse/related managers carry the parent object in ``instance``;
        # Django filters them by it, so they are scoped already.
        if getattr(self, "instance", None) is None:
            raise TenantScopeError(
                f"{self.model.__name__}.objects used without a business in scope: "
                f"use .for_business(business) or, deliberately, .unscoped()."
            )
        return super().get_queryset()

    def for_business(self, business_or_id) -> models.QuerySet:
        business_id = getattr(business_or_id, "pk", business_or_id)
        if business_id is None:
            raise TenantScopeError(f"{self.model.__name__}.objects.for_business() needs a business.")
        if getattr(self, "instance", None) is not None:
            # A related manager (``assistant.sources``): its own get_queryset adds the relation.
            return self.get_queryset().filter(business_id=business_id)
        return super().get_queryset().filter(business_id=business_id)

    def unscoped(self) -> models.QuerySet:
        """All tenants' rows. For operators, migrations and sweeps only."""
        return super().get_queryset()


class TenantModel(models.Model):
    """Base for every row a business owns: ``business_id`` on the row, scoped manager."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    business = models.ForeignKey("businesses.Business", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()

    class Meta:
        abstract = True
