"""Reads of knowledge tests."""

from __future__ import annotations

from django.db.models import QuerySet

from assistants.models import Assistant, KnowledgeTest, KnowledgeTestRun


def knowledge_test_list(*, assistant: Assistant) -> QuerySet[KnowledgeTest]:
    """Unordered: the list's paginator orders it."""
    return KnowledgeTest.objects.for_business(assistant.business_id).filter(assistant=assistant)


def knowledge_run_latest(*, assistant: Assistant) -> KnowledgeTestRun | None:
    return (KnowledgeTestRun.objects.for_business(assistant.business_id).filter(assistant=assistant)
            .order_by("-created_at").first())
