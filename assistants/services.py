"""Use cases that change assistants."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from assistants.models import Assistant
from businesses.models import Business
from businesses.services import slug_unique
from config.errors import ApplicationError

ASSISTANT_EDITABLE = (
    "name", "persona", "instructions", "greeting", "language", "tone", "business_hours",
    "handoff_message", "temperature", "max_answer_tokens", "model_override",
)


def _slug_for(business: Business, name: str) -> str:
    return slug_unique(
        text=name,
        taken=lambda s: Assistant.objects.for_business(business).filter(slug=s).exists(),
        fallback="assistant",
    )


def assistant_create(*, business: Business, data: dict) -> Assistant:
    fields = {name: data[name] for name in ASSISTANT_EDITABLE if name in data}
    assistant = Assistant(business=business, slug=_slug_for(business, fields["name"]), **fields)
    # Uniqueness is left to the database: full_clean would query unscoped.
    assistant.full_clean(exclude=["business"], validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            assistant.save()
    except IntegrityError as exc:
        raise ApplicationError("conflict", "Another assistant was created with the same name just now; retry.",
                               status=409) from exc
    return assistant


def assistant_create_default(*, business: Business) -> Assistant:
    """The assistant every business starts with: useful before the owner changes anything."""
    return assistant_create(
        business=business,
        data={
            "name": f"{business.name} assistant"[:100],
            "persona": f"You are the front-desk assistant of {business.name}. You are warm, brief and accurate.",
            "instructions": (
                "Answer only from the business's knowledge. If the knowledge does not answer the question, "
                "say you do not know and offer to connect the customer with a person. Never invent prices, "
                "opening hours or availability."
            ),
            "greeting": f"Hi! I'm the assistant of {business.name}. How can I help?",
            "language": (business.locale or "en").split("-")[0],
            "handoff_message": "I'll ask a person from our team to reply here as soon as possible.",
        },
    )


def assistant_update(*, assistant: Assistant, data: dict) -> Assistant:
    fields = [name for name in ASSISTANT_EDITABLE if name in data]
    for name in fields:
        setattr(assistant, name, data[name])
    if fields:
        assistant.full_clean(exclude=["business", "slug"], validate_unique=False, validate_constraints=False)
        assistant.save(update_fields=[*fields, "updated_at"])
    return assistant


def assistant_delete(*, assistant: Assistant) -> None:
    assistant.delete()
