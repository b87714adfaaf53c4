"""The ingestion service: a source's input → chunks with embeddings, atomically swapped in.

extract → normalise → chunk → embed (reusing vectors of unchanged chunk text) → replace
the source's chunks in one transaction → ``ready``. Anything the owner must fix ends as
``failed`` with a plain-words ``error``; a failed re-sync leaves the old chunks serving.
Idempotent: a redelivered task for a finished source does nothing, and an advisory lock
keeps two deliveries of the same source from working at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from assistants.catalog.parsing import ParsedCatalog, parse_catalog
from assistants.catalog.text import item_sentence
from assistants.ingestion.chunking import ChunkDraft, chunk_document, chunk_faq
from assistants.ingestion.errors import IngestionError
from assistants.ingestion.extract import Document, Section, extract_file
from assistants.ingestion.fetch import crawl_site, fetch_page
from assistants.models import CatalogItem, Chunk, KnowledgeSource, SourceFile, SourceReview
from assistants.regression.services import source_version_check
from assistants.retrieval import index_text, search_config
from businesses.audit import Actor, audit_record
from businesses.webhooks.services import event_emit
from config.errors import ApplicationError
from inference.errors import InferenceError
from inference.providers import embedder as configured_embedder

logger = logging.getLogger(__name__)
Status = KnowledgeSource.Status


class TransientIngestionError(Exception):
    """Worth another try later (a timeout, a model server restarting); the task retries it."""


def _set(source: KnowledgeSource, **fields) -> None:
    """Write progress fields outside any transaction, so API readers see them at once."""
    fields["updated_at"] = timezone.now()
    KnowledgeSource.objects.for_business(source.business_id).filter(pk=source.pk).update(**fields)


def source_fail(*, source: KnowledgeSource, code: str, message: str) -> None:
    _set(source, status=Status.FAILED, error=message, error_code=code, progress=0, processing_started_at=None)
    logger.info("source %s failed: %s", source.pk, code)
    event_emit(business_id=source.business_id, type="source.failed", data={
        "source_id": str(source.pk), "assistant_id": str(source.assistant_id), "title": source.title,
        "error_code": code, "error": message})


@contextmanager
def _source_lock(source_id) -> Iterator[bool]:
    """A session-level advisory lock per source; released on exit or when the connection dies."""
    key = int(hashlib.sha256(str(source_id).encode()).hexdigest()[:15], 16)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


@contextmanager
def _heartbeat(source: KnowledgeSource) -> Iterator[None]:
    """Write the source's ``heartbeat_at`` every INGEST_HEARTBEAT_SECONDS from a thread while
    the pipeline runs: it beats through long steps (a big PDF, an embedding batch) and stops
    the moment the worker process dies, which is what the sweep looks for."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.INGEST_HEARTBEAT_SECONDS):
                KnowledgeSource.objects.for_business(source.business_id).filter(
                    pk=source.pk, status=Status.PROCESSING).update(heartbeat_at=timezone.now())
        except Exception:  # a lost beat only makes a re-queue early; the advisory lock keeps it safe
            logger.warning("heartbeat of source %s stopped", source.pk, exc_info=True)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"heartbeat-{source.pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def source_ingest(
    *, business_id, source_id, final_attempt: bool = True, embedder_factory: Callable = configured_embedder
) -> None:
    """Run the whole pipeline for one source. Raises TransientIngestionError only when
    ``final_attempt`` is False (the caller retries); otherwise every outcome is a status."""
    with _source_lock(source_id) as acquired:
        if not acquired:
            logger.info("source %s is being processed by another worker; skipping", source_id)
            return
        source = (
            KnowledgeSource.objects.for_business(business_id).select_related("assistant").filter(pk=source_id).first()
        )
        if source is None or source.status in (Status.READY, Status.FAILED, Status.NEEDS_REVIEW):
            return  # deleted meanwhile, or a redelivery of finished work
        if source.attempts >= settings.INGEST_MAX_ATTEMPTS:
            source_fail(
                source=source,
                code="interrupted",
                message="Processing was interrupted several times. Try again with “resync”; if it keeps "
                "happening, split the file into smaller ones.",
            )
            return
        KnowledgeSource.objects.for_business(business_id).filter(pk=source.pk).update(
            status=Status.PROCESSING,
            attempts=F("attempts") + 1,
            processing_started_at=timezone.now(),
            heartbeat_at=timezone.now(),
            progress=5,
            error="",
            error_code="",
            updated_at=timezone.now(),
        )
        try:
            with _heartbeat(source):
                _run(source, embedder_factory=embedder_factory)
        except IngestionError as exc:
            if exc.transient and not final_attempt:
                _set(source, status=Status.PENDING, error=f"Retrying: {exc.message}", error_code=exc.code)
                raise TransientIngestionError(exc.message) from exc
            source_fail(source=source, code=exc.code, message=exc.message)
        except InferenceError as exc:
            if not final_attempt:
                _set(
                    source,
                    status=Status.PENDING,
                    error="Retrying: the embedding service did not answer.",
                    error_code="embeddings_unavailable",
                )
                raise TransientIngestionError(str(exc)) from exc
            source_fail(
                source=source,
                code="embeddings_unavailable",
                message="The embedding service is unavailable right now; try “resync” in a few minutes.",
            )
        except SoftTimeLimitExceeded:
            source_fail(
                source=source,
                code="too_slow",
                message="This source took too long to process. Split it into smaller files and upload them separately.",
            )
        except Exception:
            logger.exception("unexpected error ingesting source %s", source.pk)
            source_fail(
                source=source,
                code="internal_error",
                message="Something went wrong on our side while processing this source; it has been "
                "logged. Try “resync”, or contact support if it fails again.",
            )


