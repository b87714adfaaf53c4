"""The event types Frontdesk emits. Extend only by adding: integrators subscribe to these names."""

from __future__ import annotations

EVENT_TYPES: tuple[str, ...] = (
    "conversation.started",
    "message.created",
    "conversation.handoff",
    "source.ready",
    "source.failed",
    "subscription.updated",
    "message.rated",
    "source.needs_review",
)
