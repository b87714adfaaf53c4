from __future__ import annotations

from rest_framework import serializers

from assistants.models import WhatsAppConnection
from businesses.api.serializers import StrictSerializer


class ConnectionSerializer(serializers.ModelSerializer):
    """A connection as the API shows it: the access token is never part of it."""

    assistant_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = WhatsAppConnection
        fields = ("id", "assistant_id", "phone_number_id", "display_phone_number", "owner_whatsapp", "created_at",
                  "updated_at")
        read_only_fields = fields


class ConnectionCreateSerializer(StrictSerializer):
    phone_number_id = serializers.RegexField(r"^\d{1,64}$", help_text="Meta's phone number id (digits).")
    assistant_id = serializers.UUIDField()
    access_token = serializers.CharField(max_length=2000, write_only=True, trim_whitespace=True,
                                         help_text="A system-user access token with whatsapp_business_messaging.")
    owner_whatsapp = serializers.CharField(max_length=32, required=False, default="", allow_blank=True,
                                           help_text="The owner's WhatsApp number (international form) for handoffs.")
    display_phone_number = serializers.CharField(max_length=32, required=False, default="", allow_blank=True)


class ConnectionUpdateSerializer(StrictSerializer):
    assistant_id = serializers.UUIDField(required=False)
    access_token = serializers.CharField(max_length=2000, write_only=True, required=False, trim_whitespace=True)
    owner_whatsapp = serializers.CharField(max_length=32, required=False, allow_blank=True)
    display_phone_number = serializers.CharField(max_length=32, required=False, allow_blank=True)


class FaqFromMessageSerializer(StrictSerializer):
    question = serializers.CharField(max_length=2000, required=False,
                                     help_text="Defaults to the customer message before the reply.")
    title = serializers.CharField(max_length=300, required=False)
