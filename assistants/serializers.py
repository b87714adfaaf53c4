from __future__ import annotations

import datetime
import re
from urllib.parse import urlsplit

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from assistants.models import Assistant, KnowledgeSource, SourceReview
from businesses.api.serializers import StrictModelSerializer, StrictSerializer

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def validate_business_hours(value):
    """{"mon": [["11:30", "14:30"], ["18:00", "22:00"]], ...}; a missing day is closed."""
    if not isinstance(value, dict):
        raise serializers.ValidationError("Expected an object keyed by day: mon, tue, … sun.")
    for day, ranges in value.items():
        if day not in DAYS:
            raise serializers.ValidationError(f"'{day}' is not a day; use one of {', '.join(DAYS)}.")
        if not isinstance(ranges, list) or len(ranges) > 6:
            raise serializers.ValidationError(f"{day}: expected a list of at most 6 [open, close] pairs.")
        for pair in ranges:
            if (not isinstance(pair, list) or len(pair) != 2
                    or not all(isinstance(t, str) and HHMM.match(t) for t in pair) or pair[0] == pair[1]):
                raise serializers.ValidationError(f"{day}: each range is [\"HH:MM\", \"HH:MM\"], open before close "
                                                  "(a close earlier than open runs past midnight).")
    return value


MAX_HOURS_EXCEPTIONS = 200


def validate_hours_exceptions(value):
    """[{"date": "2026-12-25", "closed": true, "note": "Christmas"},
    {"date": "2026-12-31", "hours": [["12:00", "16:00"]], "note": "New Year's Eve"}]."""
    if not isinstance(value, list) or len(value) > MAX_HOURS_EXCEPTIONS:
        raise serializers.ValidationError(f"Expected a list of at most {MAX_HOURS_EXCEPTIONS} dated exceptions like "
                                          '{"date": "2026-12-25", "closed": true, "note": "Christmas"}.')
    seen = set()
    for entry in value:
        if not isinstance(entry, dict) or set(entry) - {"date", "closed", "hours", "note"}:
            raise serializers.ValidationError('Each exception is {"date", "closed" or "hours", "note"}.')
        date = entry.get("date")
        try:
            parsed = datetime.date.fromisoformat(date) if isinstance(date, str) and len(date) == 10 else None
        except ValueError:
            parsed = None
        if parsed is None:
            raise serializers.ValidationError(f"'{date}' is not a date like 2026-12-25.")
        if date in seen:
            raise serializers.ValidationError(f"{date} is listed twice.")
        seen.add(date)
        closed, hours = entry.get("closed", False), entry.get("hours")
        if not isinstance(closed, bool) or (closed and hours) or (not closed and not hours):
            raise serializers.ValidationError(f'{date}: give either "closed": true or "hours": [["HH:MM", "HH:MM"]].')
        if hours is not None:
            validate_business_hours({"mon": hours})
        if not isinstance(entry.get("note", ""), str) or len(entry.get("note", "")) > 100:
            raise serializers.ValidationError(f"{date}: the note is a text of at most 100 characters.")
    return sorted(value, key=lambda e: e["date"])


MAX_ALLOWED_ORIGINS = 50
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOST = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$|^\[[0-9a-f:.]+\]$")
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_normalize(value: str) -> str:
    """``https://Example.com:443/`` → ``https://example.com``: the form browsers send in ``Origin``."""
    if not isinstance(value, str) or not value.strip():
        raise serializers.ValidationError("Each origin is a text like 'https://example.com'.")
    raw = value.strip()
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise serializers.ValidationError(f"'{raw}' is not an origin like 'https://example.com'.") from exc
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise serializers.ValidationError(f"'{raw}' is not an origin like 'https://example.com' (http or https, "
                                          "then the host).")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise serializers.ValidationError(f"'{raw}': an origin is only scheme, host and port, without a path "
                                          "(e.g. 'https://example.com').")
    try:
        host = parts.hostname.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise serializers.ValidationError(f"'{raw}': the host name is not valid.") from exc
    if ":" in host:
        host = f"[{host}]"
    if not HOST.match(host):
        raise serializers.ValidationError(f"'{raw}': the host name is not valid (wildcards are not supported; "
                                          "list each site).")
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != DEFAULT_PORTS[scheme] else "")


