from __future__ import annotations

from rest_framework import serializers

from businesses.api.serializers import StrictSerializer
from businesses.models import WebhookDelivery, WebhookEndpoint
from businesses.webhooks.events import EVENT_TYPES


class WebhookEndpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = ("id", "url", "description", "event_types", "active", "disabled_at", "disabled_reason",
                  "consecutive_failures", "secret_hint", "created_at", "updated_at")
        read_only_fields = fields

    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES),
                                        help_text="Event types sent to this URL; empty means all.")


class WebhookEndpointCreateSerializer(StrictSerializer):
    url = serializers.CharField(max_length=2048, help_text="https:// URL that receives the POSTs.")
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES), required=False,
                                        default=list, max_length=len(EVENT_TYPES) * 2,
                                        help_text="Event types to receive; empty or absent means all.")


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(help_text="The signing secret (whsec_…). Shown only in this response; store it now.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = (*WebhookEndpointSerializer.Meta.fields, "secret")
        read_only_fields = fields


class WebhookAttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True, help_text="null when no HTTP answer came back")
    error = serializers.CharField(allow_blank=True)
    duration_ms = serializers.IntegerField()
    response = serializers.CharField(allow_blank=True, help_text="The first 512 bytes of the answer")


class WebhookDeliverySerializer(serializers.ModelSerializer):
    attempt_count = serializers.IntegerField(source="attempts", read_only=True)
    attempts = WebhookAttemptSerializer(source="attempt_log", many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = ("id", "event_id", "event_type", "status", "attempt_count", "next_attempt_at", "last_status_code",
                  "last_error", "payload", "attempts", "created_at", "updated_at", "completed_at")
        read_only_fields = fields


class WebhookDeliveryQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, required=False)
