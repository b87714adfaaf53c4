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
from django.db.models.lookups import Exact
from django.db.models.sql.where import AND


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
        if type(self) is not TenantManager or hasattr(business_id, "resolve_expression"):
            # A subclass of this manager, or an expression (OuterRef(...), F(...)): the ORM's
            # filter, as before.
            return super().get_queryset().filter(business_id=business_id)
        # What ``.filter(business_id=business_id)`` builds, without building it: a copy of that
        # query made once per model, with this business's id in its one condition. Building
        # the filter (resolving the name, the join, the lookup) was a tenth of the instructions
        # of a whole list request (docs/benchmarks.md, "API overhead").
        query = _scope_template(self.model).clone()
        query.where.children[0] = _scope_lookup(self.model, query.where.children[0], business_id)
        return self._queryset_class(model=self.model, query=query, using=self._db, hints=self._hints)

    def unscoped(self) -> models.QuerySet:
        """All tenants' rows. For operators, migrations and sweeps only."""
        return super().get_queryset()


_templates: dict[type[models.Model], object] = {}


def _scope_template(model: type[models.Model]):
    """The query of ``model``'s rows ``WHERE business_id = <an id>``, built by the ORM once; only
    cloned afterwards, never changed."""
    template = _templates.get(model)
    if template is None:
        template = models.QuerySet(model).filter(business_id=uuid.UUID(int=0)).query
        children = template.where.children
        if len(children) != 1 or not isinstance(children[0], Exact):  # what the fast path replaces
            raise TypeError(f"Unexpected scope condition for {model.__name__}: {template.where!r}")
        _templates[model] = template
    return template


# The condition ``business_id = <id>`` per model and id, made once (preparing the id took ~41 k
# instructions, half of ``for_business``). Django shares a query's lookups between its clones the
# same way: nothing changes a lookup in place. Bounded: emptied when full.
_lookups: dict[tuple[type[models.Model], object], object] = {}
_LOOKUPS_SIZE = 4096


def _scope_lookup(model: type[models.Model], template_lookup, business_id):
    # Any other type of id is prepared (or refused) every time.
    key = (model, business_id) if type(business_id) in (uuid.UUID, str, int) else None
    lookup = _lookups.get(key) if key is not None else None
    if lookup is None:
        lookup = type(template_lookup)(template_lookup.lhs, business_id)
        if key is not None:
            if len(_lookups) >= _LOOKUPS_SIZE:
                _lookups.clear()
            _lookups[key] = lookup
    return lookup


def scope_of(query) -> object | None:
    """The business id of a query whose one condition is still ``for_business``'s, else None.

    Such a query compiles to the same WHERE clause for every business, with the id as its only
    parameter (config/pagination.py reuses the text)."""
    template = _templates.get(query.model)
    if template is None:
        return None
    where = query.where
    if where.connector != AND or where.negated or len(where.children) != 1:
        return None
    lookup, scope = where.children[0], template.where.children[0]
    if type(lookup) is not type(scope) or lookup.lhs is not scope.lhs:
        return None
    return lookup.rhs


class TenantModel(models.Model):
    """Base for every row a business owns: ``business_id`` on the row, scoped manager."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    business = models.ForeignKey("businesses.Business", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()

    class Meta:
        abstract = True
