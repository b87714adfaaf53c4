"""Content negotiation remembered per Accept header (config/negotiation.py): DRF's answers, faster."""

from __future__ import annotations

import pytest
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer, StaticHTMLRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from config.negotiation import MAX_REMEMBERED_ACCEPT, CachedContentNegotiation, _negotiate

ACCEPTS = [
    None, "*/*", "application/json", "application/json; indent=4", "text/html", "text/html;q=0.9, */*;q=0.1",
    "application/*", "text/plain", "image/png", "", "application/json;q=0, text/html", "*/*; version=2",
    "application/json, " + "x" * MAX_REMEMBERED_ACCEPT,
]
RENDERER_SETS = [(JSONRenderer,), (JSONRenderer, BrowsableAPIRenderer), (StaticHTMLRenderer, JSONRenderer)]


def _choice(negotiation, renderer_classes, accept, query=""):
    extra = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(f"/api/v1/assistants{query}", **extra))
    renderers = [renderer_class() for renderer_class in renderer_classes]
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers)
    except exceptions.NotAcceptable:
        return "406"
    assert renderer in renderers
    return type(renderer), media_type


@pytest.mark.parametrize("renderer_classes", RENDERER_SETS)
@pytest.mark.parametrize("accept", ACCEPTS)
def test_every_answer_is_drfs_own_first_time_and_remembered(renderer_classes, accept):
    expected = _choice(DefaultContentNegotiation(), renderer_classes, accept)
    for _ in range(2):  # the second time from the cache
        assert _choice(CachedContentNegotiation(), renderer_classes, accept) == expected


def test_the_format_override_is_part_of_the_answer():
    renderer_classes = (JSONRenderer, BrowsableAPIRenderer)
    for query in ("?format=api", "?format=json", ""):
        expected = _choice(DefaultContentNegotiation(), renderer_classes, "*/*", query)
        assert _choice(CachedContentNegotiation(), renderer_classes, "*/*", query) == expected
    assert _choice(CachedContentNegotiation(), renderer_classes, "*/*", "?format=api")[0] is BrowsableAPIRenderer


def test_a_format_suffix_counts_even_with_the_query_override_turned_off(settings):
    """A format from the URL (``format_suffix_patterns``), with ``URL_FORMAT_OVERRIDE = None``."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "URL_FORMAT_OVERRIDE": None}
    _negotiate.cache_clear()
    request = Request(APIRequestFactory().get("/api/v1/assistants.api"))
    for negotiation in (DefaultContentNegotiation(), CachedContentNegotiation()):
        renderer, _ = negotiation.select_renderer(request, [JSONRenderer(), BrowsableAPIRenderer()], "api")
        assert type(renderer) is BrowsableAPIRenderer


def test_long_headers_are_answered_but_not_kept():
    _negotiate.cache_clear()
    long_accept = "application/json, " + "x" * MAX_REMEMBERED_ACCEPT
    assert _choice(CachedContentNegotiation(), (JSONRenderer,), long_accept)[0] is JSONRenderer
    assert _negotiate.cache_info().currsize == 0


@pytest.mark.django_db
def test_the_api_answers_406_in_the_error_shape_and_honours_json_parameters(tenant):
    api = tenant.client()
    _negotiate.cache_clear()
    refused = api.get("/api/v1/assistants", HTTP_ACCEPT="text/html")
    assert refused.status_code == 406
    assert refused.json()["error"]["code"] == "not_acceptable"
    for _ in range(2):
        indented = api.get("/api/v1/assistants", HTTP_ACCEPT="application/json; indent=2")
        assert indented.status_code == 200
        assert indented.content.startswith(b'{\n  "results"')
    plain = api.get("/api/v1/assistants")
    assert b"\n" not in plain.content
    assert _negotiate.cache_info().hits >= 1  # the API negotiates through the cache (settings)
