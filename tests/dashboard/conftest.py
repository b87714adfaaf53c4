from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from businesses.models import Membership
from tests.conftest import Tenant, make_tenant

PASSWORD = "a sturdy passphrase 42"


def member(tenant: Tenant, role: str, email: str | None = None):
    """A person with ``role`` in the tenant's business."""
    user = get_user_model().objects.create_user(username=email or f"{role}-{tenant.business.slug}@example.com",
                                                email=email or f"{role}-{tenant.business.slug}@example.com",
                                                password=PASSWORD)
    Membership.objects.create(user=user, business=tenant.business, role=role)
    return user


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner(tenant) -> Client:
    return signed_in(tenant.user)


@pytest.fixture
def rival(db) -> Tenant:
    return make_tenant("Rival Noodles")
