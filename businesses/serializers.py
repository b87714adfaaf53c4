from __future__ import annotations

from rest_framework import serializers

from businesses.api.serializers import StrictModelSerializer, StrictSerializer
from businesses.models import ApiKey, AuditEvent, Business, validate_timezone


class SignupSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=150)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    business_name = serializers.CharField(max_length=200)
    timezone = serializers.CharField(max_length=64, required=False, default="UTC", validators=[validate_timezone])
    locale = serializers.CharField(max_length=16, required=False, default="en")


class BusinessSerializer(StrictModelSerializer):
    class Meta:
        model = Business
        fields = ("id", "name", "slug", "timezone", "locale", "handoff_email", "handoff_phone",
                  "deletion_scheduled_for", "created_at",
                  "updated_at")
        read_only_fields = ("id", "slug", "deletion_scheduled_for", "created_at", "updated_at")


class ApiKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ("id", "name", "kind", "prefix", "created_at", "last_used_at", "revoked_at")
        read_only_fields = fields


class ApiKeyCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100, required=False, default="default")
    kind = serializers.ChoiceField(choices=ApiKey.Kind.choices, required=False, default=ApiKey.Kind.SECRET)


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The full key. Shown only in this response; store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = (*ApiKeySerializer.Meta.fields, "key")
        read_only_fields = fields


class SignupResponseSerializer(serializers.Serializer):
    user = serializers.DictField()
    business = BusinessSerializer()
    assistant = serializers.DictField()
    api_keys = serializers.DictField(child=serializers.CharField(),
                                     help_text="'secret' (sk_…) and 'publishable' (pk_…), shown only once.")


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ("id", "created_at", "actor_kind", "actor", "ip", "action", "target_type", "target_id", "details")
        read_only_fields = fields
