"""Hybrid retrieval inside one assistant: pgvector cosine distance + PostgreSQL full text,
fused by reciprocal rank. The business and assistant ids are bound parameters of the SQL
itself, never a filter applied afterwards.

Vector side, two plans chosen per assistant size:
- *exact* (assistants with at most RETRIEVAL_EXACT_MAX_CHUNKS chunks): the btree on
  (assistant_id, embedding_dim) finds the assistant's rows, then a distance sort. The
  ``+ 0`` in the ORDER BY stops the planner from using the HNSW index, whose filtered
  scans can miss rows. Exact, and a few ms for thousands of rows.
- *approximate* (larger ones): the per-dimension HNSW index with pgvector 0.8's iterative
  scan (``hnsw.iterative_scan = relaxed_order``) set for this transaction only, so a filter
  that keeps a small share of the table still returns k rows; re-sorted by exact distance.

Full-text side: the chunk's stored ``search_vector`` (GIN) against
``websearch_to_tsquery``; words are OR-ed (a question's words are rarely all in the
answer) and CJK runs become bigrams (assistants/ingestion/cjk.py), the same expansion the
index side got.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection, transaction

from assistants.ingestion.cjk import cjk_query_terms, contains_cjk, expand_cjk_for_index

RRF_K = 60  # the constant of reciprocal rank fusion (Cormack et al.); damps the top ranks
CANDIDATES = 40  # rows each side contributes before fusion

SEARCH_CONFIGS = {
    "en": "english", "fr": "french", "de": "german", "es": "spanish", "it": "italian", "pt": "portuguese",
    "nl": "dutch", "sv": "swedish", "da": "danish", "fi": "finnish", "no": "norwegian", "nb": "norwegian",
    "ru": "russian", "hu": "hungarian", "ro": "romanian", "tr": "turkish",
}
_WORD = re.compile(r"\w+", re.UNICODE)


def search_config(language: str) -> str:
    """The PostgreSQL text-search configuration for a BCP 47 language; ``simple`` otherwise (zh, ja, ko…)."""
    return SEARCH_CONFIGS.get((language or "").split("-")[0].lower(), "simple")


def index_text(text: str) -> str:
    """What goes into to_tsvector for a chunk."""
    return expand_cjk_for_index(text)


def query_text(query: str) -> str:
    """What goes into websearch_to_tsquery for a question: its words OR-ed."""
    if contains_cjk(query):
        return cjk_query_terms(query)
    words = [w for w in _WORD.findall(query.lower()) if w != "or"]
    return " or ".join(dict.fromkeys(words))


@dataclass(frozen=True)
class Passage:
    chunk_id: str
    source_id: str
    source_title: str
    text: str
    score: float
    vector_rank: int | None
    text_rank: int | None
    # Cosine similarity to the question (1 - cosine distance); None without a query vector.
    similarity: float | None = None
    catalog_item_id: str | None = None  # the catalog item this passage renders, if any
    ordinal: int = 0  # the chunk's place in its source


def _vector_literal(vector: list[float]) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


def _vector_cte(*, exact: bool, dim: int) -> str:
    distance = f"(c.embedding::vector({dim}) <=> %(qvec)s::vector({dim}))"
    order = f"{distance} + 0" if exact else distance
    # Only constants and the integer dim are interpolated; every value is a bound parameter.
    return f"""
    vec_raw AS MATERIALIZED (
        -- Select the sort key itself: a bare distance here too would compute it twice per row.
        SELECT c.id, {order} AS distance
        FROM assistants_chunk c
        WHERE c.business_id = %(business_id)s AND c.assistant_id = %(assistant_id)s
          AND c.embedding_dim = {dim:d} AND c.embedding_model = %(model)s
        ORDER BY {order}
        LIMIT %(candidates)s
    ),
    vec AS (SELECT id, row_number() OVER (ORDER BY distance) AS rank FROM vec_raw)"""  # noqa: S608


def hybrid_search(*, business_id, assistant_id, query: str, query_vector: list[float] | None, model: str,
                  language: str, k: int, exact: bool) -> list[Passage]:
    """The top ``k`` passages of one assistant for ``query``; see the module docstring."""
    dim = len(query_vector) if query_vector else 0
    fts_query = query_text(query)
    params = {
        "business_id": business_id, "assistant_id": assistant_id, "model": model,
        "qvec": _vector_literal(query_vector) if query_vector else None, "candidates": CANDIDATES,
        "config": search_config(language), "fts": fts_query, "k": k, "rrf": RRF_K,
    }
    ctes = []
    if query_vector:
        ctes.append(_vector_cte(exact=exact, dim=dim))
    else:
        ctes.append("vec AS (SELECT NULL::uuid AS id, NULL::bigint AS rank WHERE false)")
    if fts_query:
        ctes.append("""
    fts_raw AS MATERIALIZED (
        SELECT c.id, ts_rank_cd(c.search_vector, q) AS relevance
        FROM assistants_chunk c, websearch_to_tsquery(%(config)s::regconfig, %(fts)s) q
        WHERE c.business_id = %(business_id)s AND c.assistant_id = %(assistant_id)s AND c.search_vector @@ q
        ORDER BY relevance DESC
        LIMIT %(candidates)s
    ),
    fts AS (SELECT id, row_number() OVER (ORDER BY relevance DESC) AS rank FROM fts_raw)""")
    else:
        ctes.append("fts AS (SELECT NULL::uuid AS id, NULL::bigint AS rank WHERE false)")
    similarity = (f"CASE WHEN c.embedding_dim = {dim:d} AND c.embedding_model = %(model)s THEN "
                  f"1 - (c.embedding::vector({dim:d}) <=> %(qvec)s::vector({dim:d})) END" if query_vector
                  else "NULL::float8")
    # Fragments are the constants above; every value is a bound parameter.
    sql = f"""
    WITH {",".join(ctes)},
    fused AS (
        SELECT COALESCE(vec.id, fts.id) AS id, vec.rank AS vector_rank, fts.rank AS text_rank,
               COALESCE(1.0 / (%(rrf)s + vec.rank), 0) + COALESCE(1.0 / (%(rrf)s + fts.rank), 0) AS score
        FROM vec FULL OUTER JOIN fts ON vec.id = fts.id
    )
    SELECT c.id, c.source_id, s.title, c.text, f.score, f.vector_rank, f.text_rank, {similarity},
           c.catalog_item_id, c.ordinal
    FROM fused f
    JOIN assistants_chunk c ON c.id = f.id AND c.business_id = %(business_id)s
    JOIN assistants_knowledgesource s ON s.id = c.source_id AND s.business_id = %(business_id)s
    ORDER BY f.score DESC, c.id
    LIMIT %(k)s
    """  # noqa: S608
    if query_vector and not exact:
        with transaction.atomic(), connection.cursor() as cursor:
            # SET LOCAL: only this transaction, never leaks to the pooled connection.
            cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            cursor.execute("SET LOCAL hnsw.ef_search = 100")
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    else:  # one statement: no transaction of its own (two round trips fewer per question)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    return [Passage(str(r[0]), str(r[1]), r[2], r[3], float(r[4]), r[5], r[6],
                    float(r[7]) if r[7] is not None else None, str(r[8]) if r[8] else None, r[9]) for r in rows]
