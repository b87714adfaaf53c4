"""The WhatsApp Cloud API channel: Meta's webhook (signed with the app secret exactly as Meta
signs), the answer flow, and a loopback HTTP server standing in for the Graph API.

Transactional: the answer flow's database calls run on other threads, so the data they read
must be committed. Processing runs by calling the task function directly (the webhook's
``delay`` is captured), except in the one test with a real worker.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import importlib
import json
import sys
import threading
import time
import types
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from assistants.channels.owner.services import owner_help_text
from assistants.channels.whatsapp import receivers, services
from assistants.channels.whatsapp.crypto import token_decrypt
from assistants.channels.whatsapp.tasks import channel_whatsapp_inbound_task
from assistants.chat import hours
from assistants.chat import services as chat_services
from assistants.chat.intent import asks_for_person
from assistants.chat.services import staff_message_send
from assistants.models import (
    Conversation,
    KnowledgeSource,
    KnowledgeTest,
    Message,
    WhatsAppConnection,
    WhatsAppDelivery,
    WhatsAppInbound,
    WhatsAppOutbound,
)
from billing import services as billing
from billing.models import UsagePeriod
from tests.assistants import kb
from tests.assistants.conftest import add_source
from tests.conftest import make_tenant, start_worker, stop_worker

pytestmark = pytest.mark.django_db(transaction=True)

APP_SECRET = "meta-app-secret-for-tests"
VERIFY_TOKEN = "verify-me-please"
ACCESS_TOKEN = "EAAG-test-access-token-0123456789"
CUSTOMER = "31612345678"
OWNER = "31687654321"
WEBHOOK = "/channels/whatsapp/webhook"


# --------------------------------------------------------------------------- the Graph API on loopback


class GraphServer:
    """Records every request; answers 200 with a message id, or ``fail_status`` every time."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.fail_status: int | None = None
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with server._lock:
                    server.requests.append({"path": self.path, "authorization": self.headers.get("Authorization"),
                                            "content_type": self.headers.get("Content-Type"),
                                            "json": json.loads(body)})
                    n = len(server.requests)
                if server.fail_status:
                    reply, status = {"error": {"message": "Service temporarily unavailable", "code": 2}}, \
                        server.fail_status
                else:
                    reply, status = {"messaging_product": "whatsapp",
                                     "messages": [{"id": f"wamid.OUT{n}-{uuid.uuid4().hex[:8]}"}]}, 200
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v21.0"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def to(self, number: str) -> list[dict]:
        return [r for r in self.requests if r["json"]["to"] == number]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def graph(settings):
    server = GraphServer()
    settings.WHATSAPP_GRAPH_BASE_URL = server.url
    settings.WHATSAPP_APP_SECRET = APP_SECRET
    settings.WHATSAPP_VERIFY_TOKEN = VERIFY_TOKEN
    settings.WHATSAPP_SEND_BACKOFF = 0.01
    settings.WHATSAPP_SEND_MAX_ATTEMPTS = 3
    yield server
    server.close()


@pytest.fixture
def queued(monkeypatch) -> list[tuple]:
    """The tasks the webhook queues (after commit), instead of sending them to Redis."""
    calls: list[tuple] = []
    monkeypatch.setattr(channel_whatsapp_inbound_task, "delay", lambda *args: calls.append(args))
    return calls


def run_queued(queued: list[tuple]) -> None:
    while queued:
        channel_whatsapp_inbound_task(*queued.pop(0))


# --------------------------------------------------------------------------- Meta's side


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def text_message(sender: str, body: str, *, wamid: str | None = None, context_id: str | None = None) -> dict:
    message = {"from": sender, "id": wamid or f"wamid.{uuid.uuid4().hex}", "timestamp": str(int(time.time())),
               "type": "text", "text": {"body": body}}
    if context_id:
        message["context"] = {"from": "15550001111", "id": context_id}
    return message


def delivery(phone_number_id: str, *, messages=(), statuses=(), name: str = "Ana") -> dict:
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "15550001111", "phone_number_id": phone_number_id}}
    if messages:
        value["contacts"] = [{"profile": {"name": name}, "wa_id": m["from"]} for m in messages]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}]}


def post_signed(payload: dict, *, signature: str | None = None):
    body = json.dumps(payload).encode()
    return Client(enforce_csrf_checks=True).post(WEBHOOK, data=body, content_type="application/json",
                         headers={"X-Hub-Signature-256": signature if signature is not None else sign(body)})


# --------------------------------------------------------------------------- tenants


def restaurant(name: str = "Golden Dragon", *, plan: str | None = "pro"):
    tenant = make_tenant(name, plan=plan)
    add_source(tenant, kind="faq", title="FAQ", pairs=kb.RESTAURANT_FAQ)
    return tenant


