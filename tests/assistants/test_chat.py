"""Conversations through the real ASGI app (uvicorn in-process), with the extractive
backend (no INFERENCE_BASE_URL). Model-server paths: test_chat_inference.py."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from assistants.models import Conversation, Message
from tests.assistants import kb
from tests.assistants.conftest import add_source, upload
from tests.conftest import make_tenant

pytestmark = pytest.mark.django_db(transaction=True)


def _h(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


def _restaurant():
    tenant = make_tenant("Golden Dragon")
    add_source(tenant, kind="file", title="Menu", file=upload("menu.csv", kb.MENU_CSV.encode(), "text/csv"))
    add_source(tenant, kind="faq", title="FAQ", pairs=kb.RESTAURANT_FAQ)
    add_source(tenant, kind="text", title="About us", text=kb.RESTAURANT_TEXT)
    return tenant


def _start(live, tenant, key=None) -> dict:
    response = httpx.post(f"{live.url}/api/v1/assistants/{tenant.assistant.pk}/conversations", json={},
                          headers=_h(key or tenant.secret_key))
    assert response.status_code == 201, response.text
    return response.json()


def _send(live, key, conversation_id, content, **headers) -> httpx.Response:
    return httpx.post(f"{live.url}/api/v1/conversations/{conversation_id}/messages", json={"content": content},
                      headers=_h(key, **headers), timeout=30)


def _events(response: httpx.Response) -> list[tuple[str, dict]]:
    events, name = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[6:])))
    return events


def test_answer_with_citations_from_the_extractive_backend(live_api):
    tenant = _restaurant()
    conversation = _start(live_api, tenant)
    assert "customer_token" not in conversation and conversation["state"] == "bot"
    for question, phrase, title, backend, grounding in [
            ("How much is the mapo tofu?", "12.50", "Menu", "composed", "catalog"),  # the typed catalog
            ("Can I bring my dog?", "terrace", "FAQ", "extractive", "passages"),
            ("你们有素食菜吗？", "素食", "About us", "extractive", "passages")]:
        response = _send(live_api, tenant.secret_key, conversation["id"], question)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["message"]["role"] == "customer" and body["message"]["content"] == question
        answer = body["answer"]
        assert answer["role"] == "assistant" and answer["status"] == "complete"
        assert (answer["backend"], answer["grounding"]) == (backend, grounding), answer
        assert phrase in answer["content"]
        assert answer["citations"] and title in {c["source_title"] for c in answer["citations"]}
        assert set(answer["usage"]) == {"prompt_tokens", "completion_tokens"}
    listed = httpx.get(f"{live_api.url}/api/v1/conversations/{conversation['id']}/messages",
                       headers=_h(tenant.secret_key)).json()["results"]
    assert [m["role"] for m in listed] == ["customer", "assistant"] * 3


def test_unknown_answer_is_honest_and_cites_nothing(live_api):
    tenant = _restaurant()
    conversation = _start(live_api, tenant)
    answer = _send(live_api, tenant.secret_key, conversation["id"], "Who won the football world cup in 1954?")
    body = answer.json()["answer"]
    assert body["status"] == "complete" and body["citations"] == []
    assert "don't have that information" in body["content"]
    # Nothing to cite: a person takes over, and the customer is told so.
    assert Conversation.objects.for_business(tenant.business).get(pk=conversation["id"]).state == "handoff"
    listed = httpx.get(f"{live_api.url}/api/v1/conversations/{conversation['id']}/messages",
                       headers=_h(tenant.secret_key)).json()["results"]
    assert [m["role"] for m in listed] == ["customer", "assistant", "system"]
    assert "asked someone from Golden Dragon to reply" in listed[-1]["content"]


def test_streaming_sends_deltas_then_done_with_the_saved_message(live_api):
    tenant = _restaurant()
    conversation = _start(live_api, tenant)
    with httpx.stream("POST", f"{live_api.url}/api/v1/conversations/{conversation['id']}/messages",
                      json={"content": "Which dishes contain peanuts?"},
                      headers=_h(tenant.secret_key, Accept="text/event-stream"), timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-accel-buffering"] == "no"
        events = _events(response)
    names = [name for name, _ in events]
    assert names[-1] == "done" and names.count("delta") >= 1 and set(names[:-1]) == {"delta"}
    done = events[-1][1]
    streamed = "".join(data["text"] for name, data in events if name == "delta")
    saved = Message.objects.for_business(tenant.business).get(pk=done["answer"]["id"])
    assert saved.content == streamed == done["answer"]["content"]
    assert streamed.startswith("Our dishes with peanuts: Kung Pao chicken (14.00) and Dan dan noodles (11.00).")
    # The passages of the two dishes (the rice, without allergen data, is counted, not named).
    assert saved.grounding == "catalog" and len(saved.citations) == 2


def test_idempotency_key_returns_the_first_answer_without_a_second_message(live_api):
    tenant = _restaurant()
    conversation = _start(live_api, tenant)
    key = str(uuid.uuid4())
    first = _send(live_api, tenant.secret_key, conversation["id"], "Do you deliver?", **{"Idempotency-Key": key})
    again = _send(live_api, tenant.secret_key, conversation["id"], "Do you deliver?", **{"Idempotency-Key": key})
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["answer"]["id"] == again.json()["answer"]["id"]
    assert first.json()["message"]["id"] == again.json()["message"]["id"]
    assert Message.objects.for_business(tenant.business).filter(role="customer").count() == 1
    reused = _send(live_api, tenant.secret_key, conversation["id"], "Something else", **{"Idempotency-Key": key})
    assert reused.status_code == 422 and reused.json()["error"]["code"] == "idempotency_key_reused"


def test_handoff_silences_the_assistant_and_staff_replies_reach_the_customer(live_api):
    tenant = _restaurant()
    conversation = _start(live_api, tenant, key=tenant.publishable_key)
    token = conversation["customer_token"]
    cid = conversation["id"]
    sk = _h(tenant.secret_key)
    handed = httpx.post(f"{live_api.url}/api/v1/conversations/{cid}/handoff", headers=sk)
    assert handed.status_code == 200 and handed.json()["state"] == "handoff"
    inbox = httpx.get(f"{live_api.url}/api/v1/conversations?state=handoff", headers=sk).json()["results"]
    assert [c["id"] for c in inbox] == [cid]

    silent = _send(live_api, tenant.publishable_key, cid, "Can I bring my dog?", **{"X-Customer-Token": token})
    assert silent.status_code == 201 and silent.json()["answer"] is None
    staff = httpx.post(f"{live_api.url}/api/v1/conversations/{cid}/messages",
                       json={"content": "Hi, Li Wei here — yes, on the terrace!", "role": "staff"}, headers=sk)
    assert staff.status_code == 201 and staff.json()["message"]["role"] == "staff"
    seen = httpx.get(f"{live_api.url}/api/v1/conversations/{cid}/messages",
                     headers=_h(tenant.publishable_key, **{"X-Customer-Token": token})).json()["results"]
    assert [m["role"] for m in seen] == ["system", "customer", "staff"]  # the handoff notice first
    assert seen[-1]["content"].startswith("Hi, Li Wei")

    released = httpx.post(f"{live_api.url}/api/v1/conversations/{cid}/release", headers=sk)
    assert released.json()["state"] == "bot"
    answered = _send(live_api, tenant.publishable_key, cid, "Do you have parking?", **{"X-Customer-Token": token})
    assert answered.json()["answer"]["status"] == "complete"
    closed = httpx.post(f"{live_api.url}/api/v1/conversations/{cid}/close", headers=sk)
    assert closed.json()["state"] == "closed"
    after = _send(live_api, tenant.publishable_key, cid, "Hello?", **{"X-Customer-Token": token})
    assert after.status_code == 409 and after.json()["error"]["code"] == "conversation_closed"


def test_publishable_key_and_customer_token_scoping(live_api):
    tenant = _restaurant()
    other = make_tenant("Rival Noodles")
    mine = _start(live_api, tenant, key=tenant.publishable_key)
    second = _start(live_api, tenant, key=tenant.publishable_key)
    theirs = _start(live_api, other, key=other.publishable_key)
    url = f"{live_api.url}/api/v1/conversations/{mine['id']}/messages"
    pk = tenant.publishable_key
    # No token, a wrong token, another conversation's token: all 404, nothing stored.
    for headers in ({}, {"X-Customer-Token": "ct_wrong"}, {"X-Customer-Token": second["customer_token"]}):
        response = httpx.post(url, json={"content": "hi"}, headers=_h(pk, **headers))
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
        assert httpx.get(url, headers=_h(pk, **headers)).status_code == 404
    # Business B's publishable key (even with B's valid token) cannot touch A's conversation.
    cross = httpx.post(url, json={"content": "hi"},
                       headers=_h(other.publishable_key, **{"X-Customer-Token": theirs["customer_token"]}))
    assert cross.status_code == 404
    # Nor can B's secret key; nor start one on A's assistant.
    assert httpx.get(url, headers=_h(other.secret_key)).status_code == 404
    assert httpx.post(f"{live_api.url}/api/v1/assistants/{tenant.assistant.pk}/conversations", json={},
                      headers=_h(other.publishable_key)).status_code == 404
    assert not Message.objects.for_business(tenant.business).exists()
    # A publishable key cannot read the inbox, take over or send as staff.
    assert httpx.get(f"{live_api.url}/api/v1/conversations", headers=_h(pk)).status_code == 403
    assert httpx.post(f"{live_api.url}/api/v1/conversations/{mine['id']}/handoff", headers=_h(pk)).status_code == 403
    staff = httpx.post(url, json={"content": "x", "role": "staff"},
                       headers=_h(pk, **{"X-Customer-Token": mine["customer_token"]}))
    assert staff.status_code == 403
    # The right token works.
    ok = httpx.post(url, json={"content": "Do you have parking?"},
                    headers=_h(pk, **{"X-Customer-Token": mine["customer_token"]}), timeout=30)
    assert ok.status_code == 201


def test_other_business_cannot_manage_my_conversations(live_api):
    tenant = _restaurant()
    rival = make_tenant("Rival Noodles")
    cid = _start(live_api, tenant)["id"]
    for method, path in [("get", f"/api/v1/conversations/{cid}"), ("post", f"/api/v1/conversations/{cid}/handoff"),
                         ("post", f"/api/v1/conversations/{cid}/release"),
                         ("post", f"/api/v1/conversations/{cid}/close")]:
        response = getattr(httpx, method)(live_api.url + path, headers=_h(rival.secret_key))
        assert response.status_code == 404, path
    assert httpx.get(f"{live_api.url}/api/v1/conversations", headers=_h(rival.secret_key)).json()["results"] == []
    assert Conversation.objects.for_business(tenant.business).get(pk=cid).state == "bot"


@pytest.mark.parametrize(("body", "status"), [
    ('{"content": ""}', 400), ('{"content": 42}', 400), ('{"content": "x", "extra": 1}', 400),
    ('{"content": "x", "role": "assistant"}', 400), ("[1, 2]", 400), ("{not json", 400),
    ('{"content": "' + "x" * 9000 + '"}', 400), ('{"content": "nul \\u0000 byte"}', 400),
])
def test_bad_message_bodies(live_api, body, status):
    tenant = make_tenant()
    cid = _start(live_api, tenant)["id"]
    response = httpx.post(f"{live_api.url}/api/v1/conversations/{cid}/messages", content=body,
                          headers=_h(tenant.secret_key, **{"Content-Type": "application/json"}))
    assert response.status_code == status, response.text
    assert "error" in response.json()
    assert not Message.objects.for_business(tenant.business).exists()


def test_message_endpoint_errors_use_the_error_shape(live_api):
    tenant = make_tenant()
    cid = _start(live_api, tenant)["id"]
    url = f"{live_api.url}/api/v1/conversations/{cid}/messages"
    assert httpx.post(url, json={"content": "x"}).json()["error"]["code"] == "unauthenticated"
    assert httpx.post(url, json={"content": "x"}, headers=_h("sk_nope-nope-nope")).status_code == 401
    wrong = httpx.put(url, json={"content": "x"}, headers=_h(tenant.secret_key))
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"
    form = httpx.post(url, data={"content": "x"}, headers=_h(tenant.secret_key))
    assert form.status_code == 415
    huge = httpx.post(url, content=b'{"content": "' + b"x" * (10 * 1024 * 1024) + b'"}',
                      headers=_h(tenant.secret_key, **{"Content-Type": "application/json"}))
    assert huge.status_code == 413
    missing = httpx.post(f"{live_api.url}/api/v1/conversations/{uuid.uuid4()}/messages", json={"content": "x"},
                         headers=_h(tenant.secret_key))
    assert missing.status_code == 404


def test_async_endpoints_skip_the_browser_middleware_and_sync_views_run_it(live_api):
    """Django's own middleware runs on the sync views only (config/middleware.py): the async chat
    views' chain is the project's metrics, widget CORS and security headers, no session or CSRF cookies; a sync page
    (the admin's login) gets the whole chain."""
    from config.asgi import django_asgi

    tenant = make_tenant("Golden Dragon")
    conversation = _start(live_api, tenant)
    response = _send(live_api, tenant.secret_key, conversation["id"], "Hello?")
    assert response.status_code == 201, response.text
    assert "set-cookie" not in response.headers
    chain, handler = [], django_asgi._middleware_chain
    while hasattr(handler, "__wrapped__"):  # convert_exception_to_response(middleware)
        middleware = handler.__wrapped__
        if not hasattr(middleware, "get_response"):
            break
        chain.append(f"{type(middleware).__module__}.{type(middleware).__name__}")
        handler = middleware.get_response
    assert chain == ["config.metrics.MetricsMiddleware", "assistants.channels.cors.WidgetCorsMiddleware",
                     "config.security.SecurityHeadersMiddleware"]  # async capable: no thread hop
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    listed = httpx.get(f"{live_api.url}/api/v1/conversations/{conversation['id']}",
                       headers=_h(tenant.secret_key))  # a sync view
    assert listed.status_code == 200 and listed.headers["X-Frame-Options"] == "DENY"
    assert listed.headers["X-Content-Type-Options"] == "nosniff"
    login = httpx.get(live_api.url + "/admin/login/")
    assert login.status_code == 200 and "csrftoken" in login.cookies


def test_async_requests_hop_threads_only_for_django_signals(live_api, monkeypatch):
    """Under Django's ASGI handler each hook of a sync middleware runs through
    ``sync_to_async(thread_sensitive=True)``: a hop to the request's own thread, twice per
    middleware. The API chain leaves only Django's request_started/request_finished signals."""
    from asgiref.sync import SyncToAsync

    tenant = make_tenant("Golden Dragon")
    conversation = _start(live_api, tenant)
    assert _send(live_api, tenant.secret_key, conversation["id"], "Hello?").status_code == 201
    hops = []
    original = SyncToAsync.__call__

    def counting_call(self, *args, **kwargs):
        if self._thread_sensitive:
            hops.append(getattr(self.func, "__qualname__", repr(self.func)))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counting_call)
    for _ in range(5):
        response = _send(live_api, tenant.secret_key, conversation["id"], "Hello?", Accept="text/event-stream")
        assert response.status_code == 200 and _events(response)[-1][0] == "done"
    # request_started is sent before the response, so exactly once per request here; the
    # request_finished hop runs in the response's close(), after the client has the body, so the
    # warm-up request's close may land inside the window and the last request's after it.
    started, finished = "Signal.asend.<locals>.sync_send", "HttpResponseBase.close"
    assert set(hops) <= {started, finished}, hops
    assert hops.count(started) == 5 and 4 <= hops.count(finished) <= 6, hops