def _run(source: KnowledgeSource, *, embedder_factory: Callable) -> None:
    embedder = embedder_factory()
    catalog: ParsedCatalog | None = None
    item_ids: list | None = None  # the catalog item of each draft
    if source.kind == KnowledgeSource.Kind.CATALOG:  # the items added over the API: render them again
        items = list(CatalogItem.objects.for_business(source.business_id).filter(source=source)
                     .order_by("ordinal", "created_at"))
        document = None
        drafts = [_item_draft(item, embedder.count_tokens) for item in items]
        item_ids = [item.pk for item in items]
        if not drafts:
            _store(source, [], [], model=embedder.model_name, item_ids=[])
            return
    else:
        document, drafts = _chunks_for(source, count_tokens=embedder.count_tokens)
        if source.kind == KnowledgeSource.Kind.FILE and document is not None and document.rows:
            # A table with a name and a price column is a catalog: one typed item per row,
            # one passage per item (its sentence); other tables stay ordinary passages.
            catalog = parse_catalog(document.rows, document.row_numbers)
            if catalog is not None:
                if not catalog.items:
                    raise IngestionError("no_items", f"{source.title}: none of its rows could be read as a catalog "
                                         "item — " + " ".join(catalog.warnings[:3]))
                document.warnings.extend(catalog.warnings)
                drafts = [_item_draft(CatalogItem(**item), embedder.count_tokens) for item in catalog.items]
    if not drafts:
        raise IngestionError("no_text", f"{source.title} has no text we could use.")
    if len(drafts) > settings.INGEST_MAX_CHUNKS:
        raise IngestionError(
            "too_many_chunks",
            f"{source.title} is too large: {len(drafts)} passages, the limit is {settings.INGEST_MAX_CHUNKS}. "
            "Split it into smaller sources.",
        )
    _set(source, progress=30, warnings=document.warnings if document else [])

    vectors = _embed(source, drafts, embedder=embedder)
    _store(source, drafts, vectors, model=embedder.model_name, catalog=catalog, item_ids=item_ids)


def _item_draft(item: CatalogItem, count_tokens) -> ChunkDraft:
    text = item_sentence(item)
    return ChunkDraft(text=text, token_count=count_tokens(text),
                      content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(), heading=item.category or None,
                      page=None)


