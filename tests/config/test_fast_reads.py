"""``config.serializers.represent`` (list pages) gives exactly what DRF's serializers give."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from assistants.channels.whatsapp.serializers import ConnectionSerializer
from assistants.chat.serializers import ConversationSerializer
from assistants.models import Assistant, Conversation, KnowledgeSource, WhatsAppConnection
from assistants.serializers import AssistantSerializer, SourceSerializer
from businesses.models import ApiKey, WebhookDelivery, WebhookEndpoint
from businesses.serializers import ApiKeySerializer
from businesses.webhooks.serializers import WebhookDeliverySerializer, WebhookEndpointSerializer
from config.serializers import represent


@pytest.mark.django_db
def test_represent_matches_drf_for_every_list_endpoint(tenant):
    business, assistant = tenant.business, tenant.assistant
    assistant.business_hours = {"mon": [["09:00", "17:00"]]}
    assistant.allowed_origins = ["https://example.com"]
    assistant.temperature = 0.35
    assistant.save()
    KnowledgeSource.objects.unscoped().create(business=business, assistant=assistant, kind="text", title="Menu",
                                              status="failed", error="Nothing readable.", warnings=["one"])
    KnowledgeSource.objects.unscoped().create(business=business, assistant=assistant, kind="url", title="Site",
                                              url="https://example.com/", size_bytes=1234, chunk_count=7)
    Conversation.objects.unscoped().create(business=business, assistant=assistant, channel="widget",
                                           metadata={"page": "/menu", "n": [1, 2]}, last_message_at=timezone.now())
    Conversation.objects.unscoped().create(business=business, assistant=assistant, channel="api", state="closed")
    endpoint = WebhookEndpoint.objects.unscoped().create(
        business=business, url="https://hooks.example.com/x", event_types=["message.created"], secret_encrypted="x",
        secret_hint="whsec_…abcd", disabled_at=timezone.now(), disabled_reason="410 Gone")
    WebhookDelivery.objects.unscoped().create(
        business=business, endpoint=endpoint, event_id=uuid.uuid4(), event_type="message.created",
        payload={"id": "e", "data": {"x": "ü"}}, attempts=2, last_status_code=500, last_error="boom",
        attempt_log=[{"number": 1, "at": "2026-11-28T10:00:00Z", "status_code": 500, "error": "boom",
                      "duration_ms": 12, "response": "oops"}],
        next_attempt_at=timezone.now())
    WhatsAppConnection.objects.unscoped().create(business=business, assistant=assistant, phone_number_id="1234567",
                                                 display_phone_number="+31 20 555 0100", access_token_encrypted="x",
                                                 owner_whatsapp="31612345678")

    cases = [
        (AssistantSerializer, Assistant.objects.for_business(business)),
        (SourceSerializer, KnowledgeSource.objects.for_business(business)),
        (ConversationSerializer, Conversation.objects.for_business(business)),
        (ApiKeySerializer, ApiKey.objects.for_business(business)),
        (WebhookEndpointSerializer, WebhookEndpoint.objects.for_business(business)),
        (WebhookDeliverySerializer, WebhookDelivery.objects.for_business(business)),
        (ConnectionSerializer, WhatsAppConnection.objects.for_business(business)),
    ]
    for serializer_class, queryset in cases:
        objects = list(queryset.order_by("created_at"))
        assert objects, serializer_class
        for _ in range(2):  # the second call uses the cached fields
            assert represent(serializer_class, objects) == serializer_class(objects, many=True).data, \
                serializer_class.__name__


@pytest.mark.django_db
def test_represent_writes_datetimes_as_drf_does_in_any_time_zone(tenant):
    """The datetime shortcut: UTC gets DRF's "Z", an activated zone its offset, like DRF."""
    import datetime
    import zoneinfo

    source = KnowledgeSource.objects.unscoped().create(business=tenant.business, assistant=tenant.assistant,
                                                       kind="text", title="Menu")
    source.created_at = datetime.datetime(2026, 3, 29, 0, 30, 0, 250000, tzinfo=datetime.UTC)  # DST starts at 01:00
    source.updated_at = datetime.datetime(2026, 3, 29, 9, 0, tzinfo=zoneinfo.ZoneInfo("America/New_York"))
    for zone in (None, "Europe/Amsterdam", "Asia/Kolkata"):
        with timezone.override(zone) if zone else timezone.override(datetime.UTC):
            ours = represent(SourceSerializer, [source])[0]
            assert ours == SourceSerializer([source], many=True).data[0], zone
    with timezone.override(datetime.UTC):
        ours = represent(SourceSerializer, [source])[0]
    assert ours["created_at"] == "2026-03-29T00:30:00.250000Z"
    assert ours["updated_at"] == "2026-03-29T13:00:00Z"


def test_represent_leaves_out_what_drf_skips_and_reads_other_sources_as_drf_does():
    """Fields that do not read one of a model's own columns go through DRF's get_attribute."""
    import types

    from rest_framework import serializers

    class Plain(serializers.Serializer):
        name = serializers.CharField()
        nickname = serializers.CharField(required=False)  # DRF leaves it out when missing
        city = serializers.CharField(source="address.city")
        when = serializers.DateTimeField()

    rows = [types.SimpleNamespace(name="Ada", address=types.SimpleNamespace(city="Delft"), when=None),
            types.SimpleNamespace(name="Bo", nickname="B", address=types.SimpleNamespace(city="Gent"),
                                  when=timezone.now())]
    assert represent(Plain, rows) == Plain(rows, many=True).data
    assert list(represent(Plain, rows)[0]) == ["name", "city", "when"]


def test_the_memoised_texts_stay_right_past_their_bound(monkeypatch):
    """The ISO and UUID memos empty themselves when full; texts stay DRF's."""
    import datetime

    from config import serializers as fast

    monkeypatch.setattr(fast, "MEMO_SIZE", 3)
    start = datetime.datetime(2026, 11, 29, 10, 0, tzinfo=datetime.UTC)
    sources = [KnowledgeSource(id=uuid.uuid4(), business_id=uuid.uuid4(), assistant_id=uuid.uuid4(), kind="text",
                               title=f"T{i}", created_at=start + datetime.timedelta(seconds=i),
                               updated_at=start + datetime.timedelta(hours=i)) for i in range(10)]
    for _ in range(2):
        assert represent(SourceSerializer, sources) == SourceSerializer(sources, many=True).data
    assert len(fast._uuid_texts) <= 3 and all(len(memo) <= 3 for memo in fast._iso_texts.values())
