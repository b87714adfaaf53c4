"""Who may open what: the permission matrix (role by page), another business's objects (404),
sign-in, CSRF and the error pages."""

from __future__ import annotations

import pytest
from django.test import Client

from assistants.models import Conversation, KnowledgeTest, Message
from businesses.models import ApiKey, Membership, WebhookEndpoint
from businesses.roles import Capability, role_can
from tests.dashboard.conftest import member, signed_in

pytestmark = pytest.mark.django_db

OWNER, ADMIN, STAFF = Membership.Role.OWNER, Membership.Role.ADMIN, Membership.Role.STAFF

# The whole table, written out: a change to businesses/roles.py must change this too.
MATRIX = {
    Capability.INBOX: {OWNER, ADMIN, STAFF},
    Capability.ASSISTANT: {OWNER, ADMIN},
    Capability.KNOWLEDGE: {OWNER, ADMIN},
    Capability.CHANNELS: {OWNER, ADMIN},
    Capability.WEBHOOKS: {OWNER, ADMIN},
    Capability.BILLING: {OWNER},
    Capability.API_KEYS: {OWNER},
    Capability.MEMBERS: {OWNER},
    Capability.BUSINESS_DELETE: {OWNER},
}

PAGES = {
    "/app/inbox/": Capability.INBOX,
    "/app/unanswered/": Capability.KNOWLEDGE,
    "/app/playground/": Capability.ASSISTANT,
    "/app/assistant/": Capability.ASSISTANT,
    "/app/assistant/preview/": Capability.ASSISTANT,
    "/app/knowledge/": Capability.KNOWLEDGE,
    "/app/tests/": Capability.KNOWLEDGE,
    "/app/menu/": Capability.KNOWLEDGE,
    "/app/start/": Capability.KNOWLEDGE,
    "/app/analytics/": Capability.ASSISTANT,
    "/app/channels/": Capability.CHANNELS,
    "/app/webhooks/": Capability.WEBHOOKS,
    "/app/keys/": Capability.API_KEYS,
    "/app/members/": Capability.MEMBERS,
    "/app/billing/": Capability.BILLING,
}


@pytest.mark.parametrize("role", [OWNER, ADMIN, STAFF])
@pytest.mark.parametrize("capability", list(Capability))
def test_permission_matrix(role, capability):
    assert role_can(role, capability) == (role in MATRIX[capability])


def test_unknown_role_can_nothing():
    assert not any(role_can("intern", capability) for capability in Capability)


@pytest.mark.parametrize("role", [OWNER, ADMIN, STAFF])
def test_each_role_opens_exactly_its_pages(tenant, role):
    user = tenant.user if role == OWNER else member(tenant, role)
    client = signed_in(user)
    for path, capability in PAGES.items():
        response = client.get(path)
        expected = 200 if role in MATRIX[capability] else 403
        assert response.status_code == expected, (role, path, response.status_code)
        if expected == 403:
            assert b"Not for your role" in response.content and response["Content-Type"].startswith("text/html")


def test_staff_cannot_post_to_an_admin_page(tenant):
    client = signed_in(member(tenant, STAFF))
    response = client.post("/app/knowledge/", {"kind": "text", "title": "x", "text": "We sell cheap phones."})
    assert response.status_code == 403
    assert not tenant.assistant.sources.filter(title="x").exists()


def test_anonymous_is_sent_to_sign_in():
    response = Client().get("/app/inbox/")
    assert response.status_code == 302 and response["Location"].startswith("/app/login/?next=/app/inbox/")


def _conversation(tenant) -> Conversation:
    conversation = Conversation.objects.unscoped().create(business=tenant.business, assistant=tenant.assistant,
                                                          channel="widget")
    Message.objects.unscoped().create(business=tenant.business, conversation=conversation, role="customer",
                                      content="Do you have a table tonight?")
    return conversation


