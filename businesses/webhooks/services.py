"""Outgoing webhooks: endpoints, emitting events, sending them with retries.

The rest of the code calls :func:`event_emit` and nothing else. Sending is one attempt per
Celery task (``webhook_deliver_task`` on the ``webhooks`` queue); a failed attempt schedules
the next one with ``apply_async(countdown=…)`` and writes ``next_attempt_at`` on the row, so
``webhook_sweep`` (celery beat) re-queues any whose message was lost.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Exists
from django.utils import timezone

from assistants.ingestion.errors import IngestionError
from assistants.ingestion.fetch import MAX_URL_LENGTH, check_url_allowed
from businesses.audit import Actor, audit_record
from businesses.models import Business, WebhookDelivery, WebhookEndpoint
from businesses.webhooks import crypto, sender, signing
from businesses.webhooks.events import EVENT_TYPES
from config.errors import ApplicationError
from config.tasks import enqueue_on_commit

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status
# A claimed delivery is someone's for this long; after it (a worker died mid-send) the sweep
# may hand it to another worker.
CLAIM_SLACK_SECONDS = 60
# Clock differences between the worker that scheduled an attempt and the one that runs it.
DUE_TOLERANCE = timedelta(seconds=5)
# The sweep re-queues pending deliveries this far past due (their message was lost).
SWEEP_GRACE = timedelta(minutes=5)
SWEEP_BATCH = 500


# --------------------------------------------------------------------------- endpoints


def webhook_url_check(*, url: str) -> str:
    """The URL, stripped, if webhooks may be sent to it; else ApplicationError (400)."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise ApplicationError("invalid_url", f"The URL is longer than {MAX_URL_LENGTH} characters.")
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise ApplicationError("invalid_url", "The URL must start with https://.")
    if scheme == "http" and not settings.WEBHOOKS_ALLOW_HTTP:
        raise ApplicationError("invalid_url", "Webhook URLs must use https:// (the body carries your data).")
    try:
        check_url_allowed(url=url, allow_private=settings.WEBHOOKS_ALLOW_PRIVATE_URLS)
    except IngestionError as exc:
        code, message = sender.guard_messages(exc, url)
        raise ApplicationError(code, message, details={"url": url}) from exc
    return url


def webhook_endpoint_create(*, business: Business, url: str, description: str = "",
                            event_types: list[str] | None = None,
                            actor: Actor | None = None) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret, which is never shown again."""
    url = webhook_url_check(url=url)
    types = list(dict.fromkeys(event_types or []))
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown:
        raise ApplicationError("validation_error", f"Unknown event types: {', '.join(unknown)}.",
                               details={"fields": {"event_types": [f"Choose from {', '.join(EVENT_TYPES)}."]}})
    with transaction.atomic():
        # Lock the business row so two concurrent creates cannot both pass the count.
        Business.objects.select_for_update().filter(pk=business.pk).first()
        if WebhookEndpoint.objects.for_business(business).count() >= settings.WEBHOOKS_MAX_ENDPOINTS:
            raise ApplicationError("limit_reached",
                                   f"A business can have at most {settings.WEBHOOKS_MAX_ENDPOINTS} webhook endpoints.",
                                   status=409, details={"limit": settings.WEBHOOKS_MAX_ENDPOINTS})
        secret = crypto.secret_generate()
        endpoint = WebhookEndpoint.objects.unscoped().create(
            business=business, url=url, description=description, event_types=types,
            secret_encrypted=crypto.secret_encrypt(secret), secret_hint=crypto.secret_hint(secret),
        )
        audit_record(business_id=business.pk, actor=actor, action="webhook.created", target_type="webhook",
                     target_id=endpoint.pk, details={"url": url, "event_types": types})
    return endpoint, secret


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: Actor | None = None) -> None:
    """Delete the endpoint and its delivery history; queued attempts find nothing and stop."""
    with transaction.atomic():
        audit_record(business_id=endpoint.business_id, actor=actor, action="webhook.deleted", target_type="webhook",
                     target_id=endpoint.pk, details={"url": endpoint.url})
        endpoint.delete()


# --------------------------------------------------------------------------- emitting


class _EnqueueSafely:
    """What ``enqueue_on_commit`` sends: a broker outage is logged, never raised into the request or
    task that emitted the event (the row is saved with next_attempt_at; the sweep sends it later)."""

    def __init__(self, task) -> None:
        self.task = task

    def delay(self, *args):
        try:
            return self.task.delay(*args)
        except Exception:
            logger.exception("webhooks: could not queue delivery %s; the sweep will retry it", args[-1:])
            return None

    def apply(self, *, args):
        return self.task.apply(args=args)


def event_emit(*, business_id: uuid.UUID | str, type: str, data: dict, listening: bool = True) -> None:
    """Record event ``type`` for every active endpoint of business ``business_id`` that subscribes
    to it, and send each delivery once the caller's transaction commits.

    Never raises and never waits on the network: an error here is logged and the caller's work
    goes on (a database error while recording rolls back only this function's savepoint). Synchronous: async code
    calls it through ``sync_to_async``. Types: :data:`businesses.webhooks.events.EVENT_TYPES`.
    ``listening=False``: the caller read in its own query that the business has no active
    endpoint (``webhooks_listening``), so there is nothing to record and no query is made.
    """
    if not listening:
        return
    try:
        _event_emit(business_id=business_id, type=type, data=data)
    except Exception:
        logger.exception("webhooks: could not emit %r for business %s", type, business_id)


def webhooks_listening(business_ref) -> Exists:
    """An expression for a query's annotation: whether the business (``business_ref``, e.g.
    ``OuterRef("business_id")``) has an active endpoint, read along with the caller's own row."""
    return Exists(WebhookEndpoint.objects.unscoped().filter(business_id=business_ref, active=True))