def connect(tenant, *, phone_number_id: str | None = None, owner: str = "") -> dict:
    response = tenant.client().post("/api/v1/whatsapp/connections", {
        "phone_number_id": phone_number_id or str(uuid.uuid4().int)[:15], "assistant_id": str(tenant.assistant.pk),
        "access_token": ACCESS_TOKEN, "owner_whatsapp": owner}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def conversation_of(tenant, number: str = CUSTOMER) -> Conversation:
    return Conversation.objects.for_business(tenant.business).get(channel="whatsapp", external_id=number)


# --------------------------------------------------------------------------- webhook


def test_verification_handshake_echoes_the_challenge_for_the_right_token(graph):
    ok = Client().get(WEBHOOK, {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                                "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.content == b"1158201444"
    assert ok["Content-Type"].startswith("text/plain")
    wrong = Client().get(WEBHOOK, {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "verification_failed"
    bad_mode = Client().get(WEBHOOK, {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN,
                                      "hub.challenge": "1"})
    assert bad_mode.status_code == 403


def test_bad_signature_is_refused_and_nothing_is_stored(graph, queued):
    tenant = make_tenant("Golden Dragon")
    connection = connect(tenant)
    payload = delivery(connection["phone_number_id"], messages=[text_message(CUSTOMER, "Hello?")])
    body = json.dumps(payload).encode()
    deliveries = WhatsAppDelivery.objects.count()
    for signature in [sign(body, "another-secret"), "", "sha256=", sign(body + b" ")]:
        response = post_signed(payload, signature=signature)
        assert response.status_code == 401, signature
        assert response.json()["error"]["code"] == "invalid_signature"
    assert WhatsAppDelivery.objects.count() == deliveries
    assert not WhatsAppInbound.objects.for_business(tenant.business).exists() and not queued


def test_customer_question_is_answered_through_the_graph_api(graph, queued):
    tenant = restaurant()
    connection = connect(tenant)
    message = text_message(CUSTOMER, "Can I bring my dog?")
    deliveries = WhatsAppDelivery.objects.count()
    response = post_signed(delivery(connection["phone_number_id"], messages=[message]))
    assert response.status_code == 200 and response.json() == {"received": True}
    stored = WhatsAppInbound.objects.for_business(tenant.business).get()
    assert stored.wa_message_id == message["id"] and stored.payload == message and stored.sender_name == "Ana"
    assert WhatsAppDelivery.objects.count() == deliveries + 1
    assert queued == [(str(tenant.business.pk), str(stored.pk))]
    assert graph.requests == []  # nothing is answered inside the webhook request

    run_queued(queued)
    conversation = conversation_of(tenant)
    answer = Message.objects.for_business(tenant.business).get(conversation=conversation, role="assistant")
    assert "terrace" in answer.content and answer.citations
    assert graph.requests == [{
        "path": f"/v21.0/{connection['phone_number_id']}/messages",
        "authorization": f"Bearer {ACCESS_TOKEN}",
        "content_type": "application/json",
        "json": {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text", "text": {"body": answer.content}},
    }]
    assert conversation.state == "bot" and conversation.metadata["customer_name"] == "Ana"
    assert [m.role for m in Message.objects.for_business(tenant.business).order_by("created_at")] == [
        "customer", "assistant"]
    sent = WhatsAppOutbound.objects.for_business(tenant.business).get()
    assert (sent.status, sent.purpose, sent.attempts, sent.message_id) == ("sent", "answer", 1, answer.pk)
    assert WhatsAppInbound.objects.for_business(tenant.business).get().status == "processed"

    # Meta's status callbacks move the sent message forward, never back.
    for name in ["read", "delivered"]:
        status = {"id": sent.wa_message_id, "status": name, "timestamp": str(int(time.time())),
                  "recipient_id": CUSTOMER}
        assert post_signed(delivery(connection["phone_number_id"], statuses=[status])).status_code == 200
    sent.refresh_from_db()
    assert sent.status == "read" and not queued


def test_redelivered_message_is_answered_once(graph, queued):
    tenant = restaurant()
    connection = connect(tenant)
    payload = delivery(connection["phone_number_id"], messages=[text_message(CUSTOMER, "Do you have parking?")])
    assert post_signed(payload).status_code == 200
    assert post_signed(payload).status_code == 200  # Meta redelivers before the task ran
    assert len(queued) == 2  # queued again while unclaimed; the claim keeps it to one answer
    first = queued[0]
    run_queued(queued)
    channel_whatsapp_inbound_task(*first)  # a task delivered twice by the broker
    assert post_signed(payload).status_code == 200 and not queued  # processed: not even queued
    assert len(graph.requests) == 1
    assert WhatsAppInbound.objects.for_business(tenant.business).count() == 1
    assert Message.objects.for_business(tenant.business).filter(role="customer").count() == 1
    assert Message.objects.for_business(tenant.business).filter(role="assistant").count() == 1


def test_graph_api_down_is_retried_then_recorded_as_failed(graph, queued):
    tenant = restaurant()
    connection = connect(tenant)
    graph.fail_status = 503
    post_signed(delivery(connection["phone_number_id"], messages=[text_message(CUSTOMER, "Do you deliver?")]))
    run_queued(queued)
    assert len(graph.requests) == 3 and len({json.dumps(r["json"]) for r in graph.requests}) == 1
    sent = WhatsAppOutbound.objects.for_business(tenant.business).get()
    assert sent.status == "failed" and sent.attempts == 3
    assert "HTTP 503" in sent.error and "temporarily unavailable" in sent.error
    answer = Message.objects.for_business(tenant.business).get(role="assistant")
    assert answer.status == "complete" and sent.message_id == answer.pk  # the answer itself is kept

    graph.requests.clear()
    graph.fail_status = 401  # a bad token does not pass by waiting: no retry
    post_signed(delivery(connection["phone_number_id"], messages=[text_message(CUSTOMER, "Do you deliver?")]))
    run_queued(queued)
    assert len(graph.requests) == 1
    assert WhatsAppOutbound.objects.for_business(tenant.business).filter(status="failed").count() == 2


def test_graph_api_unreachable_is_retried_then_recorded_as_failed(graph, queued, settings):
    tenant = restaurant()
    connection = connect(tenant)
    graph.close()  # nothing listens on the port any more
    post_signed(delivery(connection["phone_number_id"], messages=[text_message(CUSTOMER, "Do you deliver?")]))
    run_queued(queued)
    sent = WhatsAppOutbound.objects.for_business(tenant.business).get()
    assert sent.status == "failed" and sent.attempts == 3 and "ConnectError" in sent.error


def test_unsupported_message_type_gets_a_polite_text_reply(graph, queued):
    tenant = restaurant()
    connection = connect(tenant)
    image = {"from": CUSTOMER, "id": f"wamid.{uuid.uuid4().hex}", "timestamp": "1700000000", "type": "image",
             "image": {"mime_type": "image/jpeg", "sha256": "abc", "id": "1234567890"}}
    assert post_signed(delivery(connection["phone_number_id"], messages=[image])).status_code == 200
    run_queued(queued)
    assert [r["json"]["text"]["body"] for r in graph.requests] == [services.UNSUPPORTED_TEXT]
    assert graph.requests[0]["json"]["to"] == CUSTOMER
    roles = list(Message.objects.for_business(tenant.business).order_by("created_at").values_list("role", "content"))
    assert roles == [("customer", "[image message]"), ("system", services.UNSUPPORTED_TEXT)]
    assert WhatsAppInbound.objects.for_business(tenant.business).get().status == "processed"


def test_unconnected_number_is_acknowledged_and_kept(graph, queued):
    deliveries = WhatsAppDelivery.objects.count()
    response = post_signed(delivery("999000111", messages=[text_message(CUSTOMER, "Hi")]))
    assert response.status_code == 200 and not queued and WhatsAppDelivery.objects.count() == deliveries + 1


# --------------------------------------------------------------------------- owner in the loop


@pytest.fixture
def events(monkeypatch) -> list[dict]:
    """Records outgoing webhook events: those the chat services emit, and those the channel emits
    through its guarded import of businesses.webhooks.services."""
    calls: list[dict] = []
    module = types.ModuleType("businesses.webhooks.services")
    module.event_emit = lambda **kwargs: calls.append(kwargs)
    monkeypatch.setattr(chat_services, "event_emit", module.event_emit, raising=False)
    try:
        package = importlib.import_module("businesses.webhooks")
    except ModuleNotFoundError:  # not built yet: a stand-in package
        package = types.ModuleType("businesses.webhooks")
        package.__path__ = []
        monkeypatch.setitem(sys.modules, "businesses.webhooks", package)
    monkeypatch.setitem(sys.modules, "businesses.webhooks.services", module)
    monkeypatch.setattr(package, "services", module, raising=False)
    return calls


def test_owner_relay_round_trip(graph, queued, events):
    tenant = restaurant()
    connection = connect(tenant, owner="+31 6 8765 4321")
    assert connection["owner_whatsapp"] == OWNER
    pnid = connection["phone_number_id"]
    question = "Can I talk to a person please? We are 12 for Saturday."
    post_signed(delivery(pnid, messages=[text_message(CUSTOMER, question)]))
    run_queued(queued)

    conversation = conversation_of(tenant)
    assert conversation.state == "handoff"
    assert not Message.objects.for_business(tenant.business).filter(role="assistant").exists()
    alert = WhatsAppOutbound.objects.for_business(tenant.business).get(purpose="owner_alert")
    code = alert.handoff_code
    assert len(code) == 4
    [to_owner] = graph.to(OWNER)
    assert to_owner["json"]["text"]["body"].startswith(f"#{code} Ana (+{CUSTOMER}) needs a person")
    assert question in to_owner["json"]["text"]["body"]
    [to_customer] = graph.to(CUSTOMER)
    assert "asked someone from Golden Dragon to reply" in to_customer["json"]["text"]["body"]
    handoffs = [e for e in events if e["type"] == "conversation.handoff"]
    assert len(handoffs) == 1 and handoffs[0]["business_id"] == tenant.business.pk
    assert handoffs[0]["data"]["conversation_id"] == str(conversation.pk)
    assert handoffs[0]["data"]["channel"] == "whatsapp"
    [started] = [e for e in events if e["type"] == "conversation.started"]
    assert started["data"] == {"conversation_id": str(conversation.pk), "assistant_id": str(tenant.assistant.pk),
                               "channel": "whatsapp", "external_id": CUSTOMER}
    assert conversation.metadata["handoff_reason"] == "customer_request"

    # While a person has it, the customer's next message goes to the owner, not to the assistant.
    graph.requests.clear()
    post_signed(delivery(pnid, messages=[text_message(CUSTOMER, "Also, is there parking?")]))
    run_queued(queued)
    assert [r["json"]["to"] for r in graph.requests] == [OWNER]
    assert graph.requests[0]["json"]["text"]["body"].startswith(f"#{code} ")

    # The owner answers from their own WhatsApp, quoting the code (in lower case, even).
    graph.requests.clear()
    post_signed(delivery(pnid, messages=[text_message(OWNER, f"#{code.lower()} Yes! A table for 12 at 19:00.")],
                         name="Owner"))
    run_queued(queued)
    assert graph.requests == [{
        "path": f"/v21.0/{pnid}/messages", "authorization": f"Bearer {ACCESS_TOKEN}",
        "content_type": "application/json",
        "json": {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text",
                 "text": {"body": "Yes! A table for 12 at 19:00."}}}]
    staff = Message.objects.for_business(tenant.business).get(role="staff")
    assert staff.content == "Yes! A table for 12 at 19:00." and staff.conversation_id == conversation.pk
    conversation.refresh_from_db()
    assert conversation.state == "handoff"

    # Or by replying to the alert itself (context.id), without a code.
    graph.requests.clear()
    post_signed(delivery(pnid, messages=[text_message(OWNER, "Parking is free behind us.",
                                                      context_id=alert.wa_message_id)]))
    run_queued(queued)
    assert [(r["json"]["to"], r["json"]["text"]["body"]) for r in graph.requests] == [
        (CUSTOMER, "Parking is free behind us.")]

    # A reply the channel cannot place gets help, and reaches no customer.
    graph.requests.clear()
    post_signed(delivery(pnid, messages=[text_message(OWNER, "Which one was that?")]))
    run_queued(queued)
    assert [(r["json"]["to"], r["json"]["text"]["body"]) for r in graph.requests] == [
        (OWNER, owner_help_text())]
    roles = list(Message.objects.for_business(tenant.business).filter(conversation=conversation)
                 .order_by("created_at").values_list("role", flat=True))
    assert roles == ["customer", "system", "customer", "staff", "staff"]

    # One API call turns the owner's answer into an FAQ pair.
    api = tenant.client()
    path = f"/api/v1/messages/{staff.pk}/faq"
    response = api.post(path, {}, format="json")
    assert response.status_code == 202, response.content
    source = KnowledgeSource.objects.for_business(tenant.business).get(pk=response.json()["id"])
    assert source.kind == "faq" and source.faq_pairs == [{"question": "Also, is there parking?",
                                                          "answer": "Yes! A table for 12 at 19:00."}]
    response = api.post(path, {"question": "Can a group of 12 book?"}, format="json")
    assert response.status_code == 202
    # Each corrected question is a knowledge test from now on, with the reply's numbers.
    tests = {t.question: (t.origin, t.must_contain) for t in KnowledgeTest.objects.for_business(tenant.business)}
    assert tests == {"Also, is there parking?": ("correction", ["12", "19:00"]),
                     "Can a group of 12 book?": ("correction", ["12", "19:00"])}
    customer_message = Message.objects.for_business(tenant.business).filter(role="customer").first()
    refused = api.post(f"/api/v1/messages/{customer_message.pk}/faq", {}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "not_a_staff_reply"
    rival = make_tenant("Rival Noodles")
    assert rival.client().post(path, {}, format="json").status_code == 404


def test_question_the_knowledge_cannot_answer_goes_to_a_person(graph, queued, events):
    tenant = restaurant()
    connection = connect(tenant, owner=OWNER)
    post_signed(delivery(connection["phone_number_id"],
                         messages=[text_message(CUSTOMER, "Who won the football world cup in 1954?")]))
    run_queued(queued)
    conversation = conversation_of(tenant)
    assert conversation.state == "handoff"
    answer = Message.objects.for_business(tenant.business).get(role="assistant")
    assert answer.citations == [] and "don't have that information" in answer.content
    [to_customer] = graph.to(CUSTOMER)
    body = to_customer["json"]["text"]["body"]
    assert body.startswith(answer.content) and "asked someone from Golden Dragon" in body
    [to_owner] = graph.to(OWNER)
    assert "football world cup" in to_owner["json"]["text"]["body"]
    assert len([e for e in events if e["type"] == "conversation.handoff"]) == 1
    assert conversation.metadata["handoff_reason"] == "no_answer"


def test_out_of_hours_customer_is_told_when_someone_will_reply(graph, queued):
    tenant = restaurant()
    today = dt.datetime.now(dt.UTC).weekday()
    day_after_tomorrow = hours.DAYS[(today + 2) % 7]
    tenant.assistant.business_hours = {day_after_tomorrow: [["09:00", "17:00"]]}
    tenant.assistant.save()
    connection = connect(tenant, owner=OWNER)
    post_signed(delivery(connection["phone_number_id"], messages=[text_message(CUSTOMER, "I need a human")]))
    run_queued(queued)
    [to_customer] = graph.to(CUSTOMER)
    body = to_customer["json"]["text"]["body"]
    assert "closed right now" in body and "at 09:00" in body
    assert conversation_of(tenant).state == "handoff"


def test_used_up_plan_replies_unavailable_and_hands_off(graph, queued, events):
    tenant = restaurant("Busy Bistro", plan=None)  # Free: 100 customer messages a month
    billing.message_quota_reserve(business_id=tenant.business.pk)
    UsagePeriod.objects.for_business(tenant.business).update(messages_used=100)
    connection = connect(tenant, owner=OWNER)
    post_signed(delivery(connection["phone_number_id"], messages=[text_message(CUSTOMER, "Do you deliver?")]))
    run_queued(queued)
    [to_customer] = graph.to(CUSTOMER)
    assert to_customer["json"]["text"]["body"].startswith(services.UNAVAILABLE_TEXT)
    assert len(graph.to(OWNER)) == 1
    conversation = conversation_of(tenant)
    assert conversation.state == "handoff" and conversation.metadata["handoff_reason"] == "quota_exceeded"
    assert len([e for e in events if e["type"] == "conversation.handoff"]) == 1
    assert Message.objects.for_business(tenant.business).filter(role="customer").count() == 1


def test_customer_over_the_per_minute_limit_is_handed_to_a_person(graph, queued, settings):
    """No 429 on WhatsApp: the message over the limit is kept, not answered, and a person takes it."""
    settings.RATELIMIT_MESSAGES_PER_CUSTOMER = "1 per minute"
    tenant = restaurant()
    connection = connect(tenant, owner=OWNER)
    post_signed(delivery(connection["phone_number_id"], messages=[text_message(CUSTOMER, "Can I bring my dog?")]))
    run_queued(queued)
    post_signed(delivery(connection["phone_number_id"], messages=[text_message(CUSTOMER, "And my cat?")]))
    run_queued(queued)
    answered, refused = graph.to(CUSTOMER)
    assert "terrace" in answered["json"]["text"]["body"]
    assert refused["json"]["text"]["body"].startswith(services.UNAVAILABLE_TEXT)
    conversation = conversation_of(tenant)
    assert conversation.state == "handoff" and conversation.metadata["handoff_reason"] == "rate_limited"
    assert [m.content for m in Message.objects.for_business(tenant.business).filter(role="customer")
            .order_by("created_at")] == ["Can I bring my dog?", "And my cat?"]
    assert Message.objects.for_business(tenant.business).filter(role="assistant").count() == 1


def test_staff_reply_written_through_the_api_reaches_the_whatsapp_customer_once(graph, queued):
    tenant = restaurant()
    connection = connect(tenant)
    post_signed(delivery(connection["phone_number_id"], messages=[text_message(CUSTOMER, "Can I bring my dog?")]))
    run_queued(queued)
    graph.requests.clear()
    staff = staff_message_send(conversation=conversation_of(tenant), content="Yes, and we have water bowls.")
    for _ in range(2):  # a task delivered twice
        services.staff_message_deliver(business_id=tenant.business.pk, message_id=staff.pk)
    assert [(r["json"]["to"], r["json"]["text"]["body"]) for r in graph.requests] == [
        (CUSTOMER, "Yes, and we have water bowls.")]
    rival = make_tenant("Rival Noodles")
    assert services.staff_message_deliver(business_id=rival.business.pk, message_id=staff.pk) is None


# --------------------------------------------------------------------------- connection API


def test_connection_api_never_returns_the_token_and_stores_it_encrypted(graph):
    tenant = make_tenant("Golden Dragon")
    created = connect(tenant, phone_number_id="106540352242922", owner="+31687654321")
    assert set(created) == {"id", "assistant_id", "phone_number_id", "display_phone_number", "owner_whatsapp",
                            "created_at", "updated_at"}
    assert ACCESS_TOKEN not in json.dumps(created)
    listed = tenant.client().get("/api/v1/whatsapp/connections").json()
    assert [c["id"] for c in listed["results"]] == [created["id"]] and ACCESS_TOKEN not in json.dumps(listed)
    row = WhatsAppConnection.objects.for_business(tenant.business).get()
    assert ACCESS_TOKEN not in row.access_token_encrypted and token_decrypt(row.access_token_encrypted) == ACCESS_TOKEN
    patched = tenant.client().patch(f"/api/v1/whatsapp/connections/{created['id']}",
                                    {"access_token": "EAAG-rotated", "owner_whatsapp": ""}, format="json")
    assert patched.status_code == 200 and "EAAG" not in json.dumps(patched.json())
    row.refresh_from_db()
    assert token_decrypt(row.access_token_encrypted) == "EAAG-rotated" and row.owner_whatsapp == ""


def test_other_business_cannot_see_change_or_delete_a_connection(graph):
    tenant, rival = make_tenant("Golden Dragon"), make_tenant("Rival Noodles")
    created = connect(tenant)
    path = f"/api/v1/whatsapp/connections/{created['id']}"
    assert rival.client().get("/api/v1/whatsapp/connections").json()["results"] == []
    assert rival.client().get(path).status_code == 404
    assert rival.client().patch(path, {"owner_whatsapp": "+15550009999"}, format="json").status_code == 404
    assert rival.client().delete(path).status_code == 404
    # Nor connect a number to someone else's assistant.
    response = rival.client().post("/api/v1/whatsapp/connections", {
        "phone_number_id": "5550001", "assistant_id": str(tenant.assistant.pk), "access_token": "x"}, format="json")
    assert response.status_code == 404
    assert WhatsAppConnection.objects.for_business(tenant.business).count() == 1
    assert tenant.client().delete(path).status_code == 204
    assert not WhatsAppConnection.objects.for_business(tenant.business).exists()


def test_connection_api_needs_a_secret_key(graph, anon):
    tenant = make_tenant("Golden Dragon")
    assert anon.get("/api/v1/whatsapp/connections").status_code == 401
    assert anon.post("/api/v1/whatsapp/connections", {}, format="json").status_code == 401
    pk_client = tenant.client(tenant.publishable_key)
    assert pk_client.get("/api/v1/whatsapp/connections").status_code == 403
    response = pk_client.post("/api/v1/whatsapp/connections", {
        "phone_number_id": "5550001", "assistant_id": str(tenant.assistant.pk), "access_token": "x"}, format="json")
    assert response.status_code == 403


def test_phone_number_id_is_unique_across_businesses(graph):
    tenant, rival = make_tenant("Golden Dragon"), make_tenant("Rival Noodles")
    connect(tenant, phone_number_id="106540352242922")
    response = rival.client().post("/api/v1/whatsapp/connections", {
        "phone_number_id": "106540352242922", "assistant_id": str(rival.assistant.pk), "access_token": "x"},
        format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "whatsapp_number_taken"
    bad = tenant.client().post("/api/v1/whatsapp/connections", {
        "phone_number_id": "not-digits", "assistant_id": str(tenant.assistant.pk), "access_token": "x",
        "owner_whatsapp": "call me"}, format="json")
    assert bad.status_code == 400


# --------------------------------------------------------------------------- small parts


def test_asks_for_person_is_narrow():
    for text in ["Can I talk to a person?", "I want a human", "agent please", "转人工", "我要人工客服",
                 "¿Puedo hablar con una persona?", "Je veux parler à quelqu'un"]:
        assert asks_for_person(text), text
    for text in ["A table for one person tonight", "Is the mapo tofu spicy?", "Do you have staffing issues?",
                 "humanitarian aid"]:
        assert not asks_for_person(text), text


def test_next_opening_in_the_business_time_zone():
    week = {"tue": [["11:30", "14:30"], ["18:00", "22:30"]], "sat": [["18:00", "02:00"]]}
    tz = "Europe/Amsterdam"
    monday_noon = dt.datetime(2026, 3, 2, 11, 0, tzinfo=dt.UTC)  # 12:00 in Amsterdam, Monday: closed
    opening = hours.next_opening(week, tz, monday_noon)
    assert (opening.weekday(), opening.hour, opening.minute) == (1, 11, 30)
    assert hours.describe(opening, monday_noon) == "tomorrow at 11:30"
    assert hours.next_opening(week, tz, dt.datetime(2026, 3, 3, 12, 0, tzinfo=dt.UTC)) is None  # Tue 13:00
    between = hours.next_opening(week, tz, dt.datetime(2026, 3, 3, 15, 0, tzinfo=dt.UTC))  # Tue 16:00
    assert hours.describe(between, dt.datetime(2026, 3, 3, 15, 0, tzinfo=dt.UTC)) == "today at 18:00"
    assert hours.next_opening(week, tz, dt.datetime(2026, 3, 8, 0, 30, tzinfo=dt.UTC)) is None  # Sun 01:30
    wednesday = dt.datetime(2026, 3, 4, 12, 0, tzinfo=dt.UTC)
    assert hours.describe(hours.next_opening(week, tz, wednesday), wednesday) == "Saturday at 18:00"
    assert hours.next_opening({}, tz, wednesday) is None  # hours unknown: never "closed"


def test_missing_webhooks_module_is_skipped(monkeypatch):
    monkeypatch.setitem(sys.modules, "businesses.webhooks.services", None)
    services.event_emit(business_id=uuid.uuid4(), type="conversation.handoff", data={})  # no error


# --------------------------------------------------------------------------- a real worker


@pytest.mark.worker
def test_real_worker_answers_on_the_channels_queue(graph, shared_worker):
    tenant = restaurant()
    connection = connect(tenant)
    shared_worker.stop()  # this test needs a worker that knows the loopback Graph API
    worker = start_worker("whatsapp-worker", WHATSAPP_GRAPH_BASE_URL=graph.url, WHATSAPP_APP_SECRET=APP_SECRET,
                          WHATSAPP_SEND_BACKOFF="0.01")
    try:
        post_signed(delivery(connection["phone_number_id"], messages=[text_message(CUSTOMER, "Can I bring my dog?")]))
        deadline = time.monotonic() + 90
        while not graph.requests and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.2)
    finally:
        stop_worker(worker)
    [request] = graph.requests
    assert request["json"]["to"] == CUSTOMER and "terrace" in request["json"]["text"]["body"]
    assert WhatsAppInbound.objects.for_business(tenant.business).get().status == "processed"


def test_staff_message_on_a_whatsapp_conversation_queues_its_delivery(graph, queued, monkeypatch,
                                                                      django_capture_on_commit_callbacks):
    from assistants.channels.whatsapp.tasks import channel_whatsapp_staff_task

    sent: list[tuple] = []
    monkeypatch.setattr(channel_whatsapp_staff_task, "delay", lambda *args: sent.append(args))
    tenant = restaurant()
    connection = connect(tenant)
    post_signed(delivery(connection["phone_number_id"], messages=[text_message(CUSTOMER, "Can I bring my dog?")]))
    run_queued(queued)
    with django_capture_on_commit_callbacks(execute=True):
        staff = staff_message_send(conversation=conversation_of(tenant), content="Yes, on the terrace.")
    assert sent == [(str(tenant.business.pk), str(staff.pk))]


# --------------------------------------------------------------------------- web widget and API handoffs


@pytest.fixture
def alerts(monkeypatch) -> list[tuple]:
    """The owner-alert tasks the channel's handoff receiver queues (after commit), to run by hand."""
    from django.db import transaction

    calls: list[tuple] = []

    def record(task, *args):
        transaction.on_commit(lambda: calls.append((task, args)))

    monkeypatch.setattr(receivers, "enqueue_on_commit", record)
    return calls


def run_alerts(alerts: list[tuple]) -> None:
    while alerts:
        task, args = alerts.pop(0)
        assert task.name == "assistants.tasks.channel_whatsapp_owner_alert_task"
        task(*args)


def widget_start(tenant, client: Client, *, secret: bool = False) -> tuple[str, dict]:
    """A conversation as the widget (publishable key) or an API integration (secret key) starts it."""
    key = tenant.secret_key if secret else tenant.publishable_key
    response = client.post(f"/api/v1/assistants/{tenant.assistant.pk}/conversations", {},
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 201, response.content
    body = response.json()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    if not secret:
        headers["HTTP_X_CUSTOMER_TOKEN"] = body["customer_token"]
    return body["id"], headers


def widget_send(client: Client, cid: str, headers: dict, content: str) -> dict:
    response = client.post(f"/api/v1/conversations/{cid}/messages", {"content": content},
                           content_type="application/json", **headers)
    assert response.status_code == 201, response.content
    return response.json()


def widget_messages(client: Client, cid: str, headers: dict) -> list[dict]:
    response = client.get(f"/api/v1/conversations/{cid}/messages", **headers)
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.mark.parametrize("secret", [False, True], ids=["widget", "api"])
def test_widget_or_api_customer_asking_for_a_person_reaches_the_owner_and_gets_the_reply(graph, queued, events,
                                                                                         alerts, secret):
    tenant = restaurant()
    connection = connect(tenant, owner=OWNER)
    client = Client()
    cid, headers = widget_start(tenant, client, secret=secret)
    question = "Can I talk to a person please? We are 12 for Saturday."
    sent = widget_send(client, cid, headers, question)
    assert sent["answer"] is None  # not answered by the assistant
    conversation = Conversation.objects.for_business(tenant.business).get(pk=cid)
    assert conversation.channel == ("api" if secret else "widget")
    assert conversation.state == "handoff" and conversation.metadata["handoff_reason"] == "customer_request"
    handoffs = [e for e in events if e["type"] == "conversation.handoff"]
    assert len(handoffs) == 1 and handoffs[0]["data"]["conversation_id"] == cid
    assert handoffs[0]["data"]["last_customer_message"] == question
    listed = widget_messages(client, cid, headers)
    assert [m["role"] for m in listed] == ["customer", "system"]
    assert "asked someone from Golden Dragon to reply" in listed[1]["content"]
    assert graph.requests == []  # the request never waits on the Graph API

    run_alerts(alerts)
    [to_owner] = graph.requests
    alert = WhatsAppOutbound.objects.for_business(tenant.business).get(purpose="owner_alert")
    code = alert.handoff_code
    assert to_owner["json"]["to"] == OWNER and alert.conversation_id == conversation.pk and len(code) == 4
    body = to_owner["json"]["text"]["body"]
    assert body.startswith(f"#{code} ") and "needs a person" in body and question in body

    # The owner replies from their WhatsApp, quoting the code.
    graph.requests.clear()
    post_signed(delivery(connection["phone_number_id"],
                         messages=[text_message(OWNER, f"#{code} Yes! A table for 12 at 19:00.")], name="Owner"))
    run_queued(queued)
    listed = widget_messages(client, cid, headers)
    assert [m["role"] for m in listed] == ["customer", "system", "staff"]
    assert listed[-1]["content"] == "Yes! A table for 12 at 19:00."
    assert graph.requests == []  # nothing goes to the customer's external_id over WhatsApp
    assert not WhatsAppOutbound.objects.for_business(tenant.business).filter(purpose="staff").exists()
    # Or by replying to the alert itself.
    post_signed(delivery(connection["phone_number_id"],
                         messages=[text_message(OWNER, "Parking is free behind us.", context_id=alert.wa_message_id)]))
    run_queued(queued)
    assert widget_messages(client, cid, headers)[-1]["content"] == "Parking is free behind us."
    assert graph.requests == []
    conversation.refresh_from_db()
    assert conversation.state == "handoff"


def test_widget_question_the_knowledge_cannot_answer_goes_to_a_person(graph, events, alerts):
    tenant = restaurant()
    connect(tenant, owner=OWNER)
    client = Client()
    cid, headers = widget_start(tenant, client)
    sent = widget_send(client, cid, headers, "Who won the football world cup in 1954?")
    assert sent["answer"]["citations"] == [] and "don't have that information" in sent["answer"]["content"]
    conversation = Conversation.objects.for_business(tenant.business).get(pk=cid)
    assert conversation.state == "handoff" and conversation.metadata["handoff_reason"] == "no_answer"
    assert [m["role"] for m in widget_messages(client, cid, headers)] == ["customer", "assistant", "system"]
    assert len([e for e in events if e["type"] == "conversation.handoff"]) == 1
    run_alerts(alerts)
    [to_owner] = graph.to(OWNER)
    assert "football world cup" in to_owner["json"]["text"]["body"]
    # In handoff the assistant stays silent: no second alert, no second notice.
    assert widget_send(client, cid, headers, "Hello?")["answer"] is None
    assert alerts == [] and len(graph.requests) == 1


def test_widget_handoff_out_of_hours_says_when_someone_will_reply(graph, alerts):
    tenant = restaurant()
    today = dt.datetime.now(dt.UTC).weekday()
    tenant.assistant.business_hours = {hours.DAYS[(today + 2) % 7]: [["09:00", "17:00"]]}
    tenant.assistant.save()
    connect(tenant, owner=OWNER)
    client = Client()
    cid, headers = widget_start(tenant, client)
    response = client.post(f"/api/v1/conversations/{cid}/handoff", **headers)  # the widget's button
    assert response.status_code == 200 and response.json()["state"] == "handoff"
    [notice] = widget_messages(client, cid, headers)
    assert notice["role"] == "system"
    assert "closed right now" in notice["content"] and "at 09:00" in notice["content"]
    run_alerts(alerts)
    [to_owner] = graph.to(OWNER)
    assert "Talk to a person" in to_owner["json"]["text"]["body"]  # no message yet: the button


def test_widget_handoff_without_an_owner_number_still_hands_off_and_emits_the_event(graph, events, alerts):
    tenant = restaurant()
    connect(tenant)  # WhatsApp connected, but no owner number
    client = Client()
    cid, headers = widget_start(tenant, client, secret=True)
    assert widget_send(client, cid, headers, "I need a human")["answer"] is None
    assert Conversation.objects.for_business(tenant.business).get(pk=cid).state == "handoff"
    assert [e["data"]["conversation_id"] for e in events if e["type"] == "conversation.handoff"] == [cid]
    assert [m["role"] for m in widget_messages(client, cid, headers)] == ["customer", "system"]
    assert alerts == [] and graph.requests == []


def test_owner_alert_uses_any_connection_with_an_owner_and_is_sent_once(graph, alerts):
    tenant = restaurant()
    other = tenant.client().post("/api/v1/assistants", {"name": "Bar"}, format="json")
    assert other.status_code == 201, other.content
    # The only owner number is on a connection of another assistant of the business.
    response = tenant.client().post("/api/v1/whatsapp/connections", {
        "phone_number_id": "106540352242999", "assistant_id": other.json()["id"], "access_token": ACCESS_TOKEN,
        "owner_whatsapp": OWNER}, format="json")
    assert response.status_code == 201, response.content
    client = Client()
    cid, headers = widget_start(tenant, client)
    widget_send(client, cid, headers, "Can I speak to the manager?")
    [(task, args)] = alerts
    for _ in range(2):  # a task delivered twice
        task(*args)
    assert len(graph.to(OWNER)) == 1
    assert WhatsAppOutbound.objects.for_business(tenant.business).filter(purpose="owner_alert").count() == 1
    # Another business's task arguments reach nothing.
    rival = make_tenant("Rival Noodles")
    assert services.owner_alert_send(business_id=rival.business.pk, conversation_id=args[1],
                                     notice_id=args[2]) is None
