"""Feedback on answers: POST /api/v1/messages/{id}/feedback (assistants/chat/feedback.py), the
``answer_rated`` signal, the ``message.rated`` event, CORS for the widget, the dashboard's badge.
The widget's thumbs in a browser: test_widget_browser.py."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client

from assistants.chat import services as chat
from assistants.chat import signals
from assistants.chat.feedback import message_rate
from assistants.models import Conversation, Message
from businesses.models import ApiKey, WebhookDelivery
from businesses.webhooks.services import webhook_endpoint_create
from config.errors import ApplicationError
from tests.conftest import Tenant
from tests.dashboard.conftest import signed_in

QUESTION = "Can I bring my dog?"
ANSWER = "Dogs are welcome on the terrace."
UNKNOWN = "00000000-0000-4000-8000-000000000000"
SITE = "https://golden-dragon.example"


@dataclass
class Chat:
    conversation: Conversation
    token: str
    question: Message
    answer: Message


def _chat(tenant: Tenant) -> Chat:
    """A widget customer's question and the assistant's answer, as the answer flow saves them."""
    key = ApiKey.objects.for_business(tenant.business).get(kind="publishable")
    conversation, token = chat.conversation_start(assistant=tenant.assistant, key=key)
    sent = chat.message_send(conversation=conversation, content=QUESTION, idempotency_key=None)
    answer = Message.objects.unscoped().create(
        business_id=tenant.business.pk, conversation=conversation, role=Message.Role.ASSISTANT, content=ANSWER,
        grounding=Message.Grounding.PASSAGES, backend="extractive", reply_to=sent.customer)
    return Chat(conversation, token, sent.customer, answer)


def _rate(tenant: Tenant, message_id, body: dict, *, token: str | None = None, key: str | None = None, **extra):
    """POST the feedback as the customer (publishable key + token) or, without a token, as staff."""
    if token is not None:
        extra["HTTP_X_CUSTOMER_TOKEN"] = token
    client = tenant.client(key or (tenant.publishable_key if token is not None else tenant.secret_key))
    return client.post(f"/api/v1/messages/{message_id}/feedback", body, format="json", **extra)


def _saved(message: Message) -> tuple:
    message.refresh_from_db()
    return message.rating, message.rating_comment, message.rated_at is not None


@pytest.mark.django_db
def test_customer_rates_their_own_answer_and_changes_it(tenant):
    talk = _chat(tenant)
    response = _rate(tenant, talk.answer.pk, {"rating": "up"}, token=talk.token)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == str(talk.answer.pk) and body["role"] == "assistant" and body["content"] == ANSWER
    assert body["rating"] == "up" and body["rating_comment"] is None
    assert _saved(talk.answer) == ("up", "", True)

    # A second rating replaces the first, comment and all.
    changed = _rate(tenant, talk.answer.pk, {"rating": "down", "comment": "  The terrace is closed in winter. "},
                    token=talk.token)
    assert changed.status_code == 200 and changed.json()["rating"] == "down"
    assert changed.json()["rating_comment"] == "The terrace is closed in winter."
    assert _saved(talk.answer) == ("down", "The terrace is closed in winter.", True)
    again = _rate(tenant, talk.answer.pk, {"rating": "down"}, token=talk.token)
    assert again.json()["rating_comment"] is None and _saved(talk.answer) == ("down", "", True)

    # null takes the rating back.
    removed = _rate(tenant, talk.answer.pk, {"rating": None}, token=talk.token)
    assert removed.status_code == 200 and removed.json()["rating"] is None
    assert _saved(talk.answer) == ("", "", False)


@pytest.mark.django_db
def test_staff_rate_an_answer_with_the_secret_key(tenant):
    talk = _chat(tenant)
    response = _rate(tenant, talk.answer.pk, {"rating": "down", "comment": "Wrong about winter."})
    assert response.status_code == 200, response.content
    assert response.json()["rating"] == "down"
    assert _saved(talk.answer) == ("down", "Wrong about winter.", True)


@pytest.mark.django_db
def test_another_customers_token_cannot_rate_my_answer(tenant):
    mine, theirs = _chat(tenant), _chat(tenant)
    unknown = _rate(tenant, UNKNOWN, {"rating": "up"}, token=mine.token)
    assert unknown.status_code == 404
    for token in (theirs.token, "ct_wrong", ""):
        response = _rate(tenant, mine.answer.pk, {"rating": "down"}, token=token)
        # Exactly like a message that does not exist: nothing confirms it does.
        assert response.status_code == 404 and response.json() == unknown.json(), token
    no_token = tenant.client(tenant.publishable_key).post(f"/api/v1/messages/{mine.answer.pk}/feedback",
                                                          {"rating": "down"}, format="json")
    assert no_token.status_code == 404 and no_token.json() == unknown.json()
    assert unknown.json()["error"]["code"] == "not_found"
    assert _saved(mine.answer) == ("", "", False)


@pytest.mark.django_db
def test_other_business_cannot_rate_my_answer(tenant, other_tenant):
    talk = _chat(tenant)
    unknown = _rate(other_tenant, UNKNOWN, {"rating": "down"})
    for key in (other_tenant.secret_key, other_tenant.publishable_key):
        response = _rate(other_tenant, talk.answer.pk, {"rating": "down"}, key=key, HTTP_X_CUSTOMER_TOKEN=talk.token)
        assert response.status_code == 404 and response.json() == unknown.json(), key
    # Nor does a bad body tell them anything: the message is not theirs, whatever they send.
    assert _rate(other_tenant, talk.answer.pk, {"rating": "sideways"}).status_code == 404
    assert _saved(talk.answer) == ("", "", False)


@pytest.mark.django_db
def test_only_a_complete_assistant_answer_can_be_rated(tenant):
    talk = _chat(tenant)
    chat.conversation_handoff(conversation=talk.conversation, reason="customer_request")  # adds the notice
    staff = chat.staff_message_send(conversation=talk.conversation, content="Hello, Li Wei here.")
    notice = Message.objects.for_business(tenant.business).get(conversation=talk.conversation, role="system")
    failed = Message.objects.unscoped().create(business_id=tenant.business.pk, conversation=talk.conversation,
                                               role="assistant", status="failed", error="inference_unavailable")
    for message, token in ((talk.question, talk.token), (staff, None), (notice, talk.token), (failed, None)):
        response = _rate(tenant, message.pk, {"rating": "up"}, token=token)
        assert response.status_code == 400, message.role
        error = response.json()["error"]
        assert error["code"] == "not_an_answer" and error["message"], message.role
        assert _saved(message) == ("", "", False)
    assert _rate(tenant, talk.question.pk, {"rating": "up"}, token=talk.token).json()["error"]["details"] == {
        "role": "customer"}


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "field"), [
    ({"rating": "sideways"}, "rating"),
    ({"rating": "UP"}, "rating"),
    ({"rating": 1}, "rating"),
    ({"rating": True}, "rating"),
    ({}, "rating"),
    ({"comment": "Great"}, "rating"),
    ({"rating": "up", "comment": "x" * 1001}, "comment"),
    ({"rating": "up", "comment": 5}, "comment"),
    ({"rating": "up", "comment": "a\x00b"}, "comment"),
    ({"rating": None, "comment": "No rating, only words."}, "comment"),
    ({"rating": "up", "stars": 5}, "stars"),
])
def test_bad_feedback_is_a_validation_error(tenant, body, field):
    talk = _chat(tenant)
    response = _rate(tenant, talk.answer.pk, body, token=talk.token)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["message"]
    assert field in error["details"]["fields"], error
    assert _saved(talk.answer) == ("", "", False)


@pytest.mark.django_db
@pytest.mark.parametrize("payload", ["[]", "null", '{"rating": "up",', "rating=up"])
def test_a_body_that_is_not_a_json_object_is_a_clean_400(tenant, payload):
    talk = _chat(tenant)
    response = tenant.client().post(f"/api/v1/messages/{talk.answer.pk}/feedback", data=payload,
                                    content_type="application/json")
    assert response.status_code == 400 and "error" in response.json()


@pytest.mark.django_db
def test_a_comment_of_1000_characters_is_kept(tenant):
    talk = _chat(tenant)
    response = _rate(tenant, talk.answer.pk, {"rating": "down", "comment": "y" * 1000}, token=talk.token)
    assert response.status_code == 200 and response.json()["rating_comment"] == "y" * 1000


@pytest.fixture
def heard(request) -> list[dict]:
    """What a stand-in subscriber (unanswered questions, analytics) heard, for one test only."""
    seen: list[dict] = []

    def on_rated(sender, *, message, rating, previous, **kwargs):
        seen.append({"sender": sender, "message": message, "rating": rating, "previous": previous,
                     "question": message.reply_to.content if message.reply_to_id else None})

    signals.answer_rated.connect(on_rated, dispatch_uid="test-answer-rated", weak=False)
    request.addfinalizer(lambda: signals.answer_rated.disconnect(dispatch_uid="test-answer-rated"))
    return seen


@pytest.mark.django_db
def test_each_change_sends_answer_rated_and_emits_message_rated(tenant, other_tenant, heard, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = settings.WEBHOOKS_ALLOW_HTTP = True
    webhook_endpoint_create(business=tenant.business, url="http://127.0.0.1:9/hooks", event_types=["message.rated"])
    webhook_endpoint_create(business=other_tenant.business, url="http://127.0.0.1:9/theirs")
    talk = _chat(tenant)
    assert _rate(tenant, talk.answer.pk, {"rating": "up"}, token=talk.token).status_code == 200
    assert _rate(tenant, talk.answer.pk, {"rating": "down", "comment": "Closed in winter."},
                 token=talk.token).status_code == 200
    # The same rating and comment again change nothing: nothing is sent.
    assert _rate(tenant, talk.answer.pk, {"rating": "down", "comment": "Closed in winter."},
                 token=talk.token).status_code == 200
    assert _rate(tenant, talk.answer.pk, {"rating": None}, token=talk.token).status_code == 200

    assert [(h["rating"], h["previous"]) for h in heard] == [("up", None), ("down", "up"), (None, "down")]
    assert all(h["sender"] is Message and h["message"].pk == talk.answer.pk for h in heard)
    # A thumbs-down names the question the assistant answered badly.
    assert heard[1]["question"] == QUESTION and heard[1]["message"].rating_comment == "Closed in winter."

    events = list(WebhookDelivery.objects.for_business(tenant.business).order_by("created_at"))
    assert [e.event_type for e in events] == ["message.rated"] * 3
    data = events[1].payload["data"]
    assert data == {"message_id": str(talk.answer.pk), "conversation_id": str(talk.conversation.pk),
                    "assistant_id": str(tenant.assistant.pk), "rating": "down", "previous_rating": "up",
                    "comment": "Closed in winter.", "rated_at": data["rated_at"]}
    assert data["rated_at"].endswith("Z")
    assert events[2].payload["data"]["rating"] is None and events[2].payload["data"]["rated_at"] is None
    assert WebhookDelivery.objects.for_business(other_tenant.business).count() == 0


@pytest.mark.django_db
def test_a_refused_rating_sends_nothing(tenant, heard):
    talk = _chat(tenant)
    with pytest.raises(ApplicationError) as refused:
        message_rate(message=talk.question, rating="up", comment="")
    assert refused.value.code == "not_an_answer"
    with pytest.raises(ApplicationError):
        message_rate(message=talk.answer, rating="meh", comment="")
    assert heard == []


@pytest.mark.django_db
def test_feedback_is_rate_limited_per_key(tenant, settings):
    settings.RATELIMIT_PER_API_KEY = "2 per minute"
    talk = _chat(tenant)
    for rating in ("up", "down"):
        assert _rate(tenant, talk.answer.pk, {"rating": rating}, token=talk.token).status_code == 200
    limited = _rate(tenant, talk.answer.pk, {"rating": "up"}, token=talk.token)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert "Retry-After" in limited
    assert _saved(talk.answer)[0] == "down"


@pytest.mark.django_db(transaction=True)  # the messages list is an async view: other connections read it
def test_the_rating_comes_back_with_the_conversations_messages(tenant):
    talk = _chat(tenant)
    _rate(tenant, talk.answer.pk, {"rating": "down", "comment": "Closed in winter."}, token=talk.token)
    listed = tenant.client(tenant.publishable_key).get(f"/api/v1/conversations/{talk.conversation.pk}/messages",
                                                       HTTP_X_CUSTOMER_TOKEN=talk.token)
    assert listed.status_code == 200
    by_id = {m["id"]: m for m in listed.json()["results"]}
    assert by_id[str(talk.answer.pk)]["rating"] == "down"
    assert by_id[str(talk.answer.pk)]["rating_comment"] == "Closed in winter."
    assert by_id[str(talk.question.pk)]["rating"] is None


# --------------------------------------------------------------------------- CORS (the widget)


@pytest.mark.django_db
def test_the_widget_may_rate_from_an_allowed_site_only(tenant):
    assert tenant.client().patch(f"/api/v1/assistants/{tenant.assistant.pk}", {"allowed_origins": [SITE]},
                                 format="json").status_code == 200
    talk = _chat(tenant)
    client = Client()
    path = f"/api/v1/messages/{talk.answer.pk}/feedback"
    preflight = client.options(path, HTTP_ORIGIN=SITE, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
                               HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type,x-customer-token")
    assert preflight.status_code == 204 and preflight["Access-Control-Allow-Origin"] == SITE
    auth = {"HTTP_AUTHORIZATION": f"Bearer {tenant.publishable_key}", "HTTP_X_CUSTOMER_TOKEN": talk.token}
    rated = client.post(path, {"rating": "down"}, content_type="application/json", HTTP_ORIGIN=SITE, **auth)
    assert rated.status_code == 200 and rated["Access-Control-Allow-Origin"] == SITE

    elsewhere = "https://evil.example"
    refused = client.options(path, HTTP_ORIGIN=elsewhere, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused
    sneaked = client.post(path, {"rating": "up"}, content_type="application/json", HTTP_ORIGIN=elsewhere, **auth)
    assert sneaked.status_code == 403 and sneaked.json()["error"]["code"] == "origin_not_allowed"
    assert _saved(talk.answer)[0] == "down"
    # A preflight for a message that does not exist reveals nothing.
    unknown = client.options(f"/api/v1/messages/{UNKNOWN}/feedback", HTTP_ORIGIN=elsewhere,
                             HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert unknown.status_code == 204


# --------------------------------------------------------------------------- the dashboard


@pytest.mark.django_db
def test_the_inbox_shows_a_rated_answer_with_its_comment(tenant):
    talk = _chat(tenant)
    other = _chat(tenant)
    message_rate(message=talk.answer, rating="down", comment="The terrace is closed in winter.")
    message_rate(message=other.answer, rating="up", comment="")
    owner = signed_in(tenant.user)
    page = owner.get(f"/app/inbox/{talk.conversation.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert '<span class="badge rating down"' in page and "👎" in page
    assert '<span class="sr">Rated not helpful</span>' in page
    assert "The terrace is closed in winter." in page and "Feedback comment:" in page
    liked = owner.get(f"/app/inbox/{other.conversation.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "👍" in liked and "Rated helpful" in liked and "👎" not in liked and "Feedback comment:" not in liked

    chinese = signed_in(tenant.user)
    chinese.cookies["django_language"] = "zh-hans"
    page = chinese.get(f"/app/inbox/{talk.conversation.pk}/", HTTP_HX_REQUEST="true",
                       HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "评价：没帮助" in page and "反馈意见：" in page
