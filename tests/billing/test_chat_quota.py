"""The message quota through the real chat endpoint: reserved before generation, atomic."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from assistants.models import Message
from billing import services
from billing.models import UsagePeriod
from tests.assistants import kb
from tests.assistants.conftest import add_source
from tests.conftest import make_tenant

pytestmark = pytest.mark.django_db(transaction=True)


def test_fifty_concurrent_messages_against_ten_left(live_api):
    tenant = make_tenant("Busy Bistro", plan=None)  # Free: 100 customer messages a month
    add_source(tenant, kind="faq", title="FAQ", pairs=kb.RESTAURANT_FAQ)
    services.message_quota_reserve(business_id=tenant.business.pk)
    UsagePeriod.objects.for_business(tenant.business).update(messages_used=90)
    headers = {"Authorization": f"Bearer {tenant.secret_key}"}
    conversations = [httpx.post(f"{live_api.url}/api/v1/assistants/{tenant.assistant.pk}/conversations", json={},
                                headers=headers).json()["id"] for _ in range(50)]

    async def send_all():
        async with httpx.AsyncClient(timeout=60) as client:
            return await asyncio.gather(*(
                client.post(f"{live_api.url}/api/v1/conversations/{cid}/messages",
                            json={"content": "Can I bring my dog?"}, headers=headers) for cid in conversations))

    responses = asyncio.run(send_all())
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 10 and statuses.count(402) == 40, statuses
    refused = next(r for r in responses if r.status_code == 402).json()["error"]
    assert refused["code"] == "quota_exceeded" and refused["details"]["limit"] == 100
    assert refused["details"]["resets_at"]
    messages = Message.objects.for_business(tenant.business)
    assert messages.filter(role="customer").count() == 10  # a refused message is not kept
    assert messages.filter(role="assistant", status="complete").count() == 10
    assert UsagePeriod.objects.for_business(tenant.business).get().messages_used == 100


def test_a_refused_message_is_not_kept_so_retries_make_no_duplicates(live_api):
    from assistants.models import Conversation

    tenant = make_tenant("Full Bistro", plan=None)
    services.message_quota_reserve(business_id=tenant.business.pk)
    UsagePeriod.objects.for_business(tenant.business).update(messages_used=100)  # Free: all 100 used
    headers = {"Authorization": f"Bearer {tenant.secret_key}"}
    cid = httpx.post(f"{live_api.url}/api/v1/assistants/{tenant.assistant.pk}/conversations", json={},
                     headers=headers).json()["id"]
    for _ in range(3):  # a client retrying with its Idempotency-Key
        refused = httpx.post(f"{live_api.url}/api/v1/conversations/{cid}/messages", timeout=30,
                             json={"content": "Can I bring my dog?"}, headers={**headers, "Idempotency-Key": "k1"})
        assert refused.status_code == 402 and refused.json()["error"]["code"] == "quota_exceeded"
    assert not Message.objects.for_business(tenant.business).exists()
    openai = httpx.post(f"{live_api.url}/v1/chat/completions", headers=headers, timeout=30,
                        json={"model": str(tenant.assistant.pk), "messages": [{"role": "user", "content": "Hi?"}]})
    assert openai.status_code == 402
    assert not Message.objects.for_business(tenant.business).exists()
    assert Conversation.objects.for_business(tenant.business).count() == 1  # only the one started above
    # Once the allowance is back, the same retry is answered once.
    UsagePeriod.objects.for_business(tenant.business).update(messages_used=0)
    for expected in (201, 200):
        sent = httpx.post(f"{live_api.url}/api/v1/conversations/{cid}/messages", timeout=30,
                          json={"content": "Can I bring my dog?"}, headers={**headers, "Idempotency-Key": "k1"})
        assert sent.status_code == expected, sent.text
    assert Message.objects.for_business(tenant.business).filter(role="customer").count() == 1
    assert UsagePeriod.objects.for_business(tenant.business).get().messages_used == 1


def test_failed_answer_gives_the_message_back(live_api, settings):
    from tests.inference.misbehaving_server import closed_port_url

    tenant = make_tenant("Quiet Cafe", plan=None)
    # Knowledge that answers the question, so the model is asked (with none, the handoff answers).
    add_source(tenant, kind="faq", title="FAQ", pairs=[{"question": "Can I bring my dog?",
                                                        "answer": "Dogs are welcome on the terrace."}])
    settings.INFERENCE_BASE_URL = [closed_port_url()]
    settings.INFERENCE_MODEL = "test-model"
    settings.INFERENCE_MAX_RETRIES = 0
    headers = {"Authorization": f"Bearer {tenant.secret_key}"}
    cid = httpx.post(f"{live_api.url}/api/v1/assistants/{tenant.assistant.pk}/conversations", json={},
                     headers=headers).json()["id"]
    response = httpx.post(f"{live_api.url}/api/v1/conversations/{cid}/messages",
                          json={"content": "Can I bring my dog?"}, headers=headers, timeout=30)
    assert response.status_code == 503
    assert UsagePeriod.objects.for_business(tenant.business).get().messages_used == 0


def test_assistant_and_source_quotas_through_the_api(db):
    tenant = make_tenant("Small Shop", plan=None)  # Free: 1 assistant, 5 sources
    api = tenant.client()
    refused = api.post("/api/v1/assistants", {"name": "Second"}, format="json")
    assert refused.status_code == 402 and refused.json()["error"]["details"]["resource"] == "assistants"
    for n in range(5):
        assert api.post(f"/api/v1/assistants/{tenant.assistant.pk}/sources",
                        {"kind": "text", "text": f"Fact {n}."}, format="json").status_code == 202
    sixth = api.post(f"/api/v1/assistants/{tenant.assistant.pk}/sources", {"kind": "text", "text": "Fact 6."},
                     format="json")
    assert sixth.status_code == 402 and sixth.json()["error"]["details"]["resource"] == "sources"
