"""Fair sharing of the model servers through the real web server (docs/chat.md "Fair sharing"):
the plan's cap on answers in flight across two web processes, the ``queued`` event, a queued
request whose client leaves, the bounded queue wait, and the per-minute message limits (429)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from assistants.models import Message
from billing.models import Plan, Subscription
from tests.assistants import kb
from tests.assistants.conftest import add_source
from tests.conftest import gunicorn_server, make_tenant
from tests.inference.misbehaving_server import misbehaving_server

pytestmark = pytest.mark.django_db(transaction=True)

GROUNDED_REPLY = ("Yes, dogs are welcome on our terrace [1]. They are not allowed inside the dining room [1]. "
                  "We keep water bowls outside [1]. Please keep your dog on a lead [1]. See you soon!")


def _tenant(name="Golden Dragon", **plan_values):
    tenant = make_tenant(name)
    add_source(tenant, kind="faq", title="FAQ", pairs=kb.RESTAURANT_FAQ)
    if plan_values:
        plan = Plan.objects.create(code=f"test-{uuid.uuid4().hex[:8]}", name="Test", messages_per_month=100_000,
                                   max_assistants=10, max_sources=100, max_knowledge_bytes=10**9, **plan_values)
        Subscription.objects.for_business(tenant.business).update(plan=plan)
    return tenant


def _h(tenant, **extra):
    return {"Authorization": f"Bearer {tenant.secret_key}", **extra}


def _conversation(base, tenant, **body) -> str:
    response = httpx.post(f"{base}/api/v1/assistants/{tenant.assistant.pk}/conversations", json=body,
                          headers=_h(tenant))
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _send(base, tenant, cid, content="Can I bring my dog?", **headers):
    return httpx.post(f"{base}/api/v1/conversations/{cid}/messages", json={"content": content},
                      headers=_h(tenant, **headers), timeout=60)


def _wait_for(condition, seconds=20.0):
    """Poll ``condition`` until it holds (bounded: a broken flow fails instead of hanging)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("condition not reached")


@pytest.fixture
def inference(settings):
    def use(base_url: str, **overrides):
        settings.INFERENCE_BASE_URL = [base_url]
        settings.INFERENCE_MODEL = "test-model"
        settings.INFERENCE_READ_TIMEOUT = 10.0
        settings.INFERENCE_TOTAL_TIMEOUT = 30.0
        for name, value in overrides.items():
            setattr(settings, name, value)

    return use


def _streaming(base, tenant, cid, *, key=None, on_event=None) -> list[tuple[str, dict]]:
    """POST a message with Accept: text/event-stream; the (event, data) pairs. ``on_event`` may
    return True to stop reading (the client goes away)."""
    events: list[tuple[str, dict]] = []
    headers = _h(tenant, Accept="text/event-stream", **({"Idempotency-Key": key} if key else {}))
    with httpx.stream("POST", f"{base}/api/v1/conversations/{cid}/messages", json={"content": "Can I bring my dog?"},
                      headers=headers, timeout=60) as response:
        assert response.status_code == 200, response.read()
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
                if on_event is not None and on_event(name):
                    break
    return events


def test_business_cap_holds_across_two_web_processes():
    """Plan: 2 answers in flight. Eight messages at once, four to each of two gunicorn servers:
    the model server never has more than two of this business's streams at once."""
    tenant = _tenant(answers_in_flight=2, messages_per_minute=1000)
    with misbehaving_server(reply=GROUNDED_REPLY, tokens_per_second=40) as srv:
        env = {"INFERENCE_BASE_URL": srv.base_url, "INFERENCE_MODEL": "test-model", "INFERENCE_READ_TIMEOUT": "10",
               "INFERENCE_QUEUE_TIMEOUT": "60", "RATELIMIT_ENABLED": "true"}
        with gunicorn_server(**env) as first, gunicorn_server(**env) as second:
            bases = [first, second] * 4
            cids = [_conversation(base, tenant) for base in bases]
            with ThreadPoolExecutor(8) as pool:
                responses = list(pool.map(lambda pair: _send(pair[0], tenant, pair[1]),
                                          zip(bases, cids, strict=True)))
    assert [r.status_code for r in responses] == [201] * 8, [r.text for r in responses if r.status_code != 201]
    assert all(r.json()["answer"]["status"] == "complete" for r in responses)
    assert srv.requests == 8
    assert srv.max_in_flight == 2


