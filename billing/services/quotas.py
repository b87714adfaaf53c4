"""Quotas: message reservations (one atomic statement each), usage counters, size limits.

The chat code calls ``message_quota_reserve`` after the customer message is saved and before
generation, ``message_quota_release`` when the answer failed, and ``usage_record_answer``
when an answer was saved. Knowledge and assistant code calls the two ``*_quota_check``s.
With ``BILLING_ENFORCE_QUOTAS`` off (benchmarks, emergencies) the message reservation and its
release do nothing; ``usage_record_answer`` still counts answers and tokens.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

import redis
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from billing.holdings import assistant_count, knowledge_usage
from billing.models import Plan, Subscription, UsagePeriod
from billing.selectors import USAGE_KEY_PREFIX, QuotaContext, quota_context, usage_key
from businesses.models import Business
from config import redis_client
from config.errors import ApplicationError

logger = logging.getLogger(__name__)

# One statement: create the period's row or add one to it, only while under the limit. Under
# READ COMMITTED, ON CONFLICT DO UPDATE locks the row and evaluates the WHERE on its newest
# version, so concurrent reservations queue on the row and none can overspend. The limit is
# a parameter (the plan in force now), so an upgrade takes effect at once.
_RESERVE_SQL = f"""
INSERT INTO {UsagePeriod._meta.db_table} AS u
    (id, business_id, created_at, updated_at, period_start, period_end, messages_used, messages_limit,
     overage_billable, answers, tokens_in, tokens_out, overage_reported)
VALUES (%(id)s, %(business_id)s, now(), now(), %(start)s, %(end)s, 1, %(limit)s, %(overage)s, 0, 0, 0, 0)
ON CONFLICT (business_id, period_start) DO UPDATE
    SET messages_used = u.messages_used + 1, messages_limit = EXCLUDED.messages_limit,
        overage_billable = EXCLUDED.overage_billable, updated_at = now()
    WHERE u.business_id = %(business_id)s AND (%(overage)s OR u.messages_used < %(limit)s)