# The active endpoints of one business that take an event type (all types when the list is empty).
_ENDPOINTS_SQL = f"""
    SELECT id FROM {WebhookEndpoint._meta.db_table}
    WHERE business_id = %s AND active AND (event_types = '[]'::jsonb OR event_types @> %s::jsonb)
"""  # noqa: S608 - the table name is ours; values are bound


def _event_emit(*, business_id: uuid.UUID | str, type: str, data: dict) -> None:
    from businesses.webhooks.tasks import webhook_deliver_task

    if type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {type!r}; add it to EVENT_TYPES first")
    if not isinstance(data, dict):
        raise TypeError(f"event data must be a dict, not {data.__class__.__name__}")
    # Twice per chat message (the customer's and the answer): one plain statement, no ORM
    # query building, and nothing more when no endpoint listens (most businesses, most events).
    with connection.cursor() as cursor:
        cursor.execute(_ENDPOINTS_SQL, [business_id, json.dumps([type])])
        endpoint_ids = [row[0] for row in cursor.fetchall()]
    if not endpoint_ids:
        return
    event_id = uuid.uuid4()
    envelope = {"id": str(event_id), "type": type, "created": int(time.time()),
                "data": json.loads(json.dumps(data, cls=DjangoJSONEncoder))}
    with transaction.atomic():  # a savepoint when the caller has a transaction open
        now = timezone.now()
        deliveries = WebhookDelivery.objects.unscoped().bulk_create([
            WebhookDelivery(business_id=business_id, endpoint_id=endpoint_id, event_id=event_id, event_type=type,
                            payload=envelope, next_attempt_at=now)
            for endpoint_id in endpoint_ids
        ])
    for delivery in deliveries:
        enqueue_on_commit(_EnqueueSafely(webhook_deliver_task), str(business_id), str(delivery.pk))


# --------------------------------------------------------------------------- sending