def test_a_request_that_waits_gets_a_queued_event_at_once(live_api, inference):
    """The model servers are full (capacity 1, held by another business): the stream opens with
    ``queued`` and, when the place frees, the answer follows."""
    busy, waiting = _tenant("Busy Bistro"), _tenant("Quiet Cafe")
    with misbehaving_server(reply=GROUNDED_REPLY, tokens_per_second=10) as srv:
        inference(srv.base_url, INFERENCE_REPLICA_CAPACITY=1)
        holder = threading.Thread(target=_send, args=(live_api.url, busy, _conversation(live_api.url, busy)))
        holder.start()
        _wait_for(lambda: srv.in_flight == 1)
        events = _streaming(live_api.url, waiting, _conversation(live_api.url, waiting))
        holder.join()
    assert events[0] == ("queued", {"position": 1})
    names = [name for name, _ in events]
    assert names[-1] == "done" and "delta" in names
    assert all(name == "queued" for name in names[: names.index("delta")])
    assert events[-1][1]["answer"]["status"] == "complete"


def test_a_queued_request_whose_client_leaves_frees_its_place_and_fails(live_api, inference):
    busy, leaving = _tenant("Busy Bistro"), _tenant("Quiet Cafe")
    with misbehaving_server(reply=GROUNDED_REPLY, tokens_per_second=10) as srv:
        inference(srv.base_url, INFERENCE_REPLICA_CAPACITY=1)
        holder = threading.Thread(target=_send, args=(live_api.url, busy, _conversation(live_api.url, busy)))
        holder.start()
        _wait_for(lambda: srv.in_flight == 1)
        cid, key = _conversation(live_api.url, leaving), str(uuid.uuid4())
        events = _streaming(live_api.url, leaving, cid, key=key, on_event=lambda name: name == "queued")
        assert events == [("queued", {"position": 1})]  # then the customer closes the tab

        def failed():
            answer = Message.objects.for_business(leaving.business).filter(role="assistant").first()
            return answer if answer is not None and answer.status != "pending" else None

        answer = _wait_for(failed)
        assert answer.status == "failed" and answer.error.startswith("abandoned")
        holder.join()
        assert srv.requests == 1  # the abandoned answer never reached the model server
        # The customer message is kept: a retry with the same Idempotency-Key answers it.
        retry = _send(live_api.url, leaving, cid, **{"Idempotency-Key": key})
        assert retry.status_code == 200 and retry.json()["answer"]["status"] == "complete"
    assert [m.role for m in Message.objects.for_business(leaving.business).order_by("created_at")] == [
        "customer", "assistant"]


def test_a_queue_wait_past_the_timeout_fails_the_answer(live_api, inference):
    busy, waiting = _tenant("Busy Bistro"), _tenant("Quiet Cafe")
    with misbehaving_server(reply=GROUNDED_REPLY, tokens_per_second=5) as srv:
        inference(srv.base_url, INFERENCE_REPLICA_CAPACITY=1, INFERENCE_QUEUE_TIMEOUT=0.5)
        holder = threading.Thread(target=_send, args=(live_api.url, busy, _conversation(live_api.url, busy)))
        holder.start()
        _wait_for(lambda: srv.in_flight == 1)
        response = _send(live_api.url, waiting, _conversation(live_api.url, waiting))
        holder.join()
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.json()["error"]["details"]["reason"] == "inference_queue_timeout"
    answer = Message.objects.for_business(waiting.business).get(role="assistant")
    assert answer.status == "failed" and answer.error.startswith("inference_queue_timeout")


def test_vllm_gets_the_plans_priority_only_when_it_schedules_by_priority(live_api, inference):
    tenant = _tenant(inference_priority=3)
    with misbehaving_server(reply=GROUNDED_REPLY) as srv:
        inference(srv.base_url)
        assert _send(live_api.url, tenant, _conversation(live_api.url, tenant)).status_code == 201
        inference(srv.base_url, INFERENCE_PRIORITY_SCHEDULING=True)
        assert _send(live_api.url, tenant, _conversation(live_api.url, tenant)).status_code == 201
    assert "priority" not in srv.bodies[0] and srv.bodies[1]["priority"] == 3


# --------------------------------------------------------------------------- per-minute limits


def _assert_rate_limited(response):
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "rate_limited" and set(error) == {"code", "message", "details"}
    assert int(response.headers["Retry-After"]) >= 1
    assert error["details"]["retry_after"] == int(response.headers["Retry-After"])


def test_business_limit_answers_429_and_keeps_nothing(live_api):
    tenant, other = _tenant(messages_per_minute=2), _tenant("Rival Noodles", messages_per_minute=2)
    cids = [_conversation(live_api.url, tenant) for _ in range(3)]  # three customers of one business
    assert _send(live_api.url, tenant, cids[0]).status_code == 201
    assert _send(live_api.url, tenant, cids[1]).status_code == 201
    _assert_rate_limited(_send(live_api.url, tenant, cids[2]))
    assert Message.objects.for_business(tenant.business).filter(role="customer").count() == 2
    # Another business's limit is its own.
    assert _send(live_api.url, other, _conversation(live_api.url, other)).status_code == 201


