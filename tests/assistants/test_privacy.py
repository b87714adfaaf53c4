"""A customer's data through the API: export (JSON and a transcript) and erasure of a
conversation or of every conversation of a customer (assistants/privacy/)."""

from __future__ import annotations

import pytest
from django.conf import settings

from assistants.models import Conversation, Message, UnansweredQuestion, UnansweredTopic
from assistants.unanswered import services as unanswered_services
from billing.models import UsagePeriod
from businesses.api.ratelimit import hit
from businesses.models import AuditEvent, WebhookDelivery
from businesses.webhooks.services import webhook_endpoint_create
from tests.assistants.conftest import add_source, search
from tests.conftest import make_tenant
from tests.privacy_helpers import rows_containing

pytestmark = pytest.mark.django_db(transaction=True)

FAQ = [{"question": "Can I bring my dog?", "answer": "Dogs are welcome on our terrace, but not inside."}]
DOG = "Can I bring my dog?"
SECRET_SENTENCE = "Is the chef Marguerite Oyelaran-Vasquez working tonight?"  # nothing answers it
CUSTOMER = "cust-42"


@pytest.fixture
def queued(monkeypatch) -> list[tuple]:
    from django.db import transaction

    calls: list[tuple] = []
    monkeypatch.setattr(unanswered_services, "enqueue_on_commit",
                        lambda task, *args: transaction.on_commit(lambda: calls.append((task.task, args))))
    return calls


def run(queued) -> None:
    while queued:
        task, args = queued.pop(0)
        task.apply(args=args).get()


def restaurant(name="Golden Dragon"):
    tenant = make_tenant(name)
    add_source(tenant, kind="faq", title="FAQ", pairs=FAQ)
    return tenant


