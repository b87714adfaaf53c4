from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from assistants.models import UnansweredQuestion, UnansweredTopic
from assistants.serializers import SourceSerializer
from assistants.unanswered.services import MAX_ANSWER_CHARS
from businesses.api.serializers import StrictSerializer


class ReasonCountsSerializer(serializers.Serializer):
    no_answer = serializers.IntegerField(help_text="Answered with grounding none (the honest handoff).")
    handoff = serializers.IntegerField(help_text="A person took the conversation over.")
    thumbs_down = serializers.IntegerField(help_text="The customer rated the answer down.")


class TopicSerializer(serializers.ModelSerializer):
    """A topic of unanswered questions. ``examples``: its questions, newest first, without
    repeats, at most 5. ``reasons``: how many of its questions came from each signal."""

    examples = serializers.SerializerMethodField()
    reasons = serializers.SerializerMethodField()
    source_id = serializers.UUIDField(source="faq_source_id", allow_null=True, read_only=True,
                                      help_text="The FAQ source that answered it (once answered).")

    class Meta:
        model = UnansweredTopic
        fields = ("id", "assistant_id", "status", "count", "examples", "reasons", "first_seen", "last_seen",
                  "answered_at", "source_id")
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_examples(self, topic) -> list[str]:
        return list(getattr(topic, "examples", []))

    @extend_schema_field(ReasonCountsSerializer)
    def get_reasons(self, topic) -> dict[str, int]:
        return {reason: int(getattr(topic, f"reason_{reason}", 0) or 0) for reason in UnansweredQuestion.Reason.values}


class TopicAnswerSerializer(StrictSerializer):
    answer = serializers.CharField(max_length=MAX_ANSWER_CHARS,
                                   help_text="The answer; the topic's most asked question becomes its FAQ question.")


class TopicAnsweredSerializer(serializers.Serializer):
    source = SourceSerializer()
    topic = TopicSerializer()
