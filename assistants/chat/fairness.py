"""Sharing the model servers fairly between businesses (docs/chat.md "Fair sharing").

- ``share_for``: the business's place in the admission to the model servers
  (``inference/admission.py``): its plan's answers in flight, queue weight and vLLM priority.
- ``message_limits_check``: customer messages per minute, for the whole business (its plan's
  ``messages_per_minute``) and per customer (RATELIMIT_MESSAGES_PER_CUSTOMER), so one customer
  cannot spend the business's monthly allowance in an afternoon. Checked before the customer
  message is saved (429 ``rate_limited`` with Retry-After) on the API, and by WhatsApp, which
  keeps the message and hands it to a person instead.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import astuple, dataclass

import redis
from django.conf import settings
from django.core.cache import cache

from assistants.models import Conversation, Message
from billing.selectors import QuotaContext, quota_context
from businesses.api.ratelimit import hit
from config import redis_client
from config.errors import ApplicationError
from inference.admission import Share

__all__ = ["PlanShare", "Queued", "message_limits_check", "message_limits_hit", "plan_share", "plan_share_forget",
           "share_for"]

# Plans change rarely (the admin, a Stripe event): a business's values are read again after this.
PLAN_CACHE_SECONDS = 60


@dataclass(frozen=True)
class Queued:
    """The answer waits for its turn at the model servers; ``position`` among its business's
    waiting answers (1: next of them)."""

    position: int


@dataclass(frozen=True)
class PlanShare:
    answers_in_flight: int
    share_weight: int
    inference_priority: int
    messages_per_minute: int


def _from_plan(plan) -> PlanShare:
    return PlanShare(plan.answers_in_flight, plan.share_weight, plan.inference_priority, plan.messages_per_minute)


def _plan_key(business_id) -> str:
    return f"fair:plan:{business_id}"


def plan_share(*, business_id, quota: QuotaContext | None = None) -> PlanShare:
    """The sharing values of the plan in force: from ``quota`` when the flow has it (quotas
    enforced), else a lookup cached for PLAN_CACHE_SECONDS, shared by all processes.

    The cache is the process's Redis client (config/redis_client.py), not Django's cache: under
    ASGI Django keeps a cache object per request context, so its Redis backend opened a new
    connection (and resolved the host) for every message. Without Redis (the demo), Django's
    in-process cache."""
    if quota is not None:
        return _from_plan(quota.plan)
    key = _plan_key(business_id)
    client = redis_client.client()
    if client is None:
        found = cache.get(key)
        if found is None:
            found = _from_plan(quota_context(business_id=business_id).plan)
            cache.set(key, found, PLAN_CACHE_SECONDS)
        return found
    raw = None
    with contextlib.suppress(redis.RedisError):  # a cache: the plan itself is in the database
        raw = client.get(key)
    if raw is not None:
        with contextlib.suppress(ValueError, TypeError):
            return PlanShare(*(int(part) for part in raw.split(b",")))
    found = _from_plan(quota_context(business_id=business_id).plan)
    with contextlib.suppress(redis.RedisError):
        client.set(key, ",".join(str(value) for value in astuple(found)), ex=PLAN_CACHE_SECONDS)
    return found


def plan_share_forget(*, business_id) -> None:
    """Drop the cached values, so every process reads the plan again on its next message."""
    key = _plan_key(business_id)
    client = redis_client.client()
    if client is None:
        cache.delete(key)
    else:
        client.delete(key)


def share_for(*, business_id, quota: QuotaContext | None = None) -> Share:
    values = plan_share(business_id=business_id, quota=quota)
    return Share(key=str(business_id), cap=values.answers_in_flight, weight=values.share_weight,
                 priority=values.inference_priority)


def customer_identity(*, business_id, external_id: str = "", conversation_id=None) -> str:
    """Who the customer is, for their rate-limit counter: the external id (a WhatsApp number, the
    API's ``external_id``) within the business when there is one, else the conversation (a widget
    customer). Qualified by the business, so that one business erasing a customer's data
    (assistants/privacy) never touches another business's counter of the same number."""
    return f"{business_id}:{external_id}" if external_id else str(conversation_id)


def message_limits_hit(*, conversation: Conversation, idempotency_key: str | None = None) -> float | None:
    """Count one customer message against both limits: None when allowed, else seconds to wait.

    A retry of a message already saved (the same Idempotency-Key) is not counted again."""
    if idempotency_key and Message.objects.for_business(conversation.business_id).filter(
            conversation_id=conversation.pk, idempotency_key=idempotency_key).exists():
        return None
    business_id = conversation.business_id
    per_minute = plan_share(business_id=business_id).messages_per_minute
    waits = []
    if per_minute:
        waits.append(hit(scope="messages-business", identity=str(business_id), rate=f"{per_minute} per minute"))
    if settings.RATELIMIT_MESSAGES_PER_CUSTOMER:
        identity = customer_identity(business_id=business_id, external_id=conversation.external_id,
                                     conversation_id=conversation.pk)
        waits.append(hit(scope="messages-customer", identity=identity, rate=settings.RATELIMIT_MESSAGES_PER_CUSTOMER))
    waits = [w for w in waits if w is not None]
    return max(waits) if waits else None


def message_limits_check(*, conversation: Conversation, idempotency_key: str | None = None) -> None:
    """``message_limits_hit``, as the API's 429 ``rate_limited`` with Retry-After."""
    wait = message_limits_hit(conversation=conversation, idempotency_key=idempotency_key)
    if wait is None:
        return
    retry_after = max(1, math.ceil(wait))
    raise ApplicationError("rate_limited", f"Too many messages; retry in {retry_after} s.", status=429,
                           details={"retry_after": retry_after}, headers={"Retry-After": str(retry_after)})