RETURNING u.messages_used
"""  # noqa: S608 - the table name is ours; every value is a bound parameter


def _quota_exceeded(what: str, message: str, *, limit: int, **details) -> ApplicationError:
    return ApplicationError("quota_exceeded", message, status=402, details={"limit": limit, "resource": what,
                                                                            **details})


def _usage_row_ensure(ctx: QuotaContext, *, business_id) -> None:
    UsagePeriod.objects.for_business(business_id).bulk_create(
        [UsagePeriod(business_id=business_id, period_start=ctx.period_start, period_end=ctx.period_end,
                     messages_limit=ctx.plan.messages_per_month, overage_billable=ctx.plan.overage_allowed)],
        ignore_conflicts=True,
    )


def message_quota_reserve(*, business_id) -> QuotaContext | None:
    """Reserve one customer message of this period's allowance, or raise 402 ``quota_exceeded``.

    Plans with overage never refuse: the message is counted and the part beyond the allowance
    is reported to Stripe's meter (``usage_report``). Nothing at all (no query, no 402) while
    ``BILLING_ENFORCE_QUOTAS`` is off. Returns the plan and period it reserved in (None when
    off), for ``usage_record_answer`` to count the answer in the same period.
    """
    if not settings.BILLING_ENFORCE_QUOTAS:
        return None
    ctx = quota_context(business_id=business_id)
    plan = ctx.plan
    limit = plan.messages_per_month
    if limit > 0 or plan.overage_allowed:
        with connection.cursor() as cursor:
            cursor.execute(_RESERVE_SQL, {
                "id": uuid.uuid4(), "business_id": business_id, "start": ctx.period_start, "end": ctx.period_end,
                "limit": limit, "overage": plan.overage_allowed,
            })
            if cursor.fetchone() is not None:
                return ctx
    raise _quota_exceeded(
        "messages",
        f"This business has used all {limit} customer messages its {plan.name} plan includes this period; "
        f"the allowance resets at {ctx.period_end.isoformat()}. Upgrade the plan to keep answering.",
        limit=limit, resets_at=ctx.period_end.isoformat(),
    )


def message_quota_release(*, business_id) -> None:
    """Give back one reservation of the current period (the answer failed).

    A model outage is our failure, not the business's usage, so it does not eat the allowance.
    The customer message itself stays saved; a retry with the same Idempotency-Key reserves again.
    If the period rolled over between reserve and release, the new period's counter is the one
    given back (at most one message per failed answer, and never below zero). Nothing while
    ``BILLING_ENFORCE_QUOTAS`` is off (nothing was reserved).
    """
    if not settings.BILLING_ENFORCE_QUOTAS:
        return
    ctx = quota_context(business_id=business_id)
    UsagePeriod.objects.for_business(business_id).filter(
        period_start=ctx.period_start, messages_used__gt=0,
    ).update(messages_used=F("messages_used") - 1, updated_at=timezone.now())


def usage_record_answer(*, business_id, tokens_in: int, tokens_out: int, ctx: QuotaContext | None = None) -> None:
    """Count one answer and its tokens in the current period, or in ``ctx``'s (the period its
    customer message was reserved in, as ``message_quota_reserve`` returned it).

    With Redis the counts go to a hash per business and period (one round trip, no row lock
    shared by every answer of the business); ``usage_flush`` adds them to the period's row
    (celery beat every ``BILLING_USAGE_FLUSH_SECONDS``, and before usage is read). Without
    Redis, or when it fails, the row is updated at once: a count is never dropped."""
    ctx = ctx or quota_context(business_id=business_id)
    tokens_in, tokens_out = max(0, int(tokens_in)), max(0, int(tokens_out))
    client = redis_client.client()
    if client is not None:
        key = usage_key(business_id, ctx.period_start)
        try:
            pipe = client.pipeline(transaction=False)
            pipe.hincrby(key, "answers", 1)
            pipe.hincrby(key, "tokens_in", tokens_in)
            pipe.hincrby(key, "tokens_out", tokens_out)
            pipe.sadd(_USAGE_DIRTY, key)
            pipe.execute()
            return
        except redis.RedisError:
            logger.warning("usage: Redis failed; counting the answer in the database", exc_info=True)
    _usage_add(ctx, business_id=business_id, answers=1, tokens_in=tokens_in, tokens_out=tokens_out)


_USAGE_PREFIX = USAGE_KEY_PREFIX
_USAGE_DIRTY = _USAGE_PREFIX + "dirty"  # the set of hashes holding counts not yet in the database
_FIELDS = ("answers", "tokens_in", "tokens_out")


def _usage_add(ctx: QuotaContext, *, business_id, answers: int, tokens_in: int, tokens_out: int) -> None:
    rows = UsagePeriod.objects.for_business(business_id).filter(period_start=ctx.period_start)
    change = {"answers": F("answers") + answers, "tokens_in": F("tokens_in") + tokens_in,
              "tokens_out": F("tokens_out") + tokens_out, "updated_at": timezone.now()}
    if not rows.update(**change):
        _usage_row_ensure(ctx, business_id=business_id)
        rows.update(**change)


# Drops a hash whose counts all reached zero (flushed), atomically: an answer counted in
# between keeps it.
_DROP_FLUSHED = """
for i = 3, #ARGV do
    if tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0') ~= 0 then return 0 end
