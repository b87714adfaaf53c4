from __future__ import annotations

from rest_framework import serializers

from assistants.models import KnowledgeTest, KnowledgeTestRun
from businesses.api.serializers import StrictSerializer


class FactField(serializers.CharField):
    """A fact as text: a number where a fact belongs is a client bug, not "14.5"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class KnowledgeTestCreateSerializer(StrictSerializer):
    """A question with the facts its answer must contain or must not contain, or that must be
    handed to a person. Neither: it must simply be answered."""

    question = serializers.CharField(max_length=1000)
    must_contain = serializers.ListField(child=FactField(max_length=200), required=False, default=list,
                                         max_length=20)
    must_not_contain = serializers.ListField(child=FactField(max_length=200), required=False,
                                             default=list, max_length=20)
    must_hand_off = serializers.BooleanField(required=False, default=False)


class KnowledgeTestSerializer(serializers.ModelSerializer):
    """A knowledge test and its latest verdict (``last_result`` empty: never run)."""

    topic_id = serializers.UUIDField(allow_null=True, read_only=True)

    class Meta:
        model = KnowledgeTest
        fields = ("id", "assistant_id", "question", "must_contain", "must_not_contain", "must_hand_off", "origin",
                  "topic_id", "last_result", "last_answer", "last_grounding", "last_reason", "last_run_at",
                  "created_at")
        read_only_fields = fields


class TestResultSerializer(serializers.Serializer):
    test_id = serializers.UUIDField()
    question = serializers.CharField()
    passed = serializers.BooleanField()
    answer = serializers.CharField(help_text="The answer the assistant gave.")
    grounding = serializers.CharField()
    reason = serializers.CharField(help_text="Why it failed (empty when it passed).")


class KnowledgeTestRunSerializer(serializers.ModelSerializer):
    """A run of all an assistant's tests: ``queued``, ``running``, then ``done`` (each result with
    the answer given) or ``failed`` (``error`` says why)."""

    results = TestResultSerializer(many=True, read_only=True)

    class Meta:
        model = KnowledgeTestRun
        fields = ("id", "assistant_id", "status", "total", "passed", "failed", "results", "error", "created_at",
                  "finished_at")
        read_only_fields = fields
