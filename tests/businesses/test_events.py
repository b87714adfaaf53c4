"""The product emits its events: each flow creates a delivery for the business's endpoints only."""

from __future__ import annotations

import pytest

from assistants.chat import services as chat
from assistants.ingestion import pipeline
from businesses.models import WebhookDelivery
from businesses.webhooks.services import webhook_endpoint_create
from tests.assistants.conftest import add_source, upload


def _types(tenant) -> list[str]:
    return list(WebhookDelivery.objects.for_business(tenant.business).order_by("created_at")
                .values_list("event_type", flat=True))


@pytest.mark.django_db
def test_flows_emit_events_to_their_own_business_only(tenant, other_tenant, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = settings.WEBHOOKS_ALLOW_HTTP = True
    webhook_endpoint_create(business=tenant.business, url="http://127.0.0.1:9/hooks")
    webhook_endpoint_create(business=other_tenant.business, url="http://127.0.0.1:9/theirs")

    add_source(tenant, kind="faq", title="FAQ", pairs=[{"question": "Dogs?", "answer": "On the terrace."}])
    add_source(tenant, kind="file", file=upload("scan.txt", bytes(range(256)) * 10))
    conversation, _ = chat.conversation_start(assistant=tenant.assistant, key=tenant_key(tenant))
    sent = chat.message_send(conversation=conversation, content="Dogs?", idempotency_key=None)
    chat.conversation_set_state(conversation=sent.conversation, state="handoff")
    chat.staff_message_send(conversation=sent.conversation, content="Yes, on the terrace!")

    assert _types(tenant) == ["source.ready", "source.failed", "conversation.started", "message.created",
                              "conversation.handoff", "message.created"]
    handoff = WebhookDelivery.objects.for_business(tenant.business).get(event_type="conversation.handoff")
    assert handoff.payload["data"]["last_customer_message"] == "Dogs?"
    assert _types(other_tenant) == []


def tenant_key(tenant):
    from businesses.models import ApiKey

    return ApiKey.objects.for_business(tenant.business).get(kind="secret")


@pytest.mark.django_db
def test_a_failing_event_never_breaks_the_flow(tenant, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = settings.WEBHOOKS_ALLOW_HTTP = True
    webhook_endpoint_create(business=tenant.business, url="http://127.0.0.1:9/hooks")
    source = add_source(tenant, kind="text", text="We open at nine.", run=False)
    pipeline.source_ingest(business_id=tenant.business.pk, source_id=source["id"])
    assert tenant.client().get(f"/api/v1/sources/{source['id']}").json()["status"] == "ready"
