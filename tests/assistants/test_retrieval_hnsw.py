"""The approximate (HNSW) plan of hybrid retrieval, on real PostgreSQL + pgvector.

Three businesses share one chunks table (~15k rows): a large assistant with 11,000 chunks
(above RETRIEVAL_EXACT_MAX_CHUNKS, so the selector gives it the HNSW plan), a medium one and
a small one with 2% of the table. Vectors are random unit vectors around cluster centres that
every tenant shares (every restaurant writes about allergens), so a neighbourhood in the graph
mixes tenants the way a real table does. Rows go in with one COPY through a temporary table
and ``to_tsvector`` on the way into ``assistants_chunk``; the HNSW index is then rebuilt from
migration 0003's own statement. All of it happens once per module, in a transaction that is
rolled back (the rebuild holds a lock on the chunks table until then, about 10 s).
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from django.db import connection, transaction

from assistants import selectors
from assistants.models import KnowledgeSource
from assistants.retrieval import CANDIDATES, Passage, hybrid_search
from inference.embeddings import MODEL_NAME
from tests.conftest import Tenant, make_tenant

HNSW_MIGRATION = importlib.import_module("assistants.migrations.0003_chunk_hnsw_384")
HNSW_INDEX = "chunk_embedding_384_hnsw"
DIM = 384
CENTRES = 24
SIZES = {"large": 11_000, "medium": 3_700, "small": 300}
QUERIES = 20
K = 10
# Nine significant digits give back the float32 exactly, so numpy sees what the table holds.
VECTOR_TEXT = "[" + ",".join(["%.9g"] * DIM) + "]"

STAGE = """
CREATE TEMPORARY TABLE hnsw_stage (id uuid, business_id uuid, assistant_id uuid, source_id uuid, ordinal int,
                                   text text, embedding text) ON COMMIT DROP
"""
MOVE = """
INSERT INTO assistants_chunk (id, business_id, assistant_id, source_id, ordinal, text, heading, page, token_count,
    content_hash, embedding, embedding_model, embedding_dim, search_config, search_vector, created_at, updated_at)
SELECT id, business_id, assistant_id, source_id, ordinal, text, '', NULL, 12, md5(text), embedding::vector, %s,
       384, 'simple', to_tsvector('simple', text), now(), now()