def validate_allowed_origins(value) -> list[str]:
    if not isinstance(value, list):
        raise serializers.ValidationError("Expected a list of origins like [\"https://example.com\"] "
                                          "(empty: any site may embed the widget).")
    if len(value) > MAX_ALLOWED_ORIGINS:
        raise serializers.ValidationError(f"At most {MAX_ALLOWED_ORIGINS} origins.")
    return list(dict.fromkeys(origin_normalize(item) for item in value))


class AllowedOriginsField(serializers.ListField):
    """A list of origins, normalised to the form browsers send (so matching is a plain comparison)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(child=serializers.CharField(max_length=300), **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, list):
            raise serializers.ValidationError("Expected a list of origins like [\"https://example.com\"] "
                                              "(empty: any site may embed the widget).")
        return validate_allowed_origins(super().to_internal_value(data))


HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}\Z")


class ColorField(serializers.CharField):
    """``#rrggbb``, stored in lower case (``#1D4ED8`` becomes ``#1d4ed8``)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_length=7, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not HEX_COLOR.match(value):
            raise serializers.ValidationError(f"'{value}' is not a colour like '#1d4ed8' (# and six hex digits).")
        return value.lower()


class AssistantSerializer(StrictModelSerializer):
    business_hours = serializers.JSONField(required=False, validators=[validate_business_hours])
    hours_exceptions = serializers.JSONField(
        required=False, validators=[validate_hours_exceptions],
        help_text='Dated exceptions to business_hours (holidays, special hours): [{"date": "2026-12-25", '
                  '"closed": true, "note": "Christmas"}, {"date": "2026-12-31", "hours": [["12:00", "16:00"]]}].')
    allowed_origins = AllowedOriginsField(
        required=False, help_text="Origins (\"https://example.com\") whose pages may embed the web widget; "
                                  "empty: any site.")
    widget_color = ColorField(required=False, help_text="Accent colour of the web widget, '#rrggbb' "
                                                        "(text on it is white or black, whichever reads better).")

    class Meta:
        model = Assistant
        fields = (
            "id", "name", "slug", "persona", "instructions", "greeting", "language", "tone", "business_hours",
            "hours_exceptions", "handoff_message", "temperature", "max_answer_tokens", "model_override",
            "allowed_origins", "widget_color", "widget_position", "widget_launcher_text", "created_at", "updated_at",
        )
        read_only_fields = ("id", "slug", "created_at", "updated_at")
        # The prompt carries persona and instructions on every answer: a few paragraphs each
        # (docs/api.md "Field limits").
        extra_kwargs = {"persona": {"max_length": 2000}, "instructions": {"max_length": 4000},
                        "model_override": {"max_length": 200}}


class ReviewFailureSerializer(serializers.Serializer):
    test_id = serializers.UUIDField()
    question = serializers.CharField()
    reason = serializers.CharField(help_text="Why the test would fail with the new version.")
    answer_before = serializers.CharField(help_text="The answer with the version serving now.")
    answer_after = serializers.CharField(help_text="The answer with the new version.")


class SourceReviewSerializer(serializers.Serializer):
    failures = ReviewFailureSerializer(many=True, help_text="The knowledge tests the new version would break.")
    created_at = serializers.DateTimeField()


class SourceSerializer(serializers.ModelSerializer):
    """A knowledge source as integrators see it (DESIGN.md "Add knowledge"). ``review``: only
    while ``status`` is ``needs_review``, the tests its new version would break."""

    review = serializers.SerializerMethodField()

    class Meta:
        model = KnowledgeSource
        fields = ("id", "assistant_id", "kind", "title", "status", "progress", "error", "error_code", "warnings",
                  "chunk_count", "items_count", "url", "file_name", "size_bytes", "review", "created_at",
                  "updated_at")
        read_only_fields = fields

    @extend_schema_field(SourceReviewSerializer(allow_null=True))
    def get_review(self, source: KnowledgeSource) -> dict | None:
        if source.status != KnowledgeSource.Status.NEEDS_REVIEW:
            return None
        review = SourceReview.objects.for_business(source.business_id).filter(source_id=source.pk).first()
        return SourceReviewSerializer(review).data if review is not None else None