end
redis.call('DEL', KEYS[1])
redis.call('SREM', ARGV[1], ARGV[2])
return 1
"""


def usage_flush(*, business_id=None) -> int:
    """Add the answers and tokens counted in Redis to their periods' rows (every business, or
    one). One flush at a time (a Redis lock); the counts are taken off Redis by subtraction
    after the row's update committed, so answers counted meanwhile stay for the next flush (a
    crash between the two counts a batch twice; nothing is ever lost). Returns the hashes
    flushed. Billing's message allowance is not here: reservations are exact, in the database."""
    client = redis_client.client()
    if client is None:
        return 0
    lock = client.lock(_USAGE_PREFIX + "flush-lock", timeout=120, blocking_timeout=10)
    if not lock.acquire():
        logger.warning("usage: another flush holds the lock; these counts wait for the next one")
        return 0
    try:
        pattern = f"{_USAGE_PREFIX}{business_id}:*" if business_id is not None else None
        keys = [k.decode() for k in client.sscan_iter(_USAGE_DIRTY, match=pattern)]
        flushed = 0
        for key in keys:
            values = client.hgetall(key)
            counts = {field: int(values.get(field.encode(), 0)) for field in _FIELDS}
            owner, _, start = key[len(_USAGE_PREFIX):].partition(":")
            if any(counts.values()) and not Business.objects.filter(pk=owner).exists():
                client.delete(key)  # the business was deleted: nothing left to count for
                counts = dict.fromkeys(_FIELDS, 0)
            if any(counts.values()):
                ctx = quota_context(business_id=owner)
                period_start = datetime.fromisoformat(start)
                if ctx.period_start != period_start:  # an ended period: its row exists (reserved)
                    ctx = QuotaContext(ctx.subscription, ctx.plan, period_start, ctx.period_end)
                with transaction.atomic():
                    _usage_add(ctx, business_id=owner, **counts)
                pipe = client.pipeline(transaction=True)
                for field, value in counts.items():
                    pipe.hincrby(key, field, -value)
                pipe.execute()
                flushed += 1
            client.eval(_DROP_FLUSHED, 1, key, _USAGE_DIRTY, key, *_FIELDS)
        return flushed
    finally:
        lock.release()


def _lock_subscription(business_id) -> None:
    """Inside the caller's transaction, serialise limit checks of one business on its subscription
    row, so two concurrent creations cannot both pass a check meant for one."""
    if connection.in_atomic_block:
        Subscription.objects.for_business(business_id).select_for_update().values_list("pk").first()


def assistant_quota_check(*, business) -> None:
    """Raise 402 ``quota_exceeded`` if the plan allows no further assistant.

    Call it inside the transaction that creates the assistant to make the check race-free.
    """
    plan: Plan = quota_context(business_id=business.pk).plan
    _lock_subscription(business.pk)
    used = assistant_count(business_id=business.pk)
    if used >= plan.max_assistants:
        raise _quota_exceeded("assistants", f"The {plan.name} plan includes {plan.max_assistants} assistant(s) "
                              f"and this business has {used}. Upgrade the plan to add more.",
                              limit=plan.max_assistants, used=used)


def source_quota_check(*, business, adding_bytes: int) -> None:
    """Raise 402 ``quota_exceeded`` if one more source of ``adding_bytes`` would pass the plan's
    source count or knowledge size. Call it inside the creating transaction (see above)."""
    plan: Plan = quota_context(business_id=business.pk).plan
    _lock_subscription(business.pk)
    sources, size = knowledge_usage(business_id=business.pk)
    if sources >= plan.max_sources:
        raise _quota_exceeded("sources", f"The {plan.name} plan includes {plan.max_sources} knowledge sources "
                              f"and this business has {sources}. Delete one or upgrade the plan.",
                              limit=plan.max_sources, used=sources)
    if size + max(0, adding_bytes) > plan.max_knowledge_bytes:
        raise _quota_exceeded(
            "knowledge_bytes",
            f"The {plan.name} plan includes {plan.max_knowledge_bytes:,} bytes of knowledge; this business "
            f"uses {size:,} and the new source adds {adding_bytes:,}. Delete a source or upgrade the plan.",
            limit=plan.max_knowledge_bytes, used=size, adding=adding_bytes)