FROM hnsw_stage
"""


@dataclass
class Corpus:
    tenants: dict[str, Tenant]
    ids: dict[str, set[str]]  # chunk ids per tenant
    vectors: dict[str, tuple[list[str], np.ndarray]]
    centres: np.ndarray


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _near(rng: np.random.Generator, centres: np.ndarray, n: int) -> np.ndarray:
    """Unit vectors around random centres: cosine ~0.8 to their centre, ~0.6 to each other."""
    picks = rng.integers(0, len(centres), size=n)
    return _unit(centres[picks] + rng.normal(0.0, 0.04, size=(n, DIM))).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(django_db_setup, django_db_blocker) -> Iterator[Corpus]:
    """Built once for the module inside a transaction that is rolled back at the end; each
    test runs in a savepoint of it (as Django's TestCase.setUpTestData does)."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield _build_corpus()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _build_corpus() -> Corpus:
    rng = np.random.default_rng(20261128)
    centres = _unit(rng.normal(size=(CENTRES, DIM)))
    tenants, sources, ids, vectors = {}, {}, {}, {}
    for name, size in SIZES.items():
        tenants[name] = make_tenant(f"{name.title()} Bistro")
        sources[name] = KnowledgeSource.objects.unscoped().create(
            business=tenants[name].business, assistant=tenants[name].assistant, kind="text", title=f"{name} menu",
            status="ready", progress=100, chunk_count=size,
        )
        ids[name] = [str(uuid.uuid4()) for _ in range(size)]
        vectors[name] = (ids[name], _near(rng, centres, size))
    with connection.cursor() as cursor:
        cursor.execute(STAGE)
        with cursor.copy("COPY hnsw_stage FROM STDIN") as copy:
            for name, (chunk_ids, matrix) in vectors.items():
                tenant, source = tenants[name], sources[name]
                for ordinal, (chunk_id, row) in enumerate(zip(chunk_ids, matrix.tolist(), strict=True)):
                    copy.write_row((chunk_id, tenant.business.pk, tenant.assistant.pk, source.pk, ordinal,
                                    f"{name} dish {ordinal} menu", VECTOR_TEXT % tuple(row)))
        # A bulk load's order: rows first, then the graph, built from the migration's own
        # statement (3-4x faster here than growing it row by row). All of it is rolled back.
        cursor.execute(f"DROP INDEX IF EXISTS {HNSW_INDEX}")
        cursor.execute(MOVE, [MODEL_NAME])
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # CREATE INDEX refuses pending FK checks
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")  # the graph fits: one build pass
        cursor.execute(HNSW_MIGRATION.CREATE)
        cursor.execute("ANALYZE assistants_chunk")
    return Corpus(tenants, {name: set(chunk_ids) for name, chunk_ids in ids.items()}, vectors, centres)


def _search(tenant: Tenant, vector: np.ndarray, *, exact: bool, query: str = "", k: int = K) -> list[Passage]:
    return hybrid_search(business_id=tenant.business.pk, assistant_id=tenant.assistant.pk, query=query,
                         query_vector=vector.tolist(), model=MODEL_NAME, language="en", k=k, exact=exact)


def _queries(corpus: Corpus, seed: int) -> np.ndarray:
    return _near(np.random.default_rng(seed), corpus.centres, QUERIES)


def _vector_plan(tenant: Tenant, vector: np.ndarray, *, exact: bool) -> str:
    """EXPLAIN of the very SQL hybrid_search runs, under the same SET LOCALs."""
    captured = []

    def capture(execute, sql, params, many, context):
        if sql.lstrip().startswith("WITH"):
            captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        _search(tenant, vector, exact=exact)
    sql, params = captured[0]
    with transaction.atomic(), connection.cursor() as cursor:
        if not exact:
            cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def _vector_rows_without_iterative_scan(tenant: Tenant, vector: np.ndarray) -> int:
    """The vector side's query as it was before pgvector 0.8's iterative scan: the index returns
    its ef_search nearest rows of the whole table, and the tenant filter runs on those."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL hnsw.iterative_scan = off")
        cursor.execute("SET LOCAL hnsw.ef_search = 40")
        cursor.execute(
            """SELECT count(*) FROM (
                   SELECT c.id FROM assistants_chunk c
                   WHERE c.business_id = %s AND c.assistant_id = %s AND c.embedding_dim = 384
                     AND c.embedding_model = %s
                   ORDER BY c.embedding::vector(384) <=> %s::vector(384) LIMIT %s) t""",
            [tenant.business.pk, tenant.assistant.pk, MODEL_NAME, "[" + ",".join(map(str, vector.tolist())) + "]",
             CANDIDATES],
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_hnsw_index_exists_and_serves_the_large_assistant(corpus):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'assistants_chunk' AND indexname = %s",
                       [HNSW_INDEX])
        (definition,) = cursor.fetchone()
    assert "USING hnsw" in definition and "vector_cosine_ops" in definition and "embedding_dim = 384" in definition

    large = corpus.tenants["large"]
    vector = _queries(corpus, 1)[0]
    assert HNSW_INDEX in _vector_plan(large, vector, exact=False)
    # The exact plan's "+ 0" keeps the planner off the graph, whatever the assistant's size.
    assert HNSW_INDEX not in _vector_plan(large, vector, exact=True)


@pytest.mark.django_db
def test_hnsw_recall_at_10_matches_exact_search_for_a_large_assistant(corpus):
    large = corpus.tenants["large"]
    recalls = []
    for vector in _queries(corpus, 2):
        exact = [p.chunk_id for p in _search(large, vector, exact=True)]
        approximate = [p.chunk_id for p in _search(large, vector, exact=False)]
        assert len(exact) == len(approximate) == K
        recalls.append(len(set(exact) & set(approximate)) / K)

    # And the exact plan is exact: the same top 10 as numpy over the stored vectors.
    chunk_ids, matrix = corpus.vectors["large"]
    vector = _queries(corpus, 2)[0]
    cosine = (matrix.astype(np.float64) @ vector) / np.linalg.norm(matrix, axis=1) / np.linalg.norm(vector)
    truth = {chunk_ids[i] for i in np.argsort(-cosine)[:K]}
    assert {p.chunk_id for p in _search(large, vector, exact=True)} == truth

    assert np.mean(recalls) >= 0.9, recalls


@pytest.mark.django_db
def test_filtered_hnsw_scan_returns_k_rows_for_a_tenant_with_a_small_share(corpus):
    small = corpus.tenants["small"]
    assert SIZES["small"] / sum(SIZES.values()) < 0.03
    with connection.cursor() as cursor:
        # The planner would rather sort a small tenant's 300 rows; make it walk the graph, which
        # is the situation of any assistant that is a small share of a big table.
        cursor.execute("SET LOCAL enable_sort = off")
    vectors = _queries(corpus, 3)
    assert HNSW_INDEX in _vector_plan(small, vectors[0], exact=False)

    starved, recalls = [], []
    for vector in vectors:
        found = {p.chunk_id for p in _search(small, vector, exact=False)}
        assert len(found) == K
        assert found <= corpus.ids["small"]
        recalls.append(len(found & {p.chunk_id for p in _search(small, vector, exact=True)}) / K)
        starved.append(_vector_rows_without_iterative_scan(small, vector))
    assert np.mean(recalls) >= 0.9, recalls
    # Documentation of why hybrid_search sets hnsw.iterative_scan: without it the graph's 40
    # nearest rows of the whole table hold about 2% of this tenant's, so it gets almost nothing.
    assert max(starved) < K, starved


@pytest.mark.django_db
def test_no_row_of_another_business_is_ever_returned(corpus):
    for name, tenant in corpus.tenants.items():
        for exact in (True, False):
            for vector in _queries(corpus, 4)[:5]:
                found = _search(tenant, vector, exact=exact, query="menu dish", k=CANDIDATES)
                assert found and {p.chunk_id for p in found} <= corpus.ids[name]
    # Another business's assistant id under this business id finds nothing, on both plans.
    large, small = corpus.tenants["large"], corpus.tenants["small"]
    for exact in (True, False):
        assert hybrid_search(business_id=small.business.pk, assistant_id=large.assistant.pk, query="menu dish",
                             query_vector=_queries(corpus, 5)[0].tolist(), model=MODEL_NAME, language="en", k=K,
                             exact=exact) == []


class _FixedEmbedder:
    """The embedding server's answer, fixed: the vectors here are not of any real text."""

    model_name = MODEL_NAME
    dimension = DIM

    def __init__(self, vector: np.ndarray) -> None:
        self.vector = vector.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.vector


@pytest.mark.django_db
def test_selector_uses_hnsw_above_the_exact_threshold(corpus, settings, monkeypatch):
    settings.RETRIEVAL_EXACT_MAX_CHUNKS = 10_000
    monkeypatch.setattr(selectors.providers, "embedder", lambda: _FixedEmbedder(_queries(corpus, 6)[0]))
    statements: list[str] = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    def plan_of(name: str) -> str:
        statements.clear()
        with connection.execute_wrapper(record):
            found = selectors.chunks_search(assistant=corpus.tenants[name].assistant, query="menu dish", k=K)
        assert found and {p.chunk_id for p in found} <= corpus.ids[name]
        return "approximate" if any("hnsw.iterative_scan" in s for s in statements) else "exact"

    assert plan_of("large") == "approximate"
    assert plan_of("medium") == "exact"
    settings.RETRIEVAL_EXACT_MAX_CHUNKS = 20_000
    assert plan_of("large") == "exact"
