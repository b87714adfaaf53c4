from __future__ import annotations

from rest_framework import serializers

from assistants.models import Conversation, Message
from businesses.api.serializers import StrictSerializer


class ConversationStartSerializer(StrictSerializer):
    external_id = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    channel = serializers.ChoiceField(choices=[Conversation.Channel.API, Conversation.Channel.WIDGET], required=False)
    metadata = serializers.DictField(required=False, default=dict)


class ConversationSerializer(serializers.ModelSerializer):
    assistant_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = Conversation
        fields = ("id", "assistant_id", "channel", "external_id", "state", "metadata", "last_message_at",
                  "created_at", "updated_at")
        read_only_fields = fields


class MessageSendSerializer(StrictSerializer):
    content = serializers.CharField(max_length=8000)
    role = serializers.ChoiceField(choices=["customer", "staff"], required=False, default="customer")


def message_dict(message: Message | None) -> dict | None:
    """The message shape of the public API (DESIGN.md "Send a message")."""
    if message is None:
        return None
    return {
        "id": str(message.pk),
        "conversation_id": str(message.conversation_id),
        "role": message.role,
        "content": message.content,
        "citations": message.citations,
        "status": message.status,
        "error": message.error or None,
        "backend": message.backend or None,
        "grounding": message.grounding or None,
        "usage": {"prompt_tokens": message.tokens_in, "completion_tokens": message.tokens_out},
        "rating": message.rating or None,
        "rating_comment": message.rating_comment or None,
        "created_at": message.created_at.isoformat().replace("+00:00", "Z"),
    }


class MessageSerializer(serializers.Serializer):
    """For the OpenAPI schema; responses are built by message_dict."""

    id = serializers.UUIDField()
    conversation_id = serializers.UUIDField()
    role = serializers.ChoiceField(choices=Message.Role.choices)
    content = serializers.CharField()
    citations = serializers.ListField(child=serializers.DictField())
    status = serializers.ChoiceField(choices=Message.Status.choices)
    error = serializers.CharField(allow_null=True)
    backend = serializers.CharField(allow_null=True)
    grounding = serializers.ChoiceField(choices=Message.Grounding.choices, allow_null=True,
                                        help_text="What the answer rests on; none: the handoff answer.")
    usage = serializers.DictField()
    rating = serializers.ChoiceField(choices=Message.Rating.choices, allow_null=True,
                                     help_text="The feedback on an assistant answer: up (helpful), down, or null.")
    rating_comment = serializers.CharField(allow_null=True, help_text="The comment sent with the rating.")
    created_at = serializers.DateTimeField()


class MessageFeedbackSerializer(StrictSerializer):
    rating = serializers.ChoiceField(choices=Message.Rating.choices, allow_null=True, help_text=(
        "up (helpful) or down (not helpful); replaces an earlier rating. null removes the rating and its comment."))
    comment = serializers.CharField(max_length=1000, required=False, default="", allow_blank=True,
                                    help_text="Optional; goes with a rating and is replaced with it.")