def test_a_second_answer_to_one_message_is_409_and_gives_the_allowance_back():
    """A retry that races the first request to create the answer (same customer message) gets
    409 answer_in_progress, never a 500, and does not use a second message of the plan."""
    from assistants.chat import services as chat
    from billing.models import UsagePeriod
    from businesses.authentication import api_key_resolve
    from config.errors import ApplicationError

    tenant = make_tenant("Golden Dragon")
    conversation, _ = chat.conversation_start(assistant=tenant.assistant, key=api_key_resolve(tenant.secret_key))
    sent = chat.message_send(conversation=conversation, content="Hello?", idempotency_key="k1")
    chat.answer_prepare(conversation=sent.conversation, customer=sent.customer, first_answer=True)
    used = UsagePeriod.objects.for_business(tenant.business).get().messages_used
    with pytest.raises(ApplicationError) as info:
        chat.answer_prepare(conversation=sent.conversation, customer=sent.customer, first_answer=True)
    assert (info.value.code, info.value.status) == ("answer_in_progress", 409)
    assert UsagePeriod.objects.for_business(tenant.business).get().messages_used == used
    assert Message.objects.for_business(tenant.business).filter(role="assistant").count() == 1


def test_the_inbox_filters_on_what_the_answers_rested_on(live_api):
    tenant = _restaurant()
    answered, unanswered = _start(live_api, tenant), _start(live_api, tenant)
    first = _send(live_api, tenant.secret_key, answered["id"], "Can I bring my dog?").json()["answer"]
    assert first["grounding"] == "passages" and first["citations"]
    second = _send(live_api, tenant.secret_key, unanswered["id"], "Do you sell flowers for weddings?").json()["answer"]
    assert second["grounding"] == "none" and second["citations"] == []
    assert second["content"].startswith("I'm sorry, I don't have that information.")
    sk = _h(tenant.secret_key)
    inbox = lambda query: [c["id"] for c in httpx.get(  # noqa: E731
        f"{live_api.url}/api/v1/conversations?{query}", headers=sk).json()["results"]]
    assert inbox("grounding=none") == [unanswered["id"]]
    assert inbox("grounding=passages") == [answered["id"]]
    assert inbox("grounding=none&state=handoff") == [unanswered["id"]]  # the handoff answer hands over
    assert inbox("grounding=catalog") == []
    bad = httpx.get(f"{live_api.url}/api/v1/conversations?grounding=maybe", headers=sk)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_error"
    other = make_tenant("Blue Lotus")
    assert httpx.get(f"{live_api.url}/api/v1/conversations?grounding=none",
                     headers=_h(other.secret_key)).json()["results"] == []


def test_opening_hours_with_exceptions_are_answered_from_the_structured_hours(live_api):
    tenant = _restaurant()
    assistant = tenant.assistant
    assistant.business_hours = {d: [["11:30", "14:30"], ["18:00", "22:30"]] for d in
                                ("tue", "wed", "thu", "fri", "sat", "sun")}
    assistant.hours_exceptions = [{"date": "2030-12-25", "closed": True, "note": "Christmas"}]
    assistant.save(update_fields=["business_hours", "hours_exceptions"])
    conversation = _start(live_api, tenant)
    for question, expected in [("Are you open on Monday?", "No, we're closed on Monday."),
                               ("Are you open on 2030-12-25?", "closed"),
                               ("周一营业吗？", "不营业")]:
        answer = _send(live_api, tenant.secret_key, conversation["id"], question).json()["answer"]
        assert answer["grounding"] == "hours" and answer["backend"] == "composed", answer
        if expected:
            assert expected in answer["content"], answer["content"]
