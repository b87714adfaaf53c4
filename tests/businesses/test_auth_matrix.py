"""Every secret-key endpoint, against every way of being the wrong caller."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from assistants.models import KnowledgeSource
from assistants.services import source_create
from businesses.models import ApiKey

# (method, path template, body). {api_key} and {assistant} are the first tenant's objects.
ENDPOINTS = [
    ("get", "/api/v1/business", None),
    ("patch", "/api/v1/business", {"name": "Renamed"}),
    ("get", "/api/v1/api-keys", None),
    ("post", "/api/v1/api-keys", {"name": "x"}),
    ("delete", "/api/v1/api-keys/{api_key}", None),
    ("get", "/api/v1/assistants", None),
    ("post", "/api/v1/assistants", {"name": "Second"}),
    ("get", "/api/v1/assistants/{assistant}", None),
    ("patch", "/api/v1/assistants/{assistant}", {"greeting": "Hello"}),
    ("delete", "/api/v1/assistants/{assistant}", None),
    ("get", "/api/v1/assistants/{assistant}/sources", None),
    ("post", "/api/v1/assistants/{assistant}/sources", {"kind": "text", "text": "We open at 9."}),
    ("post", "/api/v1/assistants/{assistant}/search", {"query": "opening hours"}),
    ("get", "/api/v1/sources/{source}", None),
    ("delete", "/api/v1/sources/{source}", None),
    ("post", "/api/v1/sources/{source}/resync", None),
]
OBJECT_ENDPOINTS = [e for e in ENDPOINTS if "{" in e[1]]
WRONG_METHOD = {
    "/api/v1/business": "post",
    "/api/v1/api-keys": "put",
    "/api/v1/api-keys/{api_key}": "get",
    "/api/v1/assistants": "delete",
    "/api/v1/assistants/{assistant}": "post",
    "/api/v1/assistants/{assistant}/sources": "delete",
    "/api/v1/assistants/{assistant}/search": "get",
    "/api/v1/sources/{source}": "post",
    "/api/v1/sources/{source}/resync": "get",
}


def _path(template: str, tenant) -> str:
    publishable = ApiKey.objects.for_business(tenant.business).get(kind="publishable")
    source = KnowledgeSource.objects.for_business(tenant.business).first()
    if source is None:
        source = source_create(assistant=tenant.assistant, kind="text", title="Hours", text="Open 9 to 5.")
        KnowledgeSource.objects.for_business(tenant.business).update(status="ready")
    return template.format(api_key=publishable.pk, assistant=tenant.assistant.pk, source=source.pk)


def _call(client: APIClient, method: str, path: str, body):
    return getattr(client, method)(path, body, format="json") if body is not None else getattr(client, method)(path)


def _assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "template", "body"), ENDPOINTS)
def test_no_key_is_401(tenant, anon, method, template, body):
    _assert_error(_call(anon, method, _path(template, tenant), body), 401, "unauthenticated")


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "template", "body"), ENDPOINTS)
def test_garbage_key_is_401(tenant, method, template, body):
    client = tenant.client("sk_this-is-not-a-real-key-at-all")
    _assert_error(_call(client, method, _path(template, tenant), body), 401, "invalid_api_key")


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "template", "body"), ENDPOINTS)
def test_revoked_key_is_401(tenant, method, template, body):
    api = tenant.client()
    extra = api.post("/api/v1/api-keys", {"name": "soon revoked"}, format="json").json()
    api.delete(f"/api/v1/api-keys/{extra['id']}")
    _assert_error(_call(tenant.client(extra["key"]), method, _path(template, tenant), body), 401, "invalid_api_key")


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "template", "body"), ENDPOINTS)
def test_publishable_key_is_403(tenant, method, template, body):
    client = tenant.client(tenant.publishable_key)
    _assert_error(_call(client, method, _path(template, tenant), body), 403, "permission_denied")


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "template", "body"), OBJECT_ENDPOINTS)
def test_other_business_object_is_404(tenant, other_tenant, method, template, body):
    before = ApiKey.objects.for_business(tenant.business).filter(revoked_at__isnull=True).count()
    response = _call(other_tenant.client(), method, _path(template, tenant), body)
    _assert_error(response, 404, "not_found")
    # Nothing of the first business changed.
    tenant.assistant.refresh_from_db()
    assert tenant.assistant.greeting != "Hello"
    assert ApiKey.objects.for_business(tenant.business).filter(revoked_at__isnull=True).count() == before
    assert KnowledgeSource.objects.for_business(tenant.business).filter(status="ready").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("template", "method"), sorted(WRONG_METHOD.items()))
def test_wrong_method_is_405(tenant, template, method):
    _assert_error(_call(tenant.client(), method, _path(template, tenant), {}), 405, "method_not_allowed")


@pytest.mark.django_db
def test_malformed_authorization_header_is_401(tenant):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {tenant.secret_key}")
    _assert_error(client.get("/api/v1/business"), 401, "invalid_api_key")


@pytest.mark.django_db
def test_other_business_lists_never_show_my_rows(tenant, other_tenant):
    theirs = other_tenant.client()
    assistants = theirs.get("/api/v1/assistants").json()["results"]
    keys = theirs.get("/api/v1/api-keys").json()["results"]
    assert [a["id"] for a in assistants] == [str(other_tenant.assistant.pk)]
    mine = {str(k.pk) for k in ApiKey.objects.for_business(tenant.business)}
    assert not mine & {k["id"] for k in keys}
    assert theirs.get("/api/v1/business").json()["id"] == str(other_tenant.business.pk)
