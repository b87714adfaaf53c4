"""Writing catalog items over the API (DESIGN.md: ``/api/v1/assistants/{id}/catalog/items``,
``/api/v1/catalog/items/{id}``).

An item added over the API belongs to the assistant's one source of kind ``catalog``
(created on first use, titled "Catalog"); an item from an uploaded menu file belongs to that
file's source and may be changed here too (sold out, a new price) until the file is
re-synced, which replaces its items with the file's rows again. Every write re-renders the
item's one retrieval passage (assistants/catalog/text.py) and embeds it before the
transaction, so the item and its passage change together.
"""

from __future__ import annotations

import hashlib
import uuid

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from assistants.catalog.text import item_sentence
from assistants.ingestion.chunking import ChunkDraft
from assistants.ingestion.pipeline import INSERT_CHUNK, chunk_rows
from assistants.models import Assistant, CatalogItem, Chunk, KnowledgeSource
from billing.services import source_quota_check
from config.errors import ApplicationError
from inference import providers
from inference.errors import InferenceError

EDITABLE = ("name", "category", "description", "price", "currency", "allergens", "allergens_other", "dietary",
            "spice_level", "options", "available", "available_until", "extra")


def catalog_source(*, assistant: Assistant) -> KnowledgeSource:
    """The assistant's source for items added over the API (one per assistant)."""
    source = (KnowledgeSource.objects.for_business(assistant.business_id)
              .filter(assistant=assistant, kind=KnowledgeSource.Kind.CATALOG).order_by("created_at").first())
    if source is None:
        with transaction.atomic():
            source_quota_check(business=assistant.business, adding_bytes=0)  # it is a source like any other
            source = KnowledgeSource.objects.unscoped().create(
                business_id=assistant.business_id, assistant=assistant, kind=KnowledgeSource.Kind.CATALOG,
                title="Catalog", status=KnowledgeSource.Status.READY, progress=100)
    return source


def _passage(item: CatalogItem, source: KnowledgeSource) -> tuple:
    """The item's passage as an INSERT_CHUNK row (embedded now, outside any transaction)."""
    embedder = providers.embedder()
    text = item_sentence(item)
    draft = ChunkDraft(text=text, token_count=embedder.count_tokens(text),
                       content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                       heading=item.category or None, page=None)
    try:
        vector = embedder.embed_documents([text])[0]
    except InferenceError as exc:  # the embedding server is down: change nothing, say so
        raise ApplicationError("embeddings_unavailable", "The embedding service is unavailable right now, so the "
                               "item was not saved; try again in a minute.", status=503,
                               headers={"Retry-After": "30"}) from exc
    return chunk_rows(source, [draft], [vector], model=embedder.model_name, item_ids=[item.pk],
                      first_ordinal=item.ordinal)[0]


def _counts_refresh(source_id, business_id) -> None:
    counts = CatalogItem.objects.for_business(business_id).filter(source_id=source_id).aggregate(n=Count("id"))
    chunks = Chunk.objects.for_business(business_id).filter(source_id=source_id).count()
    KnowledgeSource.objects.for_business(business_id).filter(pk=source_id).update(
        items_count=counts["n"] or 0, chunk_count=chunks, updated_at=timezone.now())


def catalog_item_create(*, assistant: Assistant, data: dict) -> CatalogItem:
    source = catalog_source(assistant=assistant)
    source.assistant = assistant
    last = (CatalogItem.objects.for_business(assistant.business_id).filter(source=source)
            .order_by("-ordinal").values_list("ordinal", flat=True).first())
    item = CatalogItem(id=uuid.uuid4(), business_id=assistant.business_id, assistant=assistant, source=source,
                       ordinal=(last + 1) if last is not None else 0, **data)
    row = _passage(item, source)
    with transaction.atomic():
        item.save(force_insert=True)
        with connection.cursor() as cursor:
            cursor.execute(INSERT_CHUNK, row)
        _counts_refresh(source.pk, assistant.business_id)
    return item


def catalog_item_update(*, item: CatalogItem, data: dict) -> CatalogItem:
    for name, value in data.items():
        if name in EDITABLE:
            setattr(item, name, value)
    source = KnowledgeSource.objects.for_business(item.business_id).select_related("assistant").get(
        pk=item.source_id)
    row = _passage(item, source)
    with transaction.atomic():
        item.save()
        Chunk.objects.for_business(item.business_id).filter(catalog_item_id=item.pk).delete()
        with connection.cursor() as cursor:
            cursor.execute(INSERT_CHUNK, row)
        _counts_refresh(source.pk, item.business_id)
    return item


def catalog_item_delete(*, item: CatalogItem) -> None:
    with transaction.atomic():
        source_id = item.source_id
        item.delete()  # its passage goes with it (Chunk.catalog_item cascades)
        _counts_refresh(source_id, item.business_id)
