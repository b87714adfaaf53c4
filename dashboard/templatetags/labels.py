"""Words for the codes the pages show (roles, states, statuses, kinds, channels), in the
reader's language: ``{{ conversation.state|label:"state" }}``."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from businesses.roles import ROLE_LABELS

register = template.Library()

LABELS = {
    "role": ROLE_LABELS,
    "state": {"bot": pgettext_lazy("conversation", "Assistant"), "handoff": _("Waiting for a person"),
              "closed": pgettext_lazy("conversation", "Closed")},
    "status": {"pending": _("Waiting"), "processing": _("Reading"), "ready": _("Ready"), "failed": _("Failed"),
               "needs_review": _("Needs your review"), "passed": _("Passed"), "queued": _("Queued"),
               "running": _("Running"), "done": _("Done"),
               "succeeded": _("Delivered"), "complete": _("Complete"), "active": _("Active"),
               "trialing": _("Trial"), "past_due": _("Payment overdue"), "canceled": _("Cancelled"),
               "unpaid": _("Unpaid"), "incomplete": _("Incomplete"), "paused": _("Paused")},
    "kind": {"text": _("Text"), "faq": _("Questions and answers"), "file": _("File"), "url": _("Website"),
             "catalog": _("Menu items"), "secret": _("Secret key"), "publishable": _("Publishable key")},
    "channel": {"api": "API", "widget": _("Website chat"), "whatsapp": "WhatsApp", "openai": _("OpenAI API"),
                "playground": _("Playground")},
    "grounding": {"catalog": _("the menu"), "hours": _("the opening hours"), "passages": _("knowledge passages"),
                  "none": _("nothing relevant: handed to a person")},
    "reason": {"customer_request": _("the customer asked for a person"), "staff_takeover": _("taken over by staff"),
               "no_answer": _("the assistant had no answer"), "quota_exceeded": _("the plan's messages ran out"),
               "inference_unavailable": _("the model server was unavailable")},
    # Why a question is among the unanswered ones (assistants.models.UnansweredQuestion.Reason).
    # Where a knowledge test came from (assistants.models.KnowledgeTest.Origin).
    "origin": {"owner": _("written by you"), "topic": _("from an answered question"),
               "correction": _("from a staff reply")},
    "unanswered": {"no_answer": _("no answer in the knowledge"), "handoff": _("handed to a person"),
                   "thumbs_down": _("rated down by the customer")},
}


@register.filter
def label(value, group: str) -> str:
    return str(LABELS.get(group, {}).get(value, value if value is not None else ""))
