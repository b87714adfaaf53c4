"""The web widget: its script, its public config endpoint, and the /demo/ page that shows it.

A website embeds one tag::

    <script src="https://HOST/widget.js" data-key="pk_…" data-assistant="ASSISTANT_ID" async></script>

The script (assistants/static/frontdesk/widget.js, plain JavaScript, no build step) reads the
assistant's name, greeting, look and its own texts in the assistant's language from
``GET /api/v1/assistants/{id}/widget`` and then uses the chat API (docs/chat.md) with the
publishable key. docs/widget.md has the details.
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
from django.utils import translation
from django.utils.translation import gettext_noop
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

# The widget's own words, by the key widget.js looks them up with. widget.js holds the same
# English texts as its defaults (a test keeps the two equal); `%(name)s` is filled in there.
# Translations: locale/<lang>/LC_MESSAGES/django.po.
WIDGET_TEXTS = {
    "open": gettext_noop("Chat with %(name)s"),
    "close_named": gettext_noop("Close chat with %(name)s"),
    "close": gettext_noop("Close chat"),
    "conversation": gettext_noop("Conversation"),
    "talk_to_person": gettext_noop("Talk to a person"),
    "person_will_reply": gettext_noop("A person will reply here"),
    "your_message": gettext_noop("Your message"),
    "placeholder": gettext_noop("Type your question…"),
    "send": gettext_noop("Send"),
    "try_again": gettext_noop("Try again"),
    "source": gettext_noop("Source"),
    "source_named": gettext_noop("Source: %(title)s"),
    "sources": gettext_noop("Sources:"),
    "team": gettext_noop("%(name)s team"),
    "staff": gettext_noop("Staff"),
    "busy": gettext_noop("We are getting a lot of questions right now. Please try again in a minute."),
    "not_sent": gettext_noop("Sorry, that did not go through: %(reason)s"),
    "no_answer": gettext_noop("Sorry, the assistant could not answer just now."),
    "queued": gettext_noop("Many people are asking right now; your answer is on its way"),
    "handoff_default": gettext_noop("A person from our team will reply here as soon as possible."),
    "team_unreachable": gettext_noop("Sorry, we could not reach the team just now."),
    "helpful": gettext_noop("Helpful"),
    "not_helpful": gettext_noop("Not helpful"),
    "thanks_feedback": gettext_noop("Thanks for your feedback"),
    "more": gettext_noop("More options"),
    "delete_data": gettext_noop("Delete my data"),
    "delete_confirm": gettext_noop("Delete this conversation and everything you wrote in it? This cannot be undone."),
    "delete": gettext_noop("Delete"),
    "cancel": gettext_noop("Cancel"),
    "data_deleted": gettext_noop("Your conversation and everything you wrote in it have been deleted."),
    "delete_failed": gettext_noop("Sorry, we could not delete your data just now."),
}


def widget_language(language: str) -> str:
    """The widget's language for an assistant's BCP 47 ``language``: Chinese of any script or region
    ('zh', 'zh-CN', 'zh-Hans', 'zh_TW') reads Simplified Chinese, the rest English."""
    code = (language or "").strip().lower().replace("_", "-")
    return "zh-hans" if code == "zh" or code.startswith("zh-") else "en"


def widget_texts(language: str) -> dict[str, str]:
    with translation.override(widget_language(language)):
        return {key: translation.gettext(text) for key, text in WIDGET_TEXTS.items()}


class WidgetConfigSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    greeting = serializers.CharField()
    language = serializers.CharField()
    handoff_message = serializers.CharField()
    business_name = serializers.CharField()
    color = serializers.CharField(help_text="Accent colour, '#rrggbb'.")
    position = serializers.ChoiceField(choices=Assistant.WidgetPosition.choices,
                                       help_text="Corner the launcher and the panel sit in.")
    launcher_text = serializers.CharField(allow_blank=True,
                                          help_text="Text of the launcher button; empty: a round chat bubble.")
    texts = serializers.DictField(child=serializers.CharField(), help_text=(
        "The widget's own texts in the assistant's language (English or Simplified Chinese), by key; "
        "'%(name)s'-style placeholders are filled in by the widget."))


def widget_config(assistant: Assistant) -> dict:
    """What a customer's browser may know about the assistant: nothing beyond what it shows."""
    return {
        "id": str(assistant.pk),
        "name": assistant.name,
        "greeting": assistant.greeting,
        "language": assistant.language,
        "handoff_message": assistant.handoff_message,
        "business_name": assistant.business.name,
        "color": assistant.widget_color,
        "position": assistant.widget_position,
        "launcher_text": assistant.widget_launcher_text,
        "texts": widget_texts(assistant.language),
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
