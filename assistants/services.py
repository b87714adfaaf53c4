"""Use cases that change assistants, and sign-up, which creates a business with its first one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from assistants.ingestion.errors import IngestionError
from assistants.ingestion.extract import detect_kind
from assistants.ingestion.fetch import check_url_allowed
from assistants.models import Assistant, KnowledgeSource, SourceFile, SourceReview
from billing.services import assistant_quota_check, source_quota_check
from businesses.audit import Actor, audit_record, changed_fields
from businesses.models import Business
from businesses.services import slug_unique, tenant_create
from config.errors import ApplicationError
from config.tasks import enqueue_on_commit

ASSISTANT_EDITABLE = (
    "name", "persona", "instructions", "greeting", "language", "tone", "business_hours", "hours_exceptions",
    "handoff_message", "temperature", "max_answer_tokens", "model_override", "allowed_origins",
    "widget_color", "widget_position", "widget_launcher_text",
)


def _slug_for(business: Business, name: str) -> str:
    return slug_unique(
        text=name,
        taken=lambda s: Assistant.objects.for_business(business).filter(slug=s).exists(),
        fallback="assistant",
    )


def assistant_create(*, business: Business, data: dict, actor: Actor | None = None) -> Assistant:
    fields = {name: data[name] for name in ASSISTANT_EDITABLE if name in data}
    assistant = Assistant(business=business, slug=_slug_for(business, fields["name"]), **fields)
    # Uniqueness is left to the database: full_clean would query unscoped.
    assistant.full_clean(exclude=["business"], validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            assistant_quota_check(business=business)
            assistant.save()
            audit_record(business_id=business.pk, actor=actor, action="assistant.created", target_type="assistant",
                         target_id=assistant.pk, details={"name": assistant.name})
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


@dataclass(frozen=True)
class SignupResult:
    user: object
    business: Business
    assistant: Assistant
    secret_key: str
    publishable_key: str


def business_signup(*, email: str, password: str, business_name: str, timezone_name: str = "UTC",
                    locale: str = "en") -> SignupResult:
    """Sign-up (POST /api/v1/signup): user, business, owner membership, one sk and one pk key
    (``businesses.services.tenant_create``) and the first assistant, in one transaction."""
    with transaction.atomic():
        tenant = tenant_create(email=email, password=password, business_name=business_name,
                               timezone_name=timezone_name, locale=locale)
        assistant = assistant_create_default(business=tenant.business)
    return SignupResult(user=tenant.user, business=tenant.business, assistant=assistant,
                        secret_key=tenant.secret_key, publishable_key=tenant.publishable_key)


def assistant_update(*, assistant: Assistant, data: dict, actor: Actor | None = None) -> Assistant:
    fields = [name for name in ASSISTANT_EDITABLE if name in data]
    changed = {name: data[name] for name in fields if getattr(assistant, name) != data[name]}
    for name in fields:
        setattr(assistant, name, data[name])
    if fields:
        assistant.full_clean(exclude=["business", "slug"], validate_unique=False, validate_constraints=False)
        with transaction.atomic():
            assistant.save(update_fields=[*fields, "updated_at"])
            if changed:
                audit_record(business_id=assistant.business_id, actor=actor, action="assistant.updated",
                             target_type="assistant", target_id=assistant.pk, details=changed_fields(changed))
    return assistant


def assistant_delete(*, assistant: Assistant, actor: Actor | None = None) -> None:
    with transaction.atomic():
        audit_record(business_id=assistant.business_id, actor=actor, action="assistant.deleted",
                     target_type="assistant", target_id=assistant.pk, details={"name": assistant.name})
        assistant.delete()


# --------------------------------------------------------------------------- knowledge sources


def _source_enqueue(source: KnowledgeSource) -> None:
    """Queue ingestion once the source row (and its file) are committed."""
    from assistants.tasks import source_ingest_task

    KnowledgeSource.objects.for_business(source.business_id).filter(pk=source.pk).update(queued_at=timezone.now())
    enqueue_on_commit(source_ingest_task, str(source.business_id), str(source.pk))


def source_create(*, assistant: Assistant, kind: str, title: str, text: str = "", pairs: list | None = None,
                  url: str = "", crawl: bool = False, max_pages: int = 1, file_name: str = "",
                  content_type: str = "", data: bytes | None = None, actor: Actor | None = None) -> KnowledgeSource:
    """Store the source (and its file) and queue its ingestion after commit."""
    if data is not None:
        size = len(data)
    elif pairs:
        size = len(json.dumps(pairs, ensure_ascii=False).encode())
    else:
        size = len(text.encode())
    with transaction.atomic():
        source_quota_check(business=assistant.business, adding_bytes=size)
        source = KnowledgeSource.objects.unscoped().create(
            business_id=assistant.business_id, assistant=assistant, kind=kind, title=title, text=text,
            faq_pairs=pairs or [], url=url, crawl=crawl, max_pages=max_pages, file_name=file_name,
            content_type=content_type, size_bytes=size,
        )
        if data is not None:
            SourceFile.objects.unscoped().create(business_id=assistant.business_id, source=source, data=data)
        _source_enqueue(source)
        audit_record(business_id=assistant.business_id, actor=actor, action="source.created", target_type="source",
                     target_id=source.pk,
                     details={"kind": kind, "title": title[:200], "assistant_id": str(assistant.pk)})
    return source


def source_resync(*, source: KnowledgeSource, text: str | None = None, pairs: list | None = None,
                  data: bytes | None = None, file_name: str = "", content_type: str = "",
                  actor: Actor | None = None) -> KnowledgeSource:
    """Process the source again, optionally with new content (edited text, FAQ or file; a URL is
    always fetched anew). Its current chunks keep serving until the new ones are ready."""
    changes: dict = {}
    if text is not None:
        changes.update(text=text, size_bytes=len(text.encode()))
    if pairs is not None:
        changes.update(faq_pairs=pairs)
    if data is not None:
        changes.update(size_bytes=len(data), file_name=file_name or source.file_name,
                       content_type=content_type or source.content_type)
    settled = [KnowledgeSource.Status.READY, KnowledgeSource.Status.FAILED, KnowledgeSource.Status.NEEDS_REVIEW]
    with transaction.atomic():
        current = (KnowledgeSource.objects.for_business(source.business_id).select_for_update()
                   .filter(pk=source.pk, status__in=settled).first())
        if current is None:
            raise ApplicationError("source_busy", "This source is already being processed; wait until it is "
                                   "ready or failed.", status=409)
        if changes and current.previous_input is None and current.content_hash:
            # What serves now, for "discard" should the knowledge tests hold the new version back.
            changes["previous_input"] = {"text": current.text, "faq_pairs": current.faq_pairs,
                                         "file_name": current.file_name, "content_type": current.content_type,
                                         "size_bytes": current.size_bytes}
        KnowledgeSource.objects.for_business(source.business_id).filter(pk=source.pk).update(
            status=KnowledgeSource.Status.PENDING, progress=0, attempts=0, error="", error_code="",
            updated_at=timezone.now(), **changes)
        SourceReview.objects.for_business(source.business_id).filter(source=source).delete()  # superseded
        if data is not None:
            upload = SourceFile.objects.for_business(source.business_id).filter(source=source).first()
            if upload is None:
                SourceFile.objects.unscoped().create(business_id=source.business_id, source=source, data=data)
            else:
                if "previous_input" in changes:
                    upload.previous_data = upload.data
                upload.data = data
                upload.save(update_fields=["data", "previous_data", "updated_at"])
        _source_enqueue(source)
        audit_record(business_id=source.business_id, actor=actor, action="source.resynced", target_type="source",
                     target_id=source.pk, details={"changed": sorted(name for name in changes if name != "size_bytes")})
    source.refresh_from_db()
    return source


def source_delete(*, source: KnowledgeSource, actor: Actor | None = None) -> None:
    """Delete the source and its chunks; a worker still processing it stores nothing."""
    with transaction.atomic():
        audit_record(business_id=source.business_id, actor=actor, action="source.deleted", target_type="source",
                     target_id=source.pk, details={"kind": source.kind, "title": source.title[:200]})
        source.delete()


def sources_sweep() -> int:
    """Re-queue sources abandoned by a dead worker or never picked up; returns how many.

    A processing source is abandoned when its heartbeat (assistants/ingestion/pipeline.py) is
    older than INGEST_HEARTBEAT_STALE_SECONDS: the worker died, so it is re-queued within a
    minute. A re-queued task never runs beside a live one: the pipeline's advisory lock is held
    by the live worker's connection (and released by Postgres when a dead worker's closes)."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.INGEST_STALE_AFTER_SECONDS)
    silent = now - timedelta(seconds=settings.INGEST_HEARTBEAT_STALE_SECONDS)
    processing = Q(status=KnowledgeSource.Status.PROCESSING)
    abandoned = (
        KnowledgeSource.objects.unscoped()  # the sweep serves every tenant
        .filter((processing & Q(heartbeat_at__lt=silent))
                | (processing & Q(heartbeat_at__isnull=True, processing_started_at__lt=stale))
                | Q(status=KnowledgeSource.Status.PENDING, queued_at__lt=stale))
        .only("pk", "business_id")
    )
    count = 0
    for source in abandoned:
        with transaction.atomic():
            _source_enqueue(source)
        count += 1
    return count


def upload_read(upload) -> bytes:
    """The uploaded bytes, refused now if they are too large, empty or of a type we cannot read."""
    if upload.size > settings.INGEST_MAX_UPLOAD_BYTES:
        raise ApplicationError(
            "file_too_large",
            f"{upload.name} is {upload.size / 1048576:.1f} MB; the limit is "
            f"{settings.INGEST_MAX_UPLOAD_BYTES / 1048576:.0f} MB. Split it or compress its images.",
            status=413)
    data = upload.read()
    try:
        if not data.strip():
            raise IngestionError("empty_file", f"{upload.name} is empty — choose the file again and re-upload it.")
        detect_kind(data=data, filename=upload.name, content_type=upload.content_type)
    except IngestionError as exc:
        raise ApplicationError(exc.code, exc.message, status=400) from exc
    return data


def source_url_check(url: str) -> None:
    """Refuse a URL we would refuse to fetch, while the owner is still there to fix it."""
    try:
        check_url_allowed(url=url, allow_private=settings.INGEST_ALLOW_PRIVATE_URLS)
    except IngestionError as exc:
        if not exc.transient:  # DNS hiccups are left to the worker, which retries
            raise ApplicationError(exc.code, exc.message, status=400) from exc
