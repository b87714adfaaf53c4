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


# --------------------------------------------------------------------------- knowledge tests and held versions


@pytest.fixture
def no_queue(monkeypatch):
    """A run is started, not run: these tests read the log, not the verdicts."""
    from assistants.regression import services as regression

    monkeypatch.setattr(regression, "enqueue_on_commit", lambda task, *args: None)


def test_knowledge_tests_runs_and_held_versions_through_the_api_are_logged(no_queue):
    from tests.assistants.test_knowledge_tests import DINNER, PRICE_QUESTION, lunch_restaurant, resync, test_create

    tenant, source = lunch_restaurant()
    api, ip = tenant.client(), {"REMOTE_ADDR": "198.51.100.23"}
    test = api.post(f"/api/v1/assistants/{tenant.assistant.pk}/tests",
                    {"question": PRICE_QUESTION, "must_contain": ["€14.50"]}, format="json", **ip).json()
    other = test_create(tenant, {"question": "Can I pay with bitcoin?", "must_hand_off": True}).json()
    assert api.delete(f"/api/v1/tests/{other['id']}", **ip).status_code == 204
    run = api.post(f"/api/v1/assistants/{tenant.assistant.pk}/tests/run", **ip).json()
    assert resync(tenant, source["id"], text="We are a family restaurant.")["status"] == "needs_review"
    assert api.post(f"/api/v1/sources/{source['id']}/discard", **ip).status_code == 200
    assert resync(tenant, source["id"], text=f"Lunch is served from noon.\n\n{DINNER}")["status"] == "needs_review"
    assert api.post(f"/api/v1/sources/{source['id']}/publish", **ip).status_code == 200

    events = {e["action"]: e for e in reversed(_audit(tenant)["results"])}  # the latest of each action
    created, deleted = (AuditEvent.objects.for_business(tenant.business).filter(action="knowledge_test.created")
                        .order_by("created_at")), events["knowledge_test.deleted"]
    assert [e.target_id for e in created] == [test["id"], other["id"]]
    assert created[0].details == {"assistant_id": str(tenant.assistant.pk), "origin": "owner", "must_contain": 1,
                                  "must_not_contain": 0, "must_hand_off": False}
    assert PRICE_QUESTION not in str(_audit(tenant))  # a test's question may be a customer's words
    assert (deleted["target_type"], deleted["target_id"]) == ("knowledge_test", other["id"])
    started = events["knowledge_test_run.started"]
    assert (started["target_id"], started["details"]) == (run["id"], {"assistant_id": str(tenant.assistant.pk)})
    published, discarded = events["source.published"], events["source.discarded"]
    assert published["target_id"] == discarded["target_id"] == source["id"]
    assert published["details"] == {"kind": "text", "title": "Prices", "failing_tests": 1}
    prefix = f"{tenant.secret_key[:len(published['actor']) - 1]}…"
    for event in (deleted, started, published, discarded):
        assert (event["actor_kind"], event["actor"], event["ip"]) == ("key", prefix, "198.51.100.23"), event


def test_knowledge_tests_and_held_versions_on_the_dashboard_name_the_member(no_queue):
    from assistants.models import Conversation, KnowledgeTest, Message
    from tests.assistants.test_knowledge_tests import DINNER, PRICE_QUESTION, lunch_restaurant, resync

    tenant, source = lunch_restaurant()
    browser = Client(REMOTE_ADDR="192.0.2.44")
    browser.force_login(tenant.user)
    browser.post("/app/tests/", {"question": PRICE_QUESTION, "must_contain": "€14.50"})
    browser.post("/app/tests/run/")
    assert resync(tenant, source["id"], text=f"Lunch is served from noon.\n\n{DINNER}")["status"] == "needs_review"
    browser.post(f"/app/knowledge/sources/{source['id']}/discard/")
    assert resync(tenant, source["id"], text=f"Lunch is served from noon.\n\n{DINNER}")["status"] == "needs_review"
    browser.post(f"/app/knowledge/sources/{source['id']}/publish/")
    # A staff reply taught from the inbox adds an FAQ and a test of its question: both the member's.
    conversation = Conversation.objects.unscoped().create(business=tenant.business, assistant=tenant.assistant,
                                                          channel="widget", state="handoff")
    Message.objects.unscoped().create(business=tenant.business, conversation=conversation, role="customer",
                                      content="Do you have a high chair for a baby?")
    reply = Message.objects.unscoped().create(business=tenant.business, conversation=conversation, role="staff",
                                              content="Yes, we have 2 high chairs.")
    browser.post(f"/app/inbox/{conversation.pk}/faq/{reply.pk}/")
    test = KnowledgeTest.objects.for_business(tenant.business).get(origin="correction")
    browser.post(f"/app/tests/{test.pk}/delete/")

    events = AuditEvent.objects.for_business(tenant.business)
    actions = ["knowledge_test.created", "knowledge_test_run.started", "source.discarded", "source.published",
               "knowledge_test.deleted"]
    for action in actions:
        event = events.filter(action=action).latest("created_at")
        assert (event.actor_kind, event.actor, event.ip) == ("user", tenant.user.email, "192.0.2.44"), action
    assert events.get(action="knowledge_test.created", target_id=str(test.pk)).details["origin"] == "correction"
    assert events.filter(action="source.created", actor=tenant.user.email).count() == 1  # the taught FAQ


def test_another_business_cannot_publish_or_delete_and_nothing_is_logged_for_it(tenant, other_tenant, no_queue):
    from tests.assistants.test_knowledge_tests import test_create

    test = test_create(tenant, {"question": "Can I pay with bitcoin?", "must_hand_off": True}).json()
    rival = other_tenant.client()
    assert rival.delete(f"/api/v1/tests/{test['id']}").status_code == 404
    assert rival.post(f"/api/v1/assistants/{tenant.assistant.pk}/tests/run").status_code == 404
    assert not AuditEvent.objects.for_business(other_tenant.business).filter(
        action__startswith="knowledge_test").exists()
    assert not AuditEvent.objects.for_business(tenant.business).filter(action="knowledge_test.deleted").exists()