def _chunks_for(source: KnowledgeSource, *, count_tokens) -> tuple[Document | None, list[ChunkDraft]]:
    kind = source.kind
    limits = {"max_pages": settings.INGEST_MAX_PAGES, "max_chars": settings.INGEST_MAX_CHARS}
    if kind == KnowledgeSource.Kind.FAQ:
        pairs = [(p.get("question", ""), p.get("answer", "")) for p in source.faq_pairs]
        return None, chunk_faq(pairs=pairs, count_tokens=count_tokens)
    if kind == KnowledgeSource.Kind.TEXT:
        # Markdown rules: '#' headings become sections; plain text passes through.
        document = extract_file(
            data=source.text.encode("utf-8"), filename=f"{source.title}.md", content_type="text/markdown", **limits
        )
    elif kind == KnowledgeSource.Kind.FILE:
        upload = SourceFile.objects.for_business(source.business_id).filter(source=source).first()
        if upload is None:
            raise IngestionError("file_missing", "The uploaded file is missing; upload it again.")
        document = extract_file(
            data=bytes(upload.data), filename=source.file_name, content_type=source.content_type or None, **limits
        )
    else:
        document = _fetch_url_document(source, limits=limits)
    return document, chunk_document(document=document, count_tokens=count_tokens)


def _fetch_url_document(source: KnowledgeSource, *, limits: dict) -> Document:
    fetch = {
        "allow_private": settings.INGEST_ALLOW_PRIVATE_URLS,
        "timeout": settings.INGEST_URL_TIMEOUT,
        "max_bytes": settings.INGEST_URL_MAX_BYTES,
        "user_agent": settings.INGEST_USER_AGENT,
    }
    if source.crawl:
        pages = crawl_site(
            start_url=source.url, max_pages=min(source.max_pages, settings.INGEST_URL_MAX_PAGES), **fetch
        )
    else:
        pages = iter([fetch_page(url=source.url, **fetch)])
    merged = Document(title=source.title)
    first_error: IngestionError | None = None
    for page in pages:
        try:
            doc = extract_file(data=page.data, filename=page.final_url, content_type=page.content_type, **limits)
        except IngestionError as exc:
            first_error = first_error or exc
            merged.warnings.append(f"{page.final_url}: {exc.message}")
            continue
        for section in doc.sections:
            heading = section.heading or doc.title
            merged.sections.append(Section(heading=heading, text=section.text, page=section.page))
        merged.records.extend(doc.records)
        merged.warnings.extend(doc.warnings)
    if not merged.sections and not merged.records:
        raise first_error or IngestionError("no_text", f"{source.url} has no readable text.")
    return merged


def _embed(source: KnowledgeSource, drafts: list[ChunkDraft], *, embedder) -> list[list[float]]:
    """Vectors for every draft; text embedded before by the same model is not embedded again."""
    hashes = list({d.content_hash for d in drafts})
    known: dict[str, list[float]] = {}
    for content_hash, vector in (
        Chunk.objects.for_business(source.business_id)
        .filter(assistant_id=source.assistant_id, content_hash__in=hashes, embedding_model=embedder.model_name)
        .values_list("content_hash", "embedding")
    ):
        known.setdefault(content_hash, list(vector))
    missing = [d for d in dict((d.content_hash, d) for d in drafts if d.content_hash not in known).values()]
    batch = max(1, settings.EMBEDDINGS_BATCH_SIZE)
    for start in range(0, len(missing), batch):
        part = missing[start : start + batch]
        for draft, vector in zip(part, embedder.embed_documents([d.text for d in part]), strict=True):
            known[draft.content_hash] = vector
        _set(source, progress=30 + int(60 * min(len(missing), start + batch) / len(missing)))
    return [known[d.content_hash] for d in drafts]


INSERT_CHUNK = """
INSERT INTO assistants_chunk (id, business_id, assistant_id, source_id, ordinal, text, heading, page, token_count,
    content_hash, embedding, embedding_model, embedding_dim, search_config, search_vector, created_at, updated_at,
    catalog_item_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::vector, %s, %s, %s, to_tsvector(%s::regconfig, %s), %s, %s, %s)
"""


def chunk_rows(source: KnowledgeSource, drafts: list[ChunkDraft], vectors: list[list[float]], *, model: str,
               item_ids: list | None = None, first_ordinal: int = 0) -> list[tuple]:
    """The INSERT_CHUNK parameters of each draft (``item_ids``: the catalog item of each)."""
    config = search_config(source.assistant.language)
    now = timezone.now()
    return [
        (
            uuid.uuid4(),
            source.business_id,
            source.assistant_id,
            source.pk,
            ordinal,
            draft.text,
            (draft.heading or "")[:300],
            draft.page,
            draft.token_count,
            draft.content_hash,
            "[" + ",".join(f"{x:.7g}" for x in vector) + "]",
            model,
            len(vector),
            config,
            config,
            index_text(draft.text),
            now,
            now,
            item_ids[ordinal - first_ordinal] if item_ids else None,
        )
        for ordinal, (draft, vector) in enumerate(zip(drafts, vectors, strict=True), start=first_ordinal)
    ]


