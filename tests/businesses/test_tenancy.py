from __future__ import annotations

import pytest

from assistants.models import Assistant
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