def retry_delay(attempt: int, *, jitter: bool = True) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): base·2^(n-1), capped, ±10 %."""
    delay = min(settings.WEBHOOKS_RETRY_MAX_SECONDS, settings.WEBHOOKS_RETRY_BASE_SECONDS * 2 ** (attempt - 1))
    return delay * random.uniform(0.9, 1.1) if jitter else delay


@dataclass(frozen=True)
class AttemptResult:
    delivery: WebhookDelivery
    outcome: sender.SendOutcome
    retry_in: float | None  # seconds until the next attempt; None when the delivery is finished
    endpoint_disabled: bool = False


def delivery_body(delivery: WebhookDelivery) -> bytes:
    """The exact bytes POSTed (the signature covers them), keys in the documented order."""
    p = delivery.payload
    envelope = {"id": p["id"], "type": p["type"], "created": p["created"], "data": p["data"]}
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


def delivery_attempt(*, business_id: uuid.UUID | str, delivery_id: uuid.UUID | str) -> AttemptResult | None:
    """Make the next attempt of one delivery if it is due; record it; schedule the one after.

    Safe to call twice for the same attempt (a redelivered Celery message, the sweep): only the
    caller whose UPDATE claims the row sends. None when there was nothing to do.
    """
    now = timezone.now()
    lease = now + timedelta(seconds=settings.WEBHOOKS_TIMEOUT * 3 + CLAIM_SLACK_SECONDS)
    claimed = (WebhookDelivery.objects.for_business(business_id)
               .filter(pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now + DUE_TOLERANCE)
               .update(next_attempt_at=lease))
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.for_business(business_id).select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.active:
        _finish_disabled(business_id=business_id, endpoint=endpoint, now=now)
        return None

    outcome = _send(delivery=delivery, endpoint=endpoint)
    result = _record(delivery=delivery, outcome=outcome)
    if result is not None and result.retry_in is not None:
        _schedule(business_id, delivery.pk, countdown=result.retry_in)
    return result


def _send(*, delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> sender.SendOutcome:
    if urlsplit(endpoint.url).scheme.lower() != "https" and not settings.WEBHOOKS_ALLOW_HTTP:
        return sender.SendOutcome(None, "invalid_url: plain http:// is not allowed (WEBHOOKS_ALLOW_HTTP).", 0)
    try:
        secret = crypto.secret_decrypt(endpoint.secret_encrypted)
    except crypto.SecretUnreadable as exc:
        logger.error("webhooks: endpoint %s: %s", endpoint.pk, exc)
        return sender.SendOutcome(None, f"secret_unreadable: {exc}", 0)
    body = delivery_body(delivery)
    headers = {
        signing.HEADER: signing.sign(body, secret),
        "Frontdesk-Event-Id": str(delivery.event_id),
        "Frontdesk-Event-Type": delivery.event_type,
        "Frontdesk-Delivery-Id": str(delivery.pk),
        "Frontdesk-Attempt": str(delivery.attempts + 1),
    }
    return sender.post(url=endpoint.url, body=body, headers=headers, timeout=settings.WEBHOOKS_TIMEOUT,
                       allow_private=settings.WEBHOOKS_ALLOW_PRIVATE_URLS)


def _record(*, delivery: WebhookDelivery, outcome: sender.SendOutcome) -> AttemptResult | None:
    """One short transaction: the attempt on the delivery, the streak on the endpoint."""
    now = timezone.now()
    number = delivery.attempts + 1
    entry = {"number": number, "at": now.isoformat(), "status_code": outcome.status_code, "error": outcome.error,
             "duration_ms": outcome.duration_ms, "response": outcome.response_excerpt}
    disabled = False
    with transaction.atomic():
        endpoint = (WebhookEndpoint.objects.for_business(delivery.business_id).select_for_update()
                    .filter(pk=delivery.endpoint_id).first())
        if endpoint is None:
            return None  # deleted while we were sending; its deliveries went with it
        if outcome.succeeded:
            endpoint.consecutive_failures = 0
            endpoint.failing_since = None
        else:
            endpoint.consecutive_failures += 1
            endpoint.failing_since = endpoint.failing_since or now
            disabled = endpoint.active and _should_disable(endpoint, now=now)
            if disabled:
                endpoint.active = False
                endpoint.disabled_at = now
                endpoint.disabled_reason = (
                    f"Disabled after {endpoint.consecutive_failures} failed attempts in a row since "
                    f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC; last error: {outcome.error}"
                )[:500]
        endpoint.save(update_fields=["consecutive_failures", "failing_since", "active", "disabled_at",
                                     "disabled_reason", "updated_at"])

        retry_in: float | None = None
        delivery.attempts = number
        delivery.attempt_log = [*delivery.attempt_log, entry]
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error
        if outcome.succeeded:
            delivery.status, delivery.next_attempt_at, delivery.completed_at = Status.SUCCEEDED, None, now
        elif number >= settings.WEBHOOKS_MAX_ATTEMPTS or not endpoint.active:
            delivery.status, delivery.next_attempt_at, delivery.completed_at = Status.FAILED, None, now
        else:
            retry_in = retry_delay(number)
            delivery.next_attempt_at = now + timedelta(seconds=retry_in)
        delivery.save(update_fields=["attempts", "attempt_log", "last_status_code", "last_error", "status",
                                     "next_attempt_at", "completed_at", "updated_at"])
        if disabled:
            _finish_disabled(business_id=delivery.business_id, endpoint=endpoint, now=now)
    if disabled:
        endpoint_disabled_notify(endpoint=endpoint)
    return AttemptResult(delivery=delivery, outcome=outcome, retry_in=retry_in, endpoint_disabled=disabled)


def _should_disable(endpoint: WebhookEndpoint, *, now: datetime) -> bool:
    failing_for = (now - endpoint.failing_since).total_seconds() if endpoint.failing_since else 0
    return (endpoint.consecutive_failures >= settings.WEBHOOKS_DISABLE_AFTER_FAILURES
            and failing_for >= settings.WEBHOOKS_DISABLE_AFTER_SECONDS)


def _finish_disabled(*, business_id, endpoint: WebhookEndpoint, now: datetime) -> int:
    """Pending deliveries of a disabled endpoint end failed, without another request."""
    return (WebhookDelivery.objects.for_business(business_id)
            .filter(endpoint_id=endpoint.pk, status=Status.PENDING)
            .update(status=Status.FAILED, next_attempt_at=None, completed_at=now,
                    last_error=f"endpoint disabled: {endpoint.disabled_reason}"[:2000] if endpoint.disabled_reason
                    else "endpoint disabled", updated_at=now))


def endpoint_disabled_notify(*, endpoint: WebhookEndpoint) -> None:
    """Tell the owner an endpoint was disabled. There is no email yet: the reason is on the endpoint
    (GET /api/v1/webhooks shows it) and here, in the log. Nothing is sent to the endpoint itself."""
    logger.warning("webhooks: endpoint %s of business %s disabled: %s", endpoint.pk, endpoint.business_id,
                   endpoint.disabled_reason)


def _schedule(business_id, delivery_id, *, countdown: float) -> None:
    from businesses.webhooks.tasks import webhook_deliver_task

    if settings.CELERY_TASK_ALWAYS_EAGER:
        # No broker (the demo): a countdown cannot be honoured in-process; no retry is sent.
        logger.info("webhooks: no broker, delivery %s will not be retried", delivery_id)
        return
    try:
        webhook_deliver_task.apply_async(args=[str(business_id), str(delivery_id)], countdown=countdown)
    except Exception:
        logger.exception("webhooks: could not schedule delivery %s; the sweep will retry it", delivery_id)


# --------------------------------------------------------------------------- sweep


def webhook_sweep(*, now: datetime | None = None) -> int:
    """Re-queue pending deliveries whose message was lost (broker restart, failed publish, a worker
    that died mid-send), and delete finished deliveries past their retention. Returns re-queued."""
    now = now or timezone.now()
    overdue = list(
        WebhookDelivery.objects.unscoped()  # an operator sweep across tenants
        .filter(status=Status.PENDING, next_attempt_at__lte=now - SWEEP_GRACE)
        .order_by("next_attempt_at")
        .values_list("business_id", "pk")[:SWEEP_BATCH]
    )
    for business_id, delivery_id in overdue:
        _schedule(business_id, delivery_id, countdown=0)
    cutoff = now - timedelta(days=settings.WEBHOOKS_DELIVERY_RETENTION_DAYS)
    WebhookDelivery.objects.unscoped().exclude(status=Status.PENDING).filter(completed_at__lt=cutoff).delete()
    return len(overdue)
