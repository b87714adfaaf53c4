from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from businesses.tenancy import TenantManager, TenantModel


class Assistant(TenantModel):
    """A business's assistant: who it is, how it talks, when humans are around."""

    class Tone(models.TextChoices):
        FRIENDLY = "friendly"
        PROFESSIONAL = "professional"
        CONCISE = "concise"
        PLAYFUL = "playful"

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=80)
    persona = models.TextField(blank=True, help_text="Who the assistant is, in a few sentences.")
    instructions = models.TextField(blank=True, help_text="Rules the assistant must follow.")
    greeting = models.CharField(max_length=500, blank=True)
    language = models.CharField(max_length=16, default="en", help_text="Default language (BCP 47, e.g. 'en', 'zh').")
    tone = models.CharField(max_length=16, choices=Tone.choices, default=Tone.FRIENDLY)
    # {"mon": [["11:30", "14:30"], ["18:00", "22:00"]], ...}; a missing day is closed.
    business_hours = models.JSONField(default=dict, blank=True)
    handoff_message = models.CharField(max_length=500, blank=True)
    temperature = models.FloatField(default=0.3, validators=[MinValueValidator(0.0), MaxValueValidator(2.0)])
    max_answer_tokens = models.PositiveIntegerField(
        default=400, validators=[MinValueValidator(16), MaxValueValidator(4096)]
    )
    model_override = models.CharField(max_length=200, blank=True)

    objects = TenantManager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "slug"], name="assistant_business_slug_unique")]
        indexes = [models.Index(fields=["business", "-created_at"], name="assistant_business_created")]

    def __str__(self) -> str:
        return self.name
