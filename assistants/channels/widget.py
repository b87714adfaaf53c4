"""The web widget: its script, its public config endpoint, and the /demo/ page that shows it.

A website embeds one tag::

    <script src="https://HOST/widget.js" data-key="pk_…" data-assistant="ASSISTANT_ID" async></script>

The script (assistants/static/frontdesk/widget.js, plain JavaScript, no build step) reads the
assistant's name and greeting from ``GET /api/v1/assistants/{id}/widget`` and then uses the chat
API (docs/chat.md) with the publishable key. docs/widget.md has the details.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import condition, require_GET
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from assistants.models import Assistant
from businesses.api.views import TenantAPIView
from businesses.authentication import api_key_resolve
from businesses.models import Business
from businesses.permissions import IsAnyKey

WIDGET_JS = Path(__file__).resolve().parent.parent / "static" / "frontdesk" / "widget.js"
WIDGET_JS_MAX_AGE = 300  # seconds browsers and CDNs reuse the script before revalidating (ETag)
CONFIG_MAX_AGE = 60  # a changed greeting reaches open pages within a minute
DEMO_SLUG = "golden-dragon-demo"  # assistants/management/commands/demo_seed.py
DEMO_FILE_NAME = "demo-widget.json"


# --------------------------------------------------------------------------- config endpoint


class WidgetConfigSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    greeting = serializers.CharField()
    language = serializers.CharField()
    handoff_message = serializers.CharField()
    business_name = serializers.CharField()


def widget_config(assistant: Assistant) -> dict:
    """What a customer's browser may know about the assistant: nothing beyond what it shows."""
    return {
        "id": str(assistant.pk),
        "name": assistant.name,
        "greeting": assistant.greeting,
        "language": assistant.language,
        "handoff_message": assistant.handoff_message,
        "business_name": assistant.business.name,
    }


class WidgetConfigView(TenantAPIView):
    """The assistant's public face for the widget (publishable or secret key)."""

    permission_classes = [IsAnyKey]

    @extend_schema(responses=WidgetConfigSerializer, summary="The widget's view of an assistant (sk or pk)")
    def get(self, request, pk):
        assistant = self.get_scoped(Assistant, pk, what="assistant",
                                    queryset=self.scoped(Assistant).select_related("business"))
        response = Response(widget_config(assistant))
        response["Cache-Control"] = f"private, max-age={CONFIG_MAX_AGE}"
        return response


# --------------------------------------------------------------------------- widget.js


@dataclass(frozen=True)
class _Script:
    mtime_ns: int
    body: bytes
    etag: str


_script: _Script | None = None


def widget_script() -> _Script:
    """The script and its ETag, read again only when the file changes."""
    global _script
    mtime = WIDGET_JS.stat().st_mtime_ns
    if _script is None or _script.mtime_ns != mtime:
        body = WIDGET_JS.read_bytes()
        _script = _Script(mtime, body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    return _script


@require_GET
@condition(etag_func=lambda request: widget_script().etag)
def widget_js(request: HttpRequest) -> HttpResponse:
    script = widget_script()
    response = HttpResponse(script.body, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = f"public, max-age={WIDGET_JS_MAX_AGE}"
    # Any site may load the script itself; what it may call is decided per assistant (cors.py).
    response["Access-Control-Allow-Origin"] = "*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


# --------------------------------------------------------------------------- /demo/
# Keys are stored hashed, so the page cannot look the demo's publishable key up: demo_seed
# (`make demo`), which rotates the demo keys, writes the new publishable key and the assistant
# id to CACHE_DIR/demo-widget.json, and the page reads it. A publishable key is meant to sit in
# a web page, so keeping it in a file is no new exposure.


def demo_widget_save(*, assistant: Assistant, publishable_key: str) -> Path:
    path = Path(settings.CACHE_DIR) / DEMO_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"assistant_id": str(assistant.pk), "publishable_key": publishable_key}))
    return path


def demo_widget_load() -> tuple[str, str] | None:
    """(assistant id, publishable key) of the demo business, if demo_seed wrote a key that still works."""
    try:
        data = json.loads((Path(settings.CACHE_DIR) / DEMO_FILE_NAME).read_text())
        assistant_id, key = str(uuid.UUID(data["assistant_id"])), str(data["publishable_key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    resolved = api_key_resolve(key)
    if resolved is None or resolved.is_secret or resolved.business.slug != DEMO_SLUG:
        return None
    if not Assistant.objects.for_business(resolved.business).filter(pk=assistant_id).exists():
        return None
    return assistant_id, key


_KEY_PARAM = re.compile(r"^pk_[A-Za-z0-9_-]{8,200}$")


def _demo_params(request: HttpRequest) -> tuple[str, str] | None:
    """``?assistant=<id>&key=pk_…``: try the page with any assistant (the key is checked by the API)."""
    key, assistant = request.GET.get("key", ""), request.GET.get("assistant", "")
    if not _KEY_PARAM.match(key):
        return None
    try:
        return str(uuid.UUID(assistant)), key
    except ValueError:
        return None


@require_GET
def demo_page(request: HttpRequest) -> HttpResponse:
    """A fake restaurant website with the widget on it."""
    chosen = _demo_params(request) or demo_widget_load()
    context = {"demo_exists": Business.objects.filter(slug=DEMO_SLUG).exists()}
    if chosen is not None:
        context["assistant_id"], context["publishable_key"] = chosen
    return render(request, "frontdesk/demo.html", context, status=200)
