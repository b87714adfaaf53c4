"""What a business holds that its plan limits: assistants, knowledge sources and their bytes.

The rows belong to the assistants app, which billing does not import (it sits below it): the
app that owns them registers how to count them (``AssistantsConfig.ready``). The quota checks
count when they are called, after locking the subscription, so a count is never stale.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

_counters: dict[str, Callable] = {}


def holdings_counters_register(*, assistants: Callable[..., int],
                               knowledge: Callable[..., tuple[int, int]]) -> None:
    """``assistants(business_id=)`` → how many; ``knowledge(business_id=)`` → (sources, bytes)."""
    _counters.update(assistants=assistants, knowledge=knowledge)


def _counter(name: str) -> Callable:
    try:
        return _counters[name]
    except KeyError:
        # Fail closed: a quota that counted nothing would let everything through.
        raise ImproperlyConfigured(f"No counter of {name} is registered with billing.holdings.") from None


def assistant_count(*, business_id) -> int:
    return _counter("assistants")(business_id=business_id)


def knowledge_usage(*, business_id) -> tuple[int, int]:
    """(sources, bytes) the business holds now."""
    return _counter("knowledge")(business_id=business_id)