class FaqPairSerializer(StrictSerializer):
    question = serializers.CharField(max_length=2000)
    answer = serializers.CharField(max_length=20000)


class SourceCreateSerializer(StrictSerializer):
    """JSON body: text, faq or url. Files come as multipart (SourceUploadSerializer)."""

    kind = serializers.ChoiceField(choices=["text", "faq", "url"])
    title = serializers.CharField(max_length=300, required=False)
    text = serializers.CharField(required=False, trim_whitespace=True)
    pairs = FaqPairSerializer(many=True, required=False)
    url = serializers.URLField(max_length=2000, required=False)
    crawl = serializers.BooleanField(required=False, default=False)
    max_pages = serializers.IntegerField(required=False, default=20, min_value=1)

    def validate(self, attrs):
        kind = attrs["kind"]
        required = {"text": "text", "faq": "pairs", "url": "url"}[kind]
        if not attrs.get(required):
            raise serializers.ValidationError({required: [f"Required for kind '{kind}'."]})
        other = {"text": ("pairs", "url"), "faq": ("text", "url"), "url": ("text", "pairs")}[kind]
        stray = [name for name in other if name in attrs]
        if stray:
            raise serializers.ValidationError({name: [f"Not used by kind '{kind}'."] for name in stray})
        if kind == "faq" and len(attrs["pairs"]) > settings.INGEST_MAX_FAQ_PAIRS:
            raise serializers.ValidationError({"pairs": [f"At most {settings.INGEST_MAX_FAQ_PAIRS} pairs."]})
        if kind == "url":
            scheme = attrs["url"].split(":", 1)[0].lower()
            if scheme not in ("http", "https"):
                raise serializers.ValidationError({"url": ["Only http and https URLs can be fetched."]})
            attrs["max_pages"] = min(attrs["max_pages"], settings.INGEST_URL_MAX_PAGES)
        if kind == "text" and len(attrs["text"]) > settings.INGEST_MAX_CHARS:
            raise serializers.ValidationError({"text": [f"At most {settings.INGEST_MAX_CHARS} characters."]})
        attrs.setdefault("title", self._default_title(attrs))
        return attrs

    @staticmethod
    def _default_title(attrs) -> str:
        if attrs["kind"] == "url":
            return attrs["url"][:300]
        if attrs["kind"] == "faq":
            return "FAQ"
        first_line = attrs["text"].strip().splitlines()[0] if attrs["text"].strip() else "Text"
        return first_line.lstrip("# ")[:80] or "Text"


class SourceUploadSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=["file"])
    title = serializers.CharField(max_length=300, required=False)
    file = serializers.FileField(allow_empty_file=True, max_length=255)


class SourceResyncUploadSerializer(StrictSerializer):
    file = serializers.FileField(allow_empty_file=True, max_length=255)


class SourceResyncSerializer(StrictSerializer):
    """Optional new content: ``text`` for a text source, ``pairs`` for an FAQ."""

    text = serializers.CharField(required=False)
    pairs = FaqPairSerializer(many=True, required=False, allow_empty=False)

    def validate(self, attrs):
        kind = self.context["source"].kind
        if "text" in attrs and kind != KnowledgeSource.Kind.TEXT:
            raise serializers.ValidationError({"text": ["Only text sources take new text."]})
        if "pairs" in attrs and kind != KnowledgeSource.Kind.FAQ:
            raise serializers.ValidationError({"pairs": ["Only FAQ sources take new pairs."]})
        return attrs


class SearchSerializer(StrictSerializer):
    query = serializers.CharField(max_length=2000)
    k = serializers.IntegerField(required=False, default=5, min_value=1, max_value=50)


class SearchResultSerializer(serializers.Serializer):
    chunk_id = serializers.UUIDField()
    source_id = serializers.UUIDField()
    source_title = serializers.CharField()
    text = serializers.CharField()
    score = serializers.FloatField()


class SearchResponseSerializer(serializers.Serializer):
    results = SearchResultSerializer(many=True)
