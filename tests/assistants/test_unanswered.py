"""Unanswered questions (assistants/unanswered/, docs/unanswered.md): collected from answers with
grounding none, handoffs and thumbs-down, grouped into topics by meaning, answered as an FAQ."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from assistants.models import Conversation, KnowledgeSource, Message, UnansweredQuestion, UnansweredTopic
from assistants.unanswered import services
from assistants.unanswered.tasks import unanswered_collect_task, unanswered_handoff_task
from config.celery import app
from config.tasks import inline_tasks_wait
from tests.assistants.conftest import add_source, ingest
from tests.conftest import free_port, make_tenant
from tests.dashboard.conftest import member, signed_in

# The chat endpoint's async views read the database on other connections: data must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

FAQ = [
    {"question": "Can I bring my dog?", "answer": "Dogs are welcome on our terrace, but not inside."},
    {"question": "Do you deliver?", "answer": "We deliver within 5 km on Friday and Saturday evenings."},
]
WIFI = "Do you have wifi?"
WIFI_AGAIN = "Do you have free wifi for guests?"  # a paraphrase (0.71 similar with MiniLM)
WINE = "Can I bring my own wine?"  # another subject (0.07 similar to WIFI)


@pytest.fixture
def queued(monkeypatch) -> list[tuple]:
    """The collection tasks queued after commit, to run by hand (``run``)."""
    calls: list[tuple] = []

    def record(task, *args):
        transaction.on_commit(lambda: calls.append((task.task, args)))

    monkeypatch.setattr(services, "enqueue_on_commit", record)
    return calls


def run(queued: list[tuple]) -> None:
    while queued:
        task, args = queued.pop(0)
        task.apply(args=args).get()


def restaurant():
    tenant = make_tenant("Golden Dragon")
    add_source(tenant, kind="faq", title="FAQ", pairs=FAQ)
    return tenant


def ask(tenant, content: str, conversation_id: str | None = None) -> dict:
    """A customer question through the real chat endpoint, in a new conversation unless given."""
    api = tenant.client()
    if conversation_id is None:
        response = api.post(f"/api/v1/assistants/{tenant.assistant.pk}/conversations", {}, format="json")
        assert response.status_code == 201, response.content
        conversation_id = response.json()["id"]
    response = api.post(f"/api/v1/conversations/{conversation_id}/messages", {"content": content}, format="json")
    assert response.status_code == 201, response.content
    return {"conversation_id": conversation_id, **response.json()}


def topics(tenant, **params) -> list[dict]:
    response = tenant.client().get(f"/api/v1/assistants/{tenant.assistant.pk}/unanswered", params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def answer_topic(tenant, topic_id, answer, assistant_id=None):
    return tenant.client().post(f"/api/v1/assistants/{assistant_id or tenant.assistant.pk}/unanswered/{topic_id}"
                                "/answer", {"answer": answer}, format="json")


def test_a_question_the_knowledge_cannot_answer_lands_in_a_topic(queued):
    tenant = restaurant()
    sent = ask(tenant, WIFI)
    assert sent["answer"]["grounding"] == "none"
    assert UnansweredQuestion.objects.for_business(tenant.business).count() == 0  # nothing before the task
    # One task for the answer: the handoff it caused (reason no_answer) is not a second question.
    assert [task.name for task, _ in queued] == ["assistants.tasks.unanswered_collect_task"]
    run(queued)
    [topic] = topics(tenant)
    assert topic["status"] == "open" and topic["count"] == 1 and topic["examples"] == [WIFI]
    assert topic["reasons"] == {"no_answer": 1, "handoff": 0, "thumbs_down": 0}
    assert topic["first_seen"] == topic["last_seen"] and topic["source_id"] is None
    [question] = UnansweredQuestion.objects.for_business(tenant.business)
    assert question.message.content == WIFI and str(question.answer_id) == sent["answer"]["id"]
    assert str(question.conversation_id) == sent["conversation_id"] and question.reason == "no_answer"


def test_paraphrases_share_a_topic_and_another_subject_opens_its_own(queued):
    tenant = restaurant()
    for question in (WIFI, WINE, WIFI_AGAIN):
        assert ask(tenant, question)["answer"]["grounding"] == "none"
    run(queued)
    listed = topics(tenant)
    assert [(t["count"], t["examples"]) for t in listed] == [(2, [WIFI_AGAIN, WIFI]), (1, [WINE])]
    wifi = UnansweredTopic.objects.for_business(tenant.business).get(pk=listed[0]["id"])
    assert wifi.count == 2 and abs(sum(x * x for x in wifi.centroid) - 1) < 1e-4  # re-normalised
    # An answered question is not collected.
    assert ask(tenant, "Can I bring my dog?")["answer"]["grounding"] == "passages"
    assert queued == []


def test_answering_a_topic_adds_an_faq_that_answers_the_question_next_time(queued):
    tenant = restaurant()
    for question in (WIFI, WIFI, WIFI_AGAIN):
        ask(tenant, question)
    run(queued)
    [topic] = topics(tenant)
    assert topic["count"] == 3 and topic["examples"] == [WIFI_AGAIN, WIFI]  # repeats once

    response = answer_topic(tenant, topic["id"], "  Yes, free wifi: the password is on the receipt.  ")
    assert response.status_code == 201, response.content
    body = response.json()
    source = body["source"]
    assert source["kind"] == "faq" and source["status"] == "pending"
    assert body["topic"]["status"] == "answered" and body["topic"]["source_id"] == source["id"]
    assert body["topic"]["answered_at"] and body["topic"]["examples"] == [WIFI_AGAIN, WIFI]
    saved = KnowledgeSource.objects.for_business(tenant.business).get(pk=source["id"])
    # The question asked most often stands for the topic.
    assert saved.faq_pairs == [{"question": WIFI, "answer": "Yes, free wifi: the password is on the receipt."}]

    ingest(tenant, source["id"])
    again = ask(tenant, WIFI)["answer"]
    assert again["grounding"] == "passages" and "password is on the receipt" in again["content"]
    assert source["id"] in {c["source_id"] for c in again["citations"]}
    assert queued == []

    assert answer_topic(tenant, topic["id"], "Something else").json()["error"]["code"] == "topic_answered"
    assert answer_topic(tenant, topic["id"], "Something else").status_code == 409
    assert [t["id"] for t in topics(tenant, status="answered")] == [topic["id"]]
    assert topics(tenant, status="open") == []


def test_a_question_asked_after_its_topic_was_answered_opens_a_new_topic(queued, monkeypatch):
    from assistants import services as source_services

    tenant = restaurant()
    ask(tenant, WIFI)
    run(queued)
    [first] = topics(tenant)
    # The new FAQ is not ingested here: a Celery worker left running by an earlier test would
    # otherwise read it before the next question, and answer it.
    monkeypatch.setattr(source_services, "enqueue_on_commit", lambda task, *args: None)
    assert answer_topic(tenant, first["id"], "Yes, free wifi.").status_code == 201
    ask(tenant, WIFI_AGAIN)  # before the FAQ was read: still unanswered
    run(queued)
    [reopened] = topics(tenant, status="open")
    assert reopened["id"] != first["id"] and reopened["examples"] == [WIFI_AGAIN]


@pytest.mark.parametrize("answer, field", [("", "answer"), ("   ", "answer"), ("x" * 20_001, "answer"),
                                           (None, "answer")])
def test_an_empty_or_huge_answer_is_refused_in_the_error_shape(queued, answer, field):
    tenant = restaurant()
    ask(tenant, WIFI)
    run(queued)
    [topic] = topics(tenant)
    response = answer_topic(tenant, topic["id"], answer)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in str(error["details"])
    assert topics(tenant)[0]["status"] == "open"
    strays = tenant.client().post(f"/api/v1/assistants/{tenant.assistant.pk}/unanswered/{topic['id']}/answer",
                                  {"answer": "Yes.", "question": "x"}, format="json")
    assert strays.status_code == 400 and "question" in str(strays.json()["error"]["details"])


def test_the_collection_task_twice_files_the_question_once(queued):
    tenant = restaurant()
    ask(tenant, WIFI)
    [(task, args)] = queued
    task.apply(args=args).get()
    task.apply(args=args).get()
    services.unanswered_collect(business_id=args[0], message_id=args[1], reason=args[2])
    assert UnansweredQuestion.objects.for_business(tenant.business).count() == 1
    assert [t["count"] for t in topics(tenant)] == [1]


def test_a_handoff_collects_the_customers_last_question(queued):
    tenant = restaurant()
    sent = ask(tenant, "Can I bring my dog?")
    assert sent["answer"]["grounding"] == "passages" and queued == []
    handed = ask(tenant, "Can I talk to a person please?", sent["conversation_id"])
    assert handed["answer"] is None
    run(queued)
    # The request for a person is not the question; the one before it is.
    [topic] = topics(tenant)
    assert topic["examples"] == ["Can I bring my dog?"]
    assert topic["reasons"] == {"no_answer": 0, "handoff": 1, "thumbs_down": 0}
    [question] = UnansweredQuestion.objects.for_business(tenant.business)
    assert question.reason == "handoff" and str(question.answer_id) == sent["answer"]["id"]

    # A staff takeover over the API is a handoff too; a conversation with no question adds nothing.
    other = ask(tenant, "Do you deliver?")
    assert tenant.client().post(f"/api/v1/conversations/{other['conversation_id']}/handoff").status_code == 200
    empty = tenant.client().post(f"/api/v1/assistants/{tenant.assistant.pk}/conversations", {}, format="json")
    assert tenant.client().post(f"/api/v1/conversations/{empty.json()['id']}/handoff").status_code == 200
    assert [task.name for task, _ in queued] == ["assistants.tasks.unanswered_handoff_task"] * 2
    run(queued)
    assert sorted(t["examples"][0] for t in topics(tenant)) == ["Can I bring my dog?", "Do you deliver?"]


def test_a_thumbs_down_is_collected_through_unanswered_record(queued):
    tenant = restaurant()
    sent = ask(tenant, "Do you deliver?")
    assert sent["answer"]["grounding"] == "passages"
    services.unanswered_record(business_id=tenant.business.pk, message_id=sent["answer"]["id"],
                               reason="thumbs_down")
    run(queued)
    [topic] = topics(tenant)
    assert topic["examples"] == ["Do you deliver?"] and topic["reasons"]["thumbs_down"] == 1
    # The same rating again (a retry) or for the same question is one question still.
    services.unanswered_record(business_id=tenant.business.pk, message_id=sent["message"]["id"],
                               reason="thumbs_down")
    run(queued)
    assert topics(tenant)[0]["count"] == 1
    with pytest.raises(ValueError, match="unknown unanswered reason"):
        services.unanswered_record(business_id=tenant.business.pk, message_id=sent["answer"]["id"], reason="meh")


def test_a_thumbs_down_through_the_feedback_endpoint_lands_in_unanswered(queued):
    tenant = restaurant()
    sent = ask(tenant, "Do you deliver?")
    response = tenant.client().post(f"/api/v1/messages/{sent['answer']['id']}/feedback", {"rating": "down"},
                                    format="json")
    assert response.status_code == 200, response.content
    run(queued)
    [topic] = topics(tenant)
    assert topic["examples"] == ["Do you deliver?"] and topic["reasons"]["thumbs_down"] == 1
    # A thumbs-up collects nothing.
    other = ask(tenant, "Can I bring my dog?")
    tenant.client().post(f"/api/v1/messages/{other['answer']['id']}/feedback", {"rating": "up"}, format="json")
    run(queued)
    assert len(topics(tenant)) == 1


def test_a_question_counts_once_whatever_else_collects_it(queued):
    """A thumbs-down on the honest "I don't know" is the same unanswered question."""
    tenant = restaurant()
    sent = ask(tenant, WIFI)
    services.unanswered_record(business_id=tenant.business.pk, message_id=sent["answer"]["id"],
                               reason="thumbs_down")
    run(queued)
    [topic] = topics(tenant)
    assert topic["count"] == 1 and topic["reasons"] == {"no_answer": 1, "handoff": 0, "thumbs_down": 0}


def test_the_playground_is_not_collected(queued, tenant):
    conversation = Conversation.objects.unscoped().create(business=tenant.business, assistant=tenant.assistant,
                                                          channel=Conversation.Channel.PLAYGROUND)
    message = Message.objects.unscoped().create(business=tenant.business, conversation=conversation,
                                                role=Message.Role.CUSTOMER, content=WIFI)
    assert services.unanswered_collect(business_id=tenant.business.pk, message_id=message.pk,
                                       reason="no_answer") is None
    assert not UnansweredQuestion.objects.for_business(tenant.business).exists()


def test_a_dead_embedding_server_is_retried_then_the_question_waits_without_a_topic(settings, caplog):
    """No broker (the demo): the task runs in-process after the answer, against a closed port.
    The customer gets the answer; the task retries, then keeps the question without a topic,
    and files it once the embedding server answers again."""
    tenant = restaurant()  # its knowledge embedded by the local model
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.EMBEDDINGS_BASE_URL = f"http://127.0.0.1:{free_port()}/v1"  # nobody listens there
    settings.EMBEDDINGS_MODEL = "all-MiniLM-L6-v2"
    caplog.set_level("WARNING", logger="assistants.unanswered")
    assert ask(tenant, WIFI)["answer"]["grounding"] == "none"
    inline_tasks_wait()
    retries = [r for r in caplog.records if r.name == "assistants.unanswered.tasks"]
    assert len(retries) == 3 and all("retrying" in r.getMessage() for r in retries)
    [question] = UnansweredQuestion.objects.for_business(tenant.business)
    assert question.topic_id is None and topics(tenant) == []

    settings.EMBEDDINGS_BASE_URL = ""  # back to the local model
    ask(tenant, WINE)
    inline_tasks_wait()
    assert sorted(t["examples"][0] for t in topics(tenant)) == [WINE, WIFI]
    assert not UnansweredQuestion.objects.for_business(tenant.business).filter(topic__isnull=True).exists()


def test_a_broker_outage_never_reaches_the_customer(monkeypatch, caplog):
    """Queueing the collection fails (Redis down): the customer still gets the answer."""
    tenant = restaurant()

    def down(*args):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(unanswered_collect_task, "delay", down)
    sent = ask(tenant, WIFI)
    assert sent["answer"]["grounding"] == "none" and sent["answer"]["status"] == "complete"
    assert "could not queue the collection" in caplog.text
    assert not UnansweredQuestion.objects.for_business(tenant.business).exists()


def test_the_collection_tasks_go_to_the_ingest_queue():
    app.loader.import_default_modules()  # what a worker does at start: autodiscovery
    for task in (unanswered_collect_task, unanswered_handoff_task):
        assert task.name in app.tasks
        assert app.amqp.router.route({}, task.name)["queue"].name == "ingest"


def test_topics_page_through_most_asked_first(queued):
    tenant = restaurant()
    for question in (WINE, WIFI, WIFI_AGAIN, "Are you hiring?", "Do you have a kids menu?"):
        ask(tenant, question)
    run(queued)
    pages, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        response = tenant.client().get(f"/api/v1/assistants/{tenant.assistant.pk}/unanswered", params)
        body = response.json()
        pages.append([t["id"] for t in body["results"]])
        cursor = body["next"]
        if cursor is None:
            break
    expected = list(UnansweredTopic.objects.for_business(tenant.business)
                    .order_by("-count", "-last_seen", "-id").values_list("id", flat=True))
    assert [i for page in pages for i in page] == [str(pk) for pk in expected] and len(expected) == 4
    assert UnansweredTopic.objects.for_business(tenant.business).get(pk=expected[0]).count == 2
    bad = tenant.client().get(f"/api/v1/assistants/{tenant.assistant.pk}/unanswered", {"status": "closed"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_error"
    broken = tenant.client().get(f"/api/v1/assistants/{tenant.assistant.pk}/unanswered", {"cursor": "bm9wZQ"})
    assert broken.status_code == 404


def test_another_business_cannot_list_or_answer_the_topics(queued):
    tenant = restaurant()
    ask(tenant, WIFI)
    run(queued)
    [topic] = topics(tenant)
    rival = make_tenant("Rival Noodles")
    listed = rival.client().get(f"/api/v1/assistants/{tenant.assistant.pk}/unanswered")
    assert listed.status_code == 404 and listed.json()["error"]["code"] == "not_found"
    for assistant_id in (tenant.assistant.pk, rival.assistant.pk):
        response = answer_topic(rival, topic["id"], "Ha, no wifi.", assistant_id=assistant_id)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert topics(rival) == []
    assert topics(tenant)[0]["status"] == "open"
    assert not KnowledgeSource.objects.for_business(rival.business).filter(kind="faq").exists()
    # A publishable key cannot read them either.
    assert tenant.client(tenant.publishable_key).get(
        f"/api/v1/assistants/{tenant.assistant.pk}/unanswered").status_code == 403


# --------------------------------------------------------------------------- the dashboard page


def _unanswered(tenant, text: str) -> None:
    """A customer question answered with the handoff, collected as the task would."""
    conversation = Conversation.objects.unscoped().create(business=tenant.business, assistant=tenant.assistant)
    question = Message.objects.unscoped().create(business=tenant.business, conversation=conversation,
                                                 role=Message.Role.CUSTOMER, content=text)
    answer = Message.objects.unscoped().create(business=tenant.business, conversation=conversation,
                                               role=Message.Role.ASSISTANT, grounding="none", reply_to=question,
                                               content="I'm sorry, I don't have that information.")
    assert services.unanswered_collect(business_id=tenant.business.pk, message_id=answer.pk, reason="no_answer")


def test_the_owner_sees_the_topics_and_answers_one_on_the_page(tenant):
    for text in (WIFI, WIFI_AGAIN, WINE):
        _unanswered(tenant, text)
    owner = signed_in(tenant.user)
    page = owner.get("/app/unanswered/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Unanswered questions" in html and 'href="/app/unanswered/"' in html  # the page and its nav item
    assert html.index(WIFI_AGAIN) < html.index(WINE)  # most asked first
    assert "asked 2 times" in html and "asked 1 time" in html and "no answer in the knowledge (2)" in html
    wifi = UnansweredTopic.objects.for_business(tenant.business).get(count=2)
    assert f'<label for="answer-{wifi.pk}">' in html

    done = owner.post(f"/app/unanswered/{wifi.pk}/answer/", {"answer": "Yes, free wifi for every guest."},
                      follow=True)
    assert done.status_code == 200
    assert f"Answered: “{WIFI}” is now in the knowledge" in done.content.decode()
    wifi.refresh_from_db()
    assert wifi.status == "answered" and wifi.answered_by_id == tenant.user.pk
    assert wifi.faq_source.faq_pairs == [{"question": WIFI, "answer": "Yes, free wifi for every guest."}]
    assert WIFI_AGAIN not in done.content.decode() and WINE in done.content.decode()  # open topics only

    again = owner.post(f"/app/unanswered/{wifi.pk}/answer/", {"answer": "Again."}, follow=True)
    assert "answered already" in again.content.decode()
    wine = UnansweredTopic.objects.for_business(tenant.business).get(status="open")
    empty = owner.post(f"/app/unanswered/{wine.pk}/answer/", {"answer": "  "}, follow=True)
    assert "Write the answer first." in empty.content.decode()
    wine.refresh_from_db()
    assert wine.status == "open"


def test_the_page_speaks_chinese(tenant):
    _unanswered(tenant, WIFI)
    owner = signed_in(tenant.user)
    html = owner.get("/app/unanswered/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "未解答的问题" in html and "回答" in html and "问过 1 次" in html


def test_staff_cannot_open_or_answer_and_another_business_topic_is_a_404(tenant, other_tenant):
    _unanswered(tenant, WIFI)
    topic = UnansweredTopic.objects.for_business(tenant.business).get()
    staff = signed_in(member(tenant, "staff"))
    assert staff.get("/app/unanswered/").status_code == 403
    assert staff.post(f"/app/unanswered/{topic.pk}/answer/", {"answer": "Yes."}).status_code == 403
    rival = signed_in(other_tenant.user)
    assert WIFI not in rival.get("/app/unanswered/").content.decode()
    assert rival.post(f"/app/unanswered/{topic.pk}/answer/", {"answer": "Yes."}).status_code == 404
    topic.refresh_from_db()
    assert topic.status == "open" and topic.answered_at is None
    assert timezone.now() >= topic.last_seen
