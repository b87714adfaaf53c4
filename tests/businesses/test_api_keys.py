from __future__ import annotations

import pytest

from businesses.models import ApiKey


@pytest.mark.django_db
def test_create_key_shows_it_once_and_it_works(tenant):
    api = tenant.client()
    created = api.post("/api/v1/api-keys", {"name": "zapier", "kind": "secret"}, format="json")
    assert created.status_code == 201
    raw = created.json()["key"]
    assert raw.startswith("sk_") and created.json()["prefix"] == raw[:12]
    fresh = tenant.client(raw)
    assert fresh.get("/api/v1/business").status_code == 200
    # The list never carries the key again.
    assert raw not in str(api.get("/api/v1/api-keys").json())


@pytest.mark.django_db
def test_revoked_key_is_refused(tenant):
    api = tenant.client()
    created = api.post("/api/v1/api-keys", {"name": "temp"}, format="json").json()
    assert api.delete(f"/api/v1/api-keys/{created['id']}").status_code == 204
    response = tenant.client(created["key"]).get("/api/v1/business")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.django_db
def test_last_secret_key_cannot_be_revoked(tenant):
    api = tenant.client()
    secret = ApiKey.objects.for_business(tenant.business).get(kind="secret")
    response = api.delete(f"/api/v1/api-keys/{secret.pk}")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "last_secret_key"
    assert api.get("/api/v1/business").status_code == 200


@pytest.mark.django_db
def test_last_used_at_is_recorded(tenant):
    tenant.client().get("/api/v1/business")
    key = ApiKey.objects.for_business(tenant.business).get(kind="secret")
    assert key.last_used_at is not None


@pytest.mark.django_db
def test_other_business_cannot_revoke_my_key(tenant, other_tenant):
    mine = ApiKey.objects.for_business(tenant.business).get(kind="publishable")
    response = other_tenant.client().delete(f"/api/v1/api-keys/{mine.pk}")
    assert response.status_code == 404
    mine.refresh_from_db()
    assert mine.revoked_at is None


@pytest.mark.django_db
def test_bad_kind_refused(tenant):
    response = tenant.client().post("/api/v1/api-keys", {"kind": "root"}, format="json")
    assert response.status_code == 400
    assert "kind" in response.json()["error"]["details"]["fields"]
