from __future__ import annotations

import pytest

from assistants.models import Assistant
from businesses import tenancy
from businesses.models import ApiKey
from businesses.tenancy import TenantScopeError


@pytest.mark.django_db
def test_tenant_manager_refuses_unscoped_queries(tenant):
    with pytest.raises(TenantScopeError):
        list(Assistant.objects.all())
    with pytest.raises(TenantScopeError):
        Assistant.objects.filter(name="x").exists()
    with pytest.raises(TenantScopeError):
        ApiKey.objects.count()
    with pytest.raises(TenantScopeError):
        Assistant.objects.for_business(None)


@pytest.mark.django_db
def test_for_business_scopes_and_unscoped_is_explicit(tenant, other_tenant):
    assert list(Assistant.objects.for_business(tenant.business)) == [tenant.assistant]
    assert list(Assistant.objects.for_business(other_tenant.business.pk)) == [other_tenant.assistant]
    assert Assistant.objects.unscoped().count() == 2


@pytest.mark.django_db
def test_deleting_a_business_cascades_through_the_base_manager(tenant, other_tenant):
    tenant.business.delete()
    assert Assistant.objects.unscoped().count() == 1
    assert not ApiKey.objects.unscoped().filter(business_id=tenant.business.pk).exists()


def _tenant_models():
    from django.apps import apps

    return [model for model in apps.get_models() if isinstance(model._default_manager, tenancy.TenantManager)]


def test_every_tenant_model_is_covered():
    assert len(_tenant_models()) >= 10


@pytest.mark.django_db
@pytest.mark.parametrize("model", _tenant_models(), ids=lambda model: model.__name__)
def test_for_business_filters_on_the_business_id(model, tenant):
    expected = model.objects.unscoped().filter(business_id=tenant.business.pk).query.sql_with_params()
    for business in (tenant.business, tenant.business.pk, str(tenant.business.pk)):
        assert model.objects.for_business(business).query.sql_with_params() == expected


@pytest.mark.django_db
def test_for_business_with_an_expression_or_a_bad_id(tenant, other_tenant):
    from django.core.exceptions import ValidationError
    from django.db.models import OuterRef, Subquery

    from businesses.models import Business

    first = Subquery(Assistant.objects.for_business(OuterRef("pk")).order_by("created_at").values("name")[:1])
    names = dict(Business.objects.filter(pk__in=[tenant.business.pk, other_tenant.business.pk])
                 .annotate(first=first).values_list("pk", "first"))
    assert names == {tenant.business.pk: tenant.assistant.name, other_tenant.business.pk: other_tenant.assistant.name}
    with pytest.raises(ValidationError):  # as .filter(business_id="not-a-uuid") does
        Assistant.objects.for_business("not-a-uuid")


@pytest.mark.django_db
def test_for_business_on_a_related_manager_keeps_the_relation(tenant):
    from assistants.models import KnowledgeSource
    from assistants.services import assistant_create

    second = assistant_create(business=tenant.business, data={"name": "Second"})
    for assistant in (tenant.assistant, second):
        KnowledgeSource.objects.unscoped().create(business=tenant.business, assistant=assistant, kind="text",
                                                  title=assistant.name)
    assert [s.title for s in second.sources.for_business(tenant.business)] == ["Second"]
    assert KnowledgeSource.objects.for_business(tenant.business).count() == 2