def _replace(source: KnowledgeSource, rows: list[tuple], items: list[CatalogItem] | None) -> None:
    """Write the new version's rows over the old (inside the caller's transaction)."""
    Chunk.objects.for_business(source.business_id).filter(source_id=source.pk).delete()
    if source.kind != KnowledgeSource.Kind.CATALOG:
        CatalogItem.objects.for_business(source.business_id).filter(source_id=source.pk).delete()
    if items:
        CatalogItem.objects.for_business(source.business_id).bulk_create(items)
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(INSERT_CHUNK, rows)


def _store(source: KnowledgeSource, drafts: list[ChunkDraft], vectors: list[list[float]], *, model: str,
           catalog: ParsedCatalog | None = None, item_ids: list | None = None, checked: bool = True) -> None:
    """Swap the source's chunks (and a file's catalog items) in one transaction: readers see the
    old set or the new one. ``item_ids``: the existing items of a catalog source, kept.

    First the assistant's knowledge tests check the new version (``checked``; not for the items an
    owner edits one by one, which serve as typed data at once): if a passing test would fail,
    the version is held for the owner's review (SourceReview) and the old one keeps serving."""
    now = timezone.now()
    items = None
    if catalog is not None:
        items = [CatalogItem(id=uuid.uuid4(), business_id=source.business_id, assistant_id=source.assistant_id,
                             source_id=source.pk, ordinal=ordinal, **values)
                 for ordinal, values in enumerate(catalog.items)]
        item_ids = [item.pk for item in items]
    rows = chunk_rows(source, drafts, vectors, model=model, item_ids=item_ids)
    if checked and source.kind != KnowledgeSource.Kind.CATALOG:
        _set(source, progress=95)
        failures = source_version_check(source=source, apply=lambda: _replace(source, rows, items))
        if failures:
            _hold(source, drafts, vectors, model=model, catalog=catalog, item_ids=item_ids, failures=failures)
            return
    content_hash = hashlib.sha256("".join(d.content_hash for d in drafts).encode()).hexdigest()
    with transaction.atomic():
        locked = (
            KnowledgeSource.objects.for_business(source.business_id)
            .select_for_update()
            .filter(pk=source.pk)
            .values_list("status", flat=True)
            .first()
        )
        if locked is None:
            return  # deleted while we worked: nothing to store
        _replace(source, rows, items)
        SourceReview.objects.for_business(source.business_id).filter(source_id=source.pk).delete()
        SourceFile.objects.for_business(source.business_id).filter(source_id=source.pk).exclude(
            previous_data=None).update(previous_data=None)
        KnowledgeSource.objects.for_business(source.business_id).filter(pk=source.pk).update(
            status=Status.READY,
            progress=100,
            chunk_count=len(rows),
            items_count=len(item_ids or []),
            content_hash=content_hash,
            previous_input=None,  # the new content is what serves now
            error="",
            error_code="",
            processing_started_at=None,
            updated_at=now,
        )
        event_emit(business_id=source.business_id, type="source.ready", data={
            "source_id": str(source.pk), "assistant_id": str(source.assistant_id), "title": source.title,
            "chunk_count": len(rows)})


