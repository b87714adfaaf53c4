from __future__ import annotations

import re

from rest_framework import serializers

from assistants.models import Assistant
from config.serializers import StrictModelSerializer

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


class AssistantSerializer(StrictModelSerializer):
    business_hours = serializers.JSONField(required=False, validators=[validate_business_hours])

    class Meta:
        model = Assistant
        fields = (
            "id", "name", "slug", "persona", "instructions", "greeting", "language", "tone", "business_hours",
            "handoff_message", "temperature", "max_answer_tokens", "model_override", "created_at", "updated_at",
        )
        read_only_fields = ("id", "slug", "created_at", "updated_at")