def start(tenant, external_id=CUSTOMER) -> str:
    response = tenant.client().post(f"/api/v1/assistants/{tenant.assistant.pk}/conversations",
                                    {"external_id": external_id}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def say(tenant, conversation_id, content) -> dict:
    response = tenant.client().post(f"/api/v1/conversations/{conversation_id}/messages", {"content": content},
                                    format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_conversation_export_has_every_message_citation_rating_and_the_channel(queued):
    tenant = restaurant()
    conversation_id = start(tenant)
    answer = say(tenant, conversation_id, DOG)["answer"]
    tenant.client().post(f"/api/v1/messages/{answer['id']}/feedback", {"rating": "up", "comment": "thanks!"},
                         format="json")
    response = tenant.client().get(f"/api/v1/conversations/{conversation_id}/export")
    assert response.status_code == 200, response.content
    exported = response.json()["conversation"]
    assert exported["channel"] == "api" and exported["external_id"] == CUSTOMER
    assert [m["role"] for m in exported["messages"]] == ["customer", "assistant"]
    assert exported["messages"][0]["content"] == DOG
    assert exported["messages"][1]["citations"][0]["source_title"] == "FAQ"
    assert exported["messages"][1]["rating"] == "up" and exported["messages"][1]["rating_comment"] == "thanks!"

    text = tenant.client().get(f"/api/v1/conversations/{conversation_id}/export", {"format": "txt"})
    assert text.status_code == 200 and text["Content-Type"].startswith("text/plain")
    body = text.content.decode()
    assert f"Customer:\n  {DOG}" in body and "Sources: FAQ" in body and "Rated up — thanks!" in body
    # DRF picks the renderer from ?format=: an unknown one is its 404, in the error shape.
    assert tenant.client().get(f"/api/v1/conversations/{conversation_id}/export",
                               {"format": "pdf"}).json()["error"]["code"] == "not_found"
    actions = list(AuditEvent.objects.for_business(tenant.business).values_list("action", flat=True))
    assert actions.count("conversation.exported") == 2


def test_customer_export_gathers_every_conversation_of_that_customer_only(queued):
    tenant = restaurant()
    first, second, someone_else = start(tenant), start(tenant), start(tenant, external_id="cust-7")
    say(tenant, first, DOG)
    say(tenant, second, "Do you deliver?")
    say(tenant, someone_else, "What about parking?")
    response = tenant.client().get(f"/api/v1/customers/{CUSTOMER}/export")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["customer"] == CUSTOMER
    assert sorted(c["id"] for c in body["conversations"]) == sorted([first, second])
    assert tenant.client().get("/api/v1/customers/nobody/export").status_code == 404


def test_erasing_a_customer_leaves_nothing_of_their_words_and_keeps_the_billing_counts(queued, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = settings.WEBHOOKS_ALLOW_HTTP = True
    tenant = restaurant()
    webhook_endpoint_create(business=tenant.business, url="http://127.0.0.1:9/hook")
    conversation_id = start(tenant)
    answer = say(tenant, conversation_id, SECRET_SENTENCE)["answer"]
    assert answer["grounding"] == "none"
    say(tenant, conversation_id, DOG)
    run(queued)  # the unanswered question is filed under a topic
    assert UnansweredTopic.objects.for_business(tenant.business).count() == 1
    assert WebhookDelivery.objects.for_business(tenant.business).filter(
        payload__data__conversation_id=conversation_id).exists()
    assert rows_containing(SECRET_SENTENCE)
    usage = list(UsagePeriod.objects.for_business(tenant.business).values("messages_used", "answers", "tokens_in",
                                                                          "tokens_out"))

    response = tenant.client().delete(f"/api/v1/customers/{CUSTOMER}")
    assert response.status_code == 200, response.content
    deleted = response.json()["deleted"]
    assert deleted["conversations"] == 1 and deleted["messages"] >= 4 and deleted["unanswered_questions"] == 1
    assert deleted["webhook_deliveries"] >= 3

    assert rows_containing(SECRET_SENTENCE) == {}
    assert rows_containing(CUSTOMER) == {}
    assert all(SECRET_SENTENCE not in hit_["text"] for hit_ in search(tenant.client(), tenant.assistant.pk,
                                                                      SECRET_SENTENCE))
    assert UnansweredTopic.objects.for_business(tenant.business).count() == 0  # its only question went
    assert list(UsagePeriod.objects.for_business(tenant.business).values(
        "messages_used", "answers", "tokens_in", "tokens_out")) == usage
    event = AuditEvent.objects.for_business(tenant.business).get(action="customer.erased")
    assert event.details["deleted"] == deleted and CUSTOMER not in str(event.target_id)
    assert tenant.client().delete(f"/api/v1/customers/{CUSTOMER}").status_code == 404


def test_erasing_one_question_of_a_shared_topic_lowers_its_count(queued):
    tenant = restaurant()
    mine, theirs = start(tenant), start(tenant, external_id="cust-7")
    say(tenant, mine, "Do you have wifi?")
    say(tenant, theirs, "Do you have free wifi for guests?")
    run(queued)
    topic = UnansweredTopic.objects.for_business(tenant.business).get()
    assert topic.count == 2
    mine_count = Message.objects.for_business(tenant.business).filter(conversation_id=mine).count()
    theirs_count = Message.objects.for_business(tenant.business).filter(conversation_id=theirs).count()
    response = tenant.client().delete(f"/api/v1/conversations/{mine}")
    assert response.status_code == 200 and response.json()["deleted"]["messages"] == mine_count
    topic.refresh_from_db()
    assert topic.count == 1
    assert UnansweredQuestion.objects.for_business(tenant.business).get().conversation_id == topic.questions.get(
    ).conversation_id
    assert not Conversation.objects.for_business(tenant.business).filter(pk=mine).exists()
    assert Message.objects.for_business(tenant.business).filter(conversation_id=theirs).count() == theirs_count


def test_erasure_forgets_the_rate_limit_counters_of_the_customer(queued, settings):
    settings.RATELIMIT_STORAGE_URI = settings.REDIS_URL
    tenant = restaurant()
    conversation_id = start(tenant)
    say(tenant, conversation_id, DOG)
    hit(scope="customer", identity=CUSTOMER, rate="100 per hour")
    hit(scope="conversation", identity=conversation_id, rate="100 per hour")
    deleted = tenant.client().delete(f"/api/v1/customers/{CUSTOMER}").json()["deleted"]
    # The two above, and the customer's per-minute message counter of the message it sent.
    assert deleted["rate_limit_entries"] == 3


def test_the_widget_customer_erases_its_own_conversation_with_its_token(queued):
    tenant = restaurant()
    pk = tenant.client(tenant.publishable_key)
    started = pk.post(f"/api/v1/assistants/{tenant.assistant.pk}/conversations", {"channel": "widget"},
                      format="json").json()
    pk.post(f"/api/v1/conversations/{started['id']}/messages", {"content": DOG}, format="json",
            HTTP_X_CUSTOMER_TOKEN=started["customer_token"])
    assert pk.delete(f"/api/v1/conversations/{started['id']}").status_code == 404  # no token
    assert pk.delete(f"/api/v1/conversations/{started['id']}", HTTP_X_CUSTOMER_TOKEN="wrong").status_code == 404
    assert pk.get(f"/api/v1/conversations/{started['id']}/export").status_code == 403
    assert pk.delete("/api/v1/customers/anyone").status_code == 403
    response = pk.delete(f"/api/v1/conversations/{started['id']}", HTTP_X_CUSTOMER_TOKEN=started["customer_token"])
    assert response.status_code == 200 and response.json()["deleted"]["messages"] == 2
    event = AuditEvent.objects.for_business(tenant.business).get(action="conversation.erased")
    assert event.actor_kind == "customer"


def test_other_business_cannot_export_or_erase_a_conversation_or_a_customer(queued):
    tenant, rival = restaurant(), restaurant("Rival Noodles")
    conversation_id = start(tenant)
    say(tenant, conversation_id, DOG)
    other = rival.client()
    assert other.get(f"/api/v1/conversations/{conversation_id}/export").status_code == 404
    assert other.get(f"/api/v1/conversations/{conversation_id}/export", {"format": "txt"}).status_code == 404
    assert other.delete(f"/api/v1/conversations/{conversation_id}").status_code == 404
    assert other.get(f"/api/v1/customers/{CUSTOMER}/export").status_code == 404
    assert other.delete(f"/api/v1/customers/{CUSTOMER}").status_code == 404
    assert Message.objects.for_business(tenant.business).filter(conversation_id=conversation_id).count() == 2


def test_retention_setting_is_bounded_by_the_plan(queued):
    tenant = restaurant()
    api = tenant.client()
    body = api.get("/api/v1/privacy").json()
    assert body["retention_days"] is None and body["retention_days_in_force"] == settings.PRIVACY_RETENTION_DAYS_DEFAULT
    assert api.patch("/api/v1/privacy", {"retention_days": 30}, format="json").json()["retention_days_in_force"] == 30
    too_long = api.patch("/api/v1/privacy", {"retention_days": body["retention_days_max"] + 1}, format="json")
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "validation_error"
    assert api.patch("/api/v1/privacy", {"retention_days": "soon"}, format="json").status_code == 400
    rival = make_tenant("Rival Noodles")
    assert rival.client().get("/api/v1/privacy").json()["retention_days"] is None