def test_other_business_objects_are_404(tenant, rival):
    """Owner A opening owner B's objects by URL: a 404 page, and nothing changes."""
    conversation = _conversation(rival)
    staff_reply = Message.objects.unscoped().create(business=rival.business, conversation=conversation,
                                                    role="staff", content="Yes, at 8.")
    source = rival.assistant.sources.create(business=rival.business, kind="text", title="Rival", text="Secret",
                                            status="ready")
    key = ApiKey.objects.for_business(rival.business).first()
    endpoint = WebhookEndpoint.objects.unscoped().create(business=rival.business, url="https://example.com/h",
                                                         secret_encrypted="x")
    rival_member = Membership.objects.get(business=rival.business)
    rival_test = KnowledgeTest.objects.unscoped().create(business=rival.business, assistant=rival.assistant,
                                                         question="Price?")
    client = signed_in(tenant.user)
    gets = [f"/app/inbox/{conversation.pk}/", f"/app/webhooks/{endpoint.pk}/"]
    posts = [f"/app/inbox/{conversation.pk}/reply/", f"/app/inbox/{conversation.pk}/takeover/",
             f"/app/inbox/{conversation.pk}/close/", f"/app/inbox/{conversation.pk}/faq/{staff_reply.pk}/",
             f"/app/knowledge/sources/{source.pk}/resync/", f"/app/knowledge/sources/{source.pk}/delete/",
             f"/app/keys/{key.pk}/revoke/", f"/app/webhooks/{endpoint.pk}/delete/",
             f"/app/members/{rival_member.pk}/role/", f"/app/members/{rival_member.pk}/remove/",
             f"/app/knowledge/sources/{source.pk}/publish/", f"/app/knowledge/sources/{source.pk}/discard/",
             f"/app/tests/{rival_test.pk}/delete/"]
    for path in gets:
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"belongs to another business" in response.content
    for path in posts:
        assert client.post(path, {"content": "hi", "role": "staff"}).status_code == 404, path
    conversation.refresh_from_db()
    key.refresh_from_db()
    assert conversation.state == "bot" and key.revoked_at is None
    assert Message.objects.for_business(rival.business).filter(conversation=conversation).count() == 2
    assert rival.assistant.sources.filter(pk=source.pk, status="ready").exists()
    assert KnowledgeTest.objects.for_business(rival.business).filter(pk=rival_test.pk).exists()
    assert Membership.objects.filter(pk=rival_member.pk, role=OWNER).exists()


def test_switching_to_a_business_one_is_not_member_of_is_404(tenant, rival):
    client = signed_in(tenant.user)
    assert client.post("/app/switch/", {"business": str(rival.business.pk)}).status_code == 404


def test_a_user_of_two_businesses_switches_between_them(tenant, rival):
    Membership.objects.create(user=tenant.user, business=rival.business, role=STAFF)
    client = signed_in(tenant.user)
    assert client.get("/app/keys/").status_code == 200  # owner of the first
    assert client.post("/app/switch/", {"business": str(rival.business.pk)}).status_code == 302
    assert client.get("/app/keys/").status_code == 403  # staff of the second
    page = client.get("/app/inbox/")
    assert page.status_code == 200 and b"Rival Noodles" in page.content


def test_csrf_refused_without_a_token(tenant):
    client = Client(enforce_csrf_checks=True)
    client.force_login(tenant.user)
    response = client.post("/app/knowledge/", {"kind": "text", "title": "t", "text": "Hello there."})
    assert response.status_code == 403
    assert b"This form expired" in response.content
    assert not tenant.assistant.sources.filter(title="t").exists()


def test_unknown_dashboard_path_is_a_page_not_json(tenant):
    response = signed_in(tenant.user).get("/app/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_api_paths_keep_json_errors():
    response = Client().get("/api/v1/no-such-endpoint")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_secret_key_keeps_full_api_access_whatever_the_roles(tenant):
    Membership.objects.filter(business=tenant.business).update(role=STAFF)
    response = tenant.client().get("/api/v1/api-keys")
    assert response.status_code == 200
