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


# --------------------------------------------------------------------------- knowledge tests built from a customer


WIFI = "Is there wifi for guests at the restaurant?"  # nothing answers it: it becomes a topic
HIGH_CHAIR = "Do you have a high chair for my baby daughter?"


def staff_reply(tenant, conversation_id: str, content: str) -> dict:
    api = tenant.client()
    assert api.post(f"/api/v1/conversations/{conversation_id}/handoff").status_code == 200
    response = api.post(f"/api/v1/conversations/{conversation_id}/messages", {"content": content, "role": "staff"},
                        format="json")
    assert response.status_code == 201, response.content
    return response.json()["message"]


def knowledge_tests_of(tenant) -> dict[str, str]:
    """The assistant's knowledge tests: question → origin."""
    response = tenant.client().get(f"/api/v1/assistants/{tenant.assistant.pk}/tests")
    assert response.status_code == 200, response.content
    return {t["question"]: t["origin"] for t in response.json()["results"]}


def test_erasing_a_customer_erases_the_knowledge_tests_built_from_their_questions(queued, monkeypatch):
    from assistants.models import KnowledgeTestRun
    from assistants.regression import services as regression

    tenant = restaurant()
    api = tenant.client()
    mine, theirs = start(tenant), start(tenant, external_id="cust-7")
    assert say(tenant, mine, WIFI)["answer"]["grounding"] == "none"
    run(queued)
    [topic] = api.get(f"/api/v1/assistants/{tenant.assistant.pk}/unanswered").json()["results"]
    answered = api.post(f"/api/v1/assistants/{tenant.assistant.pk}/unanswered/{topic['id']}/answer",
                        {"answer": "Yes, the password is on the menu: 2 hours free."}, format="json")
    assert answered.status_code in (200, 201, 202), answered.content
    # A staff reply taught as an FAQ: the test's question is the customer's (the message before it)…
    say(tenant, mine, HIGH_CHAIR)
    reply = staff_reply(tenant, mine, "Yes, we have 2 high chairs.")
    assert api.post(f"/api/v1/messages/{reply['id']}/faq", {}, format="json").status_code == 202
    # …unless staff wrote the question themselves; and the owner's own tests are theirs.
    say(tenant, theirs, "Is there parking?")
    other_reply = staff_reply(tenant, theirs, "Yes, 10 places behind the restaurant.")
    assert api.post(f"/api/v1/messages/{other_reply['id']}/faq", {"question": "Where can guests park?"},
                    format="json").status_code == 202
    assert api.post(f"/api/v1/assistants/{tenant.assistant.pk}/tests",
                    {"question": "Can I bring my dog?", "must_contain": ["terrace"]}, format="json").status_code == 201
    assert knowledge_tests_of(tenant) == {WIFI: "topic", HIGH_CHAIR: "correction",
                                          "Where can guests park?": "correction", "Can I bring my dog?": "owner"}
    # A run lists every test's question.
    monkeypatch.setattr(regression, "enqueue_on_commit", lambda task, *args: None)
    started = regression.knowledge_run_start(assistant=tenant.assistant)
    regression.knowledge_run(business_id=tenant.business.pk, run_id=started.pk)

    response = api.delete(f"/api/v1/customers/{CUSTOMER}")
    assert response.status_code == 200, response.content
    assert response.json()["deleted"]["knowledge_tests"] == 2
    assert knowledge_tests_of(tenant) == {"Where can guests park?": "correction", "Can I bring my dog?": "owner"}
    for words in (WIFI, HIGH_CHAIR):
        found = rows_containing(words)
        assert "assistants.KnowledgeTest" not in found and "assistants.KnowledgeTestRun" not in found, found
    results = KnowledgeTestRun.objects.for_business(tenant.business).get(pk=started.pk).results
    assert sorted(r["question"] for r in results) == ["", "", "Can I bring my dog?", "Where can guests park?"]
    event = AuditEvent.objects.for_business(tenant.business).get(action="customer.erased")
    assert event.details["deleted"]["knowledge_tests"] == 2


def test_erasing_a_conversation_blanks_its_question_in_a_version_held_for_review(queued):
    from assistants.models import SourceReview
    from tests.assistants.conftest import ingest

    tenant = restaurant()
    api = tenant.client()
    conversation_id = start(tenant)
    say(tenant, conversation_id, "How much is the lunch menu today?")
    reply = staff_reply(tenant, conversation_id, "The lunch menu is €14.50.")
    faq = api.post(f"/api/v1/messages/{reply['id']}/faq", {}, format="json").json()
    assert ingest(tenant, faq["id"])["status"] == "ready"
    resynced = api.post(f"/api/v1/sources/{faq['id']}/resync",
                        {"pairs": [{"question": "Is there a lunch menu?", "answer": "Yes, at noon."}]}, format="json")
    assert resynced.status_code == 202, resynced.content
    held = ingest(tenant, faq["id"])
    assert held["status"] == "needs_review", held
    assert [f["question"] for f in held["review"]["failures"]] == ["How much is the lunch menu today?"]

    deleted = api.delete(f"/api/v1/conversations/{conversation_id}").json()["deleted"]
    assert deleted["knowledge_tests"] == 1
    [failure] = SourceReview.objects.for_business(tenant.business).get(source_id=faq["id"]).failures
    assert failure["question"] == "" and failure["answer_before"]  # the verdict stays, the words go
    page = api.get(f"/api/v1/sources/{faq['id']}").json()
    assert page["status"] == "needs_review"


def test_another_business_erasing_its_customer_keeps_this_businesss_tests(queued):
    tenant, rival = restaurant(), restaurant("Rival Noodles")
    mine = start(tenant)
    say(tenant, mine, HIGH_CHAIR)
    reply = staff_reply(tenant, mine, "Yes, we have 2 high chairs.")
    assert tenant.client().post(f"/api/v1/messages/{reply['id']}/faq", {}, format="json").status_code == 202
    assert rival.client().delete(f"/api/v1/customers/{CUSTOMER}").status_code == 404
    assert rival.client().delete(f"/api/v1/conversations/{mine}").status_code == 404
    assert knowledge_tests_of(tenant) == {HIGH_CHAIR: "correction"}


def test_tests_written_before_the_link_are_linked_to_their_customer_message_by_the_migration(queued):
    import importlib

    from django.apps import apps

    from assistants.models import KnowledgeTest

    tenant = restaurant()
    api = tenant.client()
    mine = start(tenant)
    say(tenant, mine, WIFI)
    run(queued)
    [topic] = api.get(f"/api/v1/assistants/{tenant.assistant.pk}/unanswered").json()["results"]
    api.post(f"/api/v1/assistants/{tenant.assistant.pk}/unanswered/{topic['id']}/answer", {"answer": "Yes."},
             format="json")
    say(tenant, mine, "Do you have   a high chair?")
    reply = staff_reply(tenant, mine, "Yes, 2.")
    api.post(f"/api/v1/messages/{reply['id']}/faq", {}, format="json")
    tests = KnowledgeTest.objects.for_business(tenant.business)
    linked = dict(tests.values_list("question", "source_message_id"))
    assert len(linked) == 2 and all(linked.values()), linked
    tests.update(source_message=None)  # as before migration 0019
    importlib.import_module("assistants.migrations.0019_knowledge_test_source_message").link_customer_questions(
        apps, None)
    assert dict(tests.values_list("question", "source_message_id")) == linked