def test_customer_limit_answers_429_for_that_customer_only(live_api, settings):
    settings.RATELIMIT_MESSAGES_PER_CUSTOMER = "2 per minute"
    tenant = _tenant(messages_per_minute=100)
    whatsapp_like = _conversation(live_api.url, tenant, external_id="customer-7")
    assert _send(live_api.url, tenant, whatsapp_like, "Hello").status_code == 201
    assert _send(live_api.url, tenant, whatsapp_like, "Are you open?").status_code == 201
    _assert_rate_limited(_send(live_api.url, tenant, whatsapp_like, "Hello again"))
    # The same customer (external_id) in a new conversation is still the same customer.
    _assert_rate_limited(_send(live_api.url, tenant, _conversation(live_api.url, tenant, external_id="customer-7")))
    # Another customer of the business is not held up.
    assert _send(live_api.url, tenant, _conversation(live_api.url, tenant)).status_code == 201


def test_a_retry_with_the_same_idempotency_key_is_not_counted_again(live_api, settings):
    settings.RATELIMIT_MESSAGES_PER_CUSTOMER = "1 per minute"
    tenant = _tenant(messages_per_minute=100)
    cid, key = _conversation(live_api.url, tenant), str(uuid.uuid4())
    assert _send(live_api.url, tenant, cid, **{"Idempotency-Key": key}).status_code == 201
    assert _send(live_api.url, tenant, cid, **{"Idempotency-Key": key}).status_code == 200
    _assert_rate_limited(_send(live_api.url, tenant, cid, "Something else"))


def test_openai_endpoint_has_the_business_limit(live_api):
    tenant = _tenant(messages_per_minute=1)
    body = {"model": str(tenant.assistant.pk), "messages": [{"role": "user", "content": "Can I bring my dog?"}]}
    url = f"{live_api.url}/v1/chat/completions"
    assert httpx.post(url, json=body, headers=_h(tenant), timeout=30).status_code == 200
    _assert_rate_limited(httpx.post(url, json=body, headers=_h(tenant), timeout=30))
    assert Message.objects.for_business(tenant.business).filter(role="customer").count() == 1


def test_a_limit_does_not_open_another_business_conversation(live_api):
    """The limit is checked after the conversation lookup: another business's conversation is a 404."""
    tenant, other = _tenant(messages_per_minute=0), _tenant("Rival Noodles", messages_per_minute=0)
    response = _send(live_api.url, other, _conversation(live_api.url, tenant))
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_the_plans_sharing_values_are_cached_for_every_process_until_forgotten():
    """plan_share keeps a business's values in Redis (all web processes read the same entry) for
    PLAN_CACHE_SECONDS; plan_share_forget makes the next message read the plan again."""
    import redis
    from django.conf import settings

    from assistants.chat.fairness import plan_share, plan_share_forget

    tenant = _tenant(answers_in_flight=3, messages_per_minute=50)
    business_id = tenant.business.pk
    assert plan_share(business_id=business_id).answers_in_flight == 3
    assert redis.Redis.from_url(settings.REDIS_URL).get(f"fair:plan:{business_id}") is not None
    Plan.objects.filter(pk=Subscription.objects.for_business(tenant.business).get().plan_id).update(
        answers_in_flight=7)
    assert plan_share(business_id=business_id).answers_in_flight == 3  # the cached values
    plan_share_forget(business_id=business_id)
    assert plan_share(business_id=business_id).answers_in_flight == 7


def test_the_plans_values_come_from_the_database_when_redis_fails(monkeypatch):
    import redis

    from assistants.chat.fairness import plan_share
    from config import redis_client

    tenant = _tenant(answers_in_flight=5, messages_per_minute=50)

    class Down:
        def get(self, key):
            raise redis.ConnectionError("Redis is down")

        def set(self, *args, **kwargs):
            raise redis.ConnectionError("Redis is down")

    monkeypatch.setattr(redis_client, "client", lambda: Down())
    assert plan_share(business_id=tenant.business.pk).answers_in_flight == 5


def test_messages_reuse_the_processs_redis_connections(live_api):
    """Every message reads the plan's sharing values and counts its limits in Redis: on the
    process's pooled connections, not a new connection per request (Django's cache under ASGI
    keeps one cache object, and so one connection pool, per request context)."""
    import redis
    from django.conf import settings

    tenant = _tenant(messages_per_minute=1000)
    cids = [_conversation(live_api.url, tenant) for _ in range(9)]
    assert _send(live_api.url, tenant, cids[0]).status_code == 201  # warm: the pools open here
    stats = redis.Redis.from_url(settings.REDIS_URL)
    before = int(stats.info("stats")["total_connections_received"])
    for cid in cids[1:]:
        assert _send(live_api.url, tenant, cid).status_code == 201
    opened = int(stats.info("stats")["total_connections_received"]) - before
    assert opened <= 2, f"{opened} new Redis connections for 8 messages"
