"""config.renderers.JSONRenderer writes the bytes DRF's JSONRenderer writes."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import uuid
import zoneinfo

import pytest
from django.db import models
from django.utils.translation import gettext_lazy
from rest_framework import renderers
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from config.renderers import JSONRenderer


class Tone(models.TextChoices):
    WARM = "warm", "Warm"


class Level(enum.IntEnum):
    HIGH = 3


@dataclasses.dataclass
class Point:
    x: int


UTC = datetime.UTC
AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")

SAME_BYTES = [
    None,
    {},
    [],
    {"results": [], "next": None},
    {"id": uuid.UUID("12345678-1234-5678-1234-567812345678"), "n": 3, "f": 0.35, "t": True, "z": None},
    {"text": "Ünïcødé ✓ \"quoted\" back\\slash tab\t newline\n \x00 \x1f", "emoji": "🍜"},
    {"js": "line\u2028separator and paragraph\u2029separator"},
    {"when": datetime.datetime(2026, 11, 29, 10, 1, 2, 345678, tzinfo=UTC),
     "whole_second": datetime.datetime(2026, 11, 29, 10, 1, 2, tzinfo=UTC),
     "zoned": datetime.datetime(2026, 3, 29, 3, 0, tzinfo=AMSTERDAM),
     "naive": datetime.datetime(2026, 11, 29, 10, 1), "day": datetime.date(2026, 2, 28),
     "time": datetime.time(9, 30), "span": datetime.timedelta(minutes=90)},
    {"price": decimal.Decimal("12.50"), "lazy": gettext_lazy("Menu"), "tone": Tone.WARM, "level": Level.HIGH,
     "tuple": (1, 2), "set": {"only"}, "bytes": b"raw"},
    {"deep": [[[[{"a": [1, -0.0, 1.5, -2, 2 ** 63 - 1, -(2 ** 63)]}]]]]},
    ReturnDict({"a": ReturnList([1, 2], serializer=None)}, serializer=None),
    {"big": 2 ** 70},  # beyond orjson: DRF's renderer
    {1: "int key", None: "none key"},  # beyond orjson: DRF's renderer
]


@pytest.mark.parametrize("data", SAME_BYTES)
def test_same_bytes_as_drf(data):
    assert JSONRenderer().render(data) == renderers.JSONRenderer().render(data)


@pytest.mark.parametrize("accepted", ["application/json; indent=2", "application/json"])
def test_indented_when_asked_as_drf(accepted):
    data = {"a": [1, {"b": "c"}]}
    ours = JSONRenderer().render(data, accepted, {"indent": None})
    assert ours == renderers.JSONRenderer().render(data, accepted, {"indent": None})


@pytest.mark.parametrize("value", [object(), Point(1)])
def test_what_drf_cannot_encode_fails_as_before(value):
    with pytest.raises(TypeError):
        JSONRenderer().render({"value": value})
    with pytest.raises(TypeError):
        renderers.JSONRenderer().render({"value": value})


@pytest.mark.django_db
def test_every_list_endpoint_renders_as_drf_would(tenant):
    """The API's pages, as served, against DRF's renderer over the same data."""
    import json

    client = tenant.client()
    for path in ("/api/v1/assistants", "/api/v1/api-keys", "/api/v1/conversations", "/api/v1/webhooks",
                 f"/api/v1/assistants/{tenant.assistant.pk}/sources", "/api/v1/whatsapp/connections"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.content == renderers.JSONRenderer().render(json.loads(response.content)), path


@pytest.mark.django_db
def test_a_page_has_the_headers_a_drf_response_gets(tenant):
    """List pages are rendered by the view (TenantAPIView.rendered), not through DRF's Response:
    the same headers as a Response from the same kind of view, and indentation when asked."""
    client = tenant.client()
    page = client.get("/api/v1/assistants")
    detail = client.get(f"/api/v1/assistants/{tenant.assistant.pk}")  # a DRF Response
    assert page["Content-Type"] == detail["Content-Type"] == "application/json"
    assert page["Allow"] == "GET, POST, HEAD, OPTIONS"  # DRF's default headers, as before
    assert sorted(page.headers) == sorted(detail.headers)
    indented = client.get("/api/v1/assistants", HTTP_ACCEPT="application/json; indent=2")
    assert indented.content.startswith(b'{\n  "results": [\n')
    assert indented["Content-Type"] == "application/json"
