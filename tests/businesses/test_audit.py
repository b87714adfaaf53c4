"""The audit log (businesses/audit.py): services record who changed what, from where; GET
/api/v1/audit lists it for the owner's keys, newest first, paginated; rows are never changed."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from businesses.models import AuditEvent, Membership
from businesses.services import api_key_create

pytestmark = pytest.mark.django_db(transaction=True)


def _audit(tenant, key=None, **params) -> dict:
    response = tenant.client(key).get("/api/v1/audit", params, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200, response.content
    return response.json()


def test_changes_through_the_api_are_logged_with_the_key_prefix_and_the_ip(tenant, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = settings.WEBHOOKS_ALLOW_HTTP = True
    api = tenant.client()
    ip = {"REMOTE_ADDR": "198.51.100.23"}
    api.patch(f"/api/v1/assistants/{tenant.assistant.pk}", {"greeting": "Welcome!", "temperature": 0.2},
              format="json", **ip)
    source = api.post(f"/api/v1/assistants/{tenant.assistant.pk}/sources",
                      {"kind": "text", "title": "Hours", "text": "We open at noon."}, format="json", **ip).json()
    api.delete(f"/api/v1/sources/{source['id']}", **ip)
    key = api.post("/api/v1/api-keys", {"name": "ci", "kind": "secret"}, format="json", **ip).json()
    api.delete(f"/api/v1/api-keys/{key['id']}", **ip)
    hook = api.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/x"}, format="json", **ip).json()
    api.delete(f"/api/v1/webhooks/{hook['id']}", **ip)

    events = _audit(tenant)["results"]
    actions = [e["action"] for e in events]
    assert actions[:7] == ["webhook.deleted", "webhook.created", "api_key.revoked", "api_key.created",
                           "source.deleted", "source.created", "assistant.updated"]
    updated = events[6]
    assert updated["details"] == {"greeting": "Welcome!", "temperature": 0.2}
    prefix = tenant.secret_key[:len(updated["actor"]) - 1]
    assert updated["actor_kind"] == "key" and updated["actor"] == f"{prefix}…" and updated["ip"] == "198.51.100.23"
    assert events[2]["details"]["prefix"].endswith("…") and key["key"] not in str(events)  # never the secret


def test_dashboard_changes_name_the_member(tenant):
    staff = get_user_model().objects.create_user(username="s@example.com", email="s@example.com")
    membership = Membership.objects.create(user=staff, business=tenant.business, role="staff")
    browser = Client(REMOTE_ADDR="192.0.2.44")
    browser.force_login(tenant.user)
    browser.post(f"/app/members/{membership.pk}/role/", {"role": "admin"})
    event = AuditEvent.objects.for_business(tenant.business).get(action="member.role_changed")
    assert (event.actor_kind, event.actor, event.ip) == ("user", tenant.user.email, "192.0.2.44")
    assert event.details == {"email": "s@example.com", "from": "staff", "to": "admin"}


def test_the_log_pages_newest_first_and_is_append_only(tenant):
    api = tenant.client()
    for n in range(3):
        api.patch(f"/api/v1/assistants/{tenant.assistant.pk}", {"greeting": f"Hi {n}"}, format="json")
    first = _audit(tenant, limit=2)
    assert [e["details"].get("greeting") for e in first["results"]] == ["Hi 2", "Hi 1"] and first["next"]
    rest = _audit(tenant, limit=2, cursor=first["next"])["results"]
    assert rest[0]["details"]["greeting"] == "Hi 0"
    assert api.post("/api/v1/audit", {}, format="json").status_code == 405
    assert api.delete("/api/v1/audit").status_code == 405
    event = AuditEvent.objects.for_business(tenant.business).first()
    event.action = "nothing.happened"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        AuditEvent.objects.for_business(tenant.business).update(action="nothing.happened")


def test_only_the_owners_secret_keys_read_the_log_and_only_their_own_business(tenant, other_tenant):
    tenant.client().patch(f"/api/v1/assistants/{tenant.assistant.pk}", {"greeting": "Hello"}, format="json")
    assert all(e["action"] != "assistant.updated" for e in _audit(other_tenant)["results"])
    assert tenant.client(tenant.publishable_key).get("/api/v1/audit").status_code == 403
    admin = get_user_model().objects.create_user(username="a@example.com", email="a@example.com")
    Membership.objects.create(user=admin, business=tenant.business, role="admin")
    _, admins_key = api_key_create(business=tenant.business, kind="secret", created_by=admin)
    assert tenant.client(admins_key).get("/api/v1/audit").status_code == 403