def _hold(source: KnowledgeSource, drafts: list[ChunkDraft], vectors: list[list[float]], *, model: str,
          catalog: ParsedCatalog | None, item_ids: list | None, failures: list[dict]) -> None:
    """Keep the processed version for the owner's decision, with the tests it breaks."""
    values = json.loads(json.dumps(catalog.items, cls=DjangoJSONEncoder)) if catalog is not None else None
    with transaction.atomic():
        if not KnowledgeSource.objects.for_business(source.business_id).select_for_update().filter(
                pk=source.pk).exists():
            return  # deleted while we worked
        SourceReview.objects.for_business(source.business_id).filter(source_id=source.pk).delete()
        SourceReview.objects.unscoped().create(
            business_id=source.business_id, source_id=source.pk, embedding_model=model,
            drafts=[asdict(d) for d in drafts], vectors=[[float(x) for x in v] for v in vectors],
            catalog_items=values, item_ids=[str(i) for i in item_ids] if item_ids and catalog is None else None,
            failures=failures)
        KnowledgeSource.objects.for_business(source.business_id).filter(pk=source.pk).update(
            status=Status.NEEDS_REVIEW, progress=100, error="", error_code="", processing_started_at=None,
            updated_at=timezone.now())
        event_emit(business_id=source.business_id, type="source.needs_review", data={
            "source_id": str(source.pk), "assistant_id": str(source.assistant_id), "title": source.title,
            "failing_tests": [{"test_id": f["test_id"], "question": f["question"]} for f in failures]})
    logger.info("source %s held for review: %d knowledge tests would fail", source.pk, len(failures))


def source_publish(*, source: KnowledgeSource, actor: Actor | None = None) -> KnowledgeSource:
    """The owner's "publish anyway": the held version replaces the serving one, unchecked."""
    with _source_lock(source.pk) as acquired:
        review = SourceReview.objects.for_business(source.business_id).filter(source_id=source.pk).first()
        source = (KnowledgeSource.objects.for_business(source.business_id).select_related("assistant")
                  .filter(pk=source.pk).first())
        if not acquired or review is None or source is None or source.status != Status.NEEDS_REVIEW:
            raise ApplicationError("nothing_to_review", "This source has no version waiting for review.", status=409)
        drafts = [ChunkDraft(**d) for d in review.drafts]
        catalog = ParsedCatalog(items=review.catalog_items) if review.catalog_items is not None else None
        item_ids = [uuid.UUID(i) for i in review.item_ids] if review.item_ids else None
        with transaction.atomic():  # unchecked: database work only, no model server called
            _store(source, drafts, review.vectors, model=review.embedding_model, catalog=catalog,
                   item_ids=item_ids, checked=False)
            audit_record(business_id=source.business_id, actor=actor, action="source.published",
                         target_type="source", target_id=source.pk,
                         details={"kind": source.kind, "title": source.title[:200],
                                  "failing_tests": len(review.failures or [])})
    source.refresh_from_db()
    return source


def source_discard(*, source: KnowledgeSource, actor: Actor | None = None) -> KnowledgeSource:
    """The owner's "discard": the held version is dropped and the content that serves is put back
    (a new source that never served ends ``failed``, saying so)."""
    with _source_lock(source.pk) as acquired, transaction.atomic():
        locked = KnowledgeSource.objects.for_business(source.business_id).select_for_update().filter(
            pk=source.pk).first()
        if not acquired or locked is None or locked.status != Status.NEEDS_REVIEW:
            raise ApplicationError("nothing_to_review", "This source has no version waiting for review.", status=409)
        SourceReview.objects.for_business(source.business_id).filter(source_id=source.pk).delete()
        changes: dict = {"previous_input": None, "updated_at": timezone.now()}
        previous = locked.previous_input or {}
        for name in ("text", "faq_pairs", "file_name", "content_type", "size_bytes"):
            if name in previous:
                changes[name] = previous[name]
        upload = SourceFile.objects.for_business(source.business_id).filter(source_id=source.pk).first()
        if upload is not None and upload.previous_data is not None:
            upload.data, upload.previous_data = upload.previous_data, None
            upload.save(update_fields=["data", "previous_data", "updated_at"])
        if locked.content_hash:  # a version served before: it still does
            changes.update(status=Status.READY, error="", error_code="")
        else:
            changes.update(status=Status.FAILED, error_code="discarded", error=(
                "You discarded this source's first version, so nothing from it is used. Edit it and resync, "
                "or delete it."))
        KnowledgeSource.objects.for_business(source.business_id).filter(pk=source.pk).update(**changes)
        audit_record(business_id=source.business_id, actor=actor, action="source.discarded", target_type="source",
                     target_id=source.pk, details={"kind": locked.kind, "title": locked.title[:200]})
    source.refresh_from_db()
    return source
