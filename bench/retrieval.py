"""Retrieval latency and recall at scale: 1,000 assistants x 1,000 chunks (1 M chunks).

    .venv/bin/python bench/retrieval.py [--scale small|full] [--queries 200] [--rounds 3] [--keep] [--hnsw]

Data: its own database (``frontdesk_bench`` on the embedded server unless ``--db``), migrated
with the project's migrations, one business per assistant, ten sources per assistant. Chunk
text is built from ~2,000 sentences in the words of eight small-business trades
(bench/ingest.py's generator): each chunk is a heading and 12 sentences, mostly from one topic
of its assistant's trade. The 2,000 sentences are embedded once with the local embedder (cached
under .cache/bench/); a chunk's vector is the normalised mean of its sentences' vectors plus
a little Gaussian noise, so vectors cluster by trade and topic the way real chunk embeddings do
(1 M real embeddings would take hours on 2 cores). Questions are written per trade and topic
and embedded for real.

Load: binary COPY (psycopg 3) straight into ``assistants_chunk``; a temporary BEFORE INSERT
trigger computes ``search_vector = to_tsvector(search_config, text)`` during the COPY (the
text is English, for which ``assistants.retrieval.index_text`` is the identity: checked).
Secondary indexes are dropped before loading and rebuilt afterwards, which is faster than
maintaining them row by row; the HNSW index is rebuilt only with ``--hnsw`` (over 1 M rows
it takes a long time on 2 cores), so by default only the exact plan is measured. Sources of
the assistants loaded in one batch are inserted in random order, so an assistant's rows are
spread over the table as they are after real ingestion. Re-runnable: what is loaded is
recorded in ``bench_meta``; a run with the same parameters loads nothing, a larger
``--assistants`` loads only the missing ones. The database is dropped at the end unless
``--keep``.

Measured (Django's connection, the real ``assistants.retrieval.hybrid_search``), over
``--queries`` questions spread across assistants, after one warm-up pass, in a shuffled order per question:
hybrid search with the exact plan (what every assistant under RETRIEVAL_EXACT_MAX_CHUNKS
uses), its vector side alone, its full-text side alone, and two references in the same run:
``count(*)`` of the assistant's chunks (same rows, no distance, no sort) and ``SELECT 1``
(one round trip). Recall@10 of the vector side against a brute-force computation in numpy
over the assistant's stored vectors (ties within 1e-6 count as hits).

A benchmark, not a test: it is not part of the test run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.ingest import QUESTIONS, TOPICS, TRADES, question, sentence  # noqa: E402

SCALES = {"small": (100, 1000), "full": (1000, 1000)}
LOAD_VERSION = 1  # bump when the generated data changes, so an old kept database is reloaded
SOURCES_PER_ASSISTANT = 10
SENTENCES_PER_CHUNK = 12
MAIN_TOPIC_SENTENCES = 9
SENTENCES_PER_CELL = 28  # per (trade, topic): 8 x 9 x 28 = 2,016 sentences
NOISE = 0.01  # per dimension; |noise| ~ 0.2 against a mean vector of norm ~0.7
DIM = 384
HNSW_INDEX = "chunk_embedding_384_hnsw"
TRADE_NAMES = list(TRADES)
TOPIC_NAMES = list(TOPICS)

# Per-session settings of the loading connection only (reported in the output).
LOAD_SETTINGS = {"synchronous_commit": "off", "maintenance_work_mem": "1GB"}
HNSW_BUILD_SETTINGS = {"maintenance_work_mem": "3GB"}

COPY_COLUMNS = ("id", "business_id", "assistant_id", "source_id", "ordinal", "text", "heading", "page", "token_count",
                "content_hash", "embedding", "embedding_model", "embedding_dim", "search_config", "created_at",
                "updated_at")
COPY_TYPES = ["uuid", "uuid", "uuid", "uuid", "int4", "text", "varchar", "int4", "int4", "varchar", "vector",
              "varchar", "int2", "varchar", "timestamptz", "timestamptz"]

TSV_TRIGGER = """
CREATE OR REPLACE FUNCTION bench_chunk_tsv() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector := to_tsvector(NEW.search_config::regconfig, NEW.text);
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS bench_chunk_tsv ON assistants_chunk;
CREATE TRIGGER bench_chunk_tsv BEFORE INSERT ON assistants_chunk FOR EACH ROW EXECUTE FUNCTION bench_chunk_tsv();
"""
DROP_TSV_TRIGGER = ("DROP TRIGGER IF EXISTS bench_chunk_tsv ON assistants_chunk; "
                    "DROP FUNCTION IF EXISTS bench_chunk_tsv()")


def _ids(seed: int, kind: str, a: int, n: int = 0) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"frontdesk-bench/{seed}/{kind}/{a}/{n}")


# --------------------------------------------------------------------------- data


def sentence_pool(seed: int) -> tuple[list[str], dict[tuple[str, str], np.ndarray]]:
    rng = random.Random(seed)
    texts: list[str] = []
    cells: dict[tuple[str, str], np.ndarray] = {}
    for trade in TRADE_NAMES:
        for topic in TOPIC_NAMES:
            seen: set[str] = set()
            for _ in range(SENTENCES_PER_CELL * 50):
                seen.add(sentence(rng, trade=trade, topic=topic))
                if len(seen) == SENTENCES_PER_CELL:
                    break
            start = len(texts)
            texts.extend(sorted(seen))  # sorted: set order differs between processes
            cells[(trade, topic)] = np.arange(start, len(texts))
    return texts, cells


def pool_vectors(texts: list[str], embedder) -> tuple[np.ndarray, float, bool]:
    """The sentences' embeddings, cached on disk per text set and model."""
    key = hashlib.sha256(("\n".join(texts) + embedder.model_name + getattr(embedder, "runtime", "")).encode())
    path = ROOT / ".cache" / "bench" / f"retrieval-sentences-{key.hexdigest()[:16]}.npy"
    if path.exists():
        return np.load(path), 0.0, True
    started = time.perf_counter()
    vectors = np.asarray(embedder.embed_documents(texts), dtype=np.float32)
    elapsed = time.perf_counter() - started
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors, elapsed, False


def assistant_chunks(a: int, *, per_assistant: int, seed: int, pool: list[str], pool_vecs: np.ndarray,
                     cells: dict) -> tuple[list[str], list[str], np.ndarray]:
    """Deterministic texts, headings and unit vectors of assistant ``a``'s chunks."""
    rng = np.random.default_rng([seed, a])
    trade = TRADE_NAMES[a % len(TRADE_NAMES)]
    trade_all = np.concatenate([cells[(trade, t)] for t in TOPIC_NAMES])
    # Each business talks more about some topics than others.
    main = rng.choice(len(TOPIC_NAMES), size=per_assistant, p=rng.dirichlet(np.ones(len(TOPIC_NAMES))))
    idx = np.empty((per_assistant, SENTENCES_PER_CHUNK), dtype=np.int64)
    for t, topic in enumerate(TOPIC_NAMES):
        rows = np.flatnonzero(main == t)
        if not len(rows):
            continue
        cell = cells[(trade, topic)]
        pick = np.argsort(rng.random((len(rows), len(cell))), axis=1)[:, :MAIN_TOPIC_SENTENCES]
        idx[rows, :MAIN_TOPIC_SENTENCES] = cell[pick]
        idx[rows, MAIN_TOPIC_SENTENCES:] = rng.choice(trade_all, size=(len(rows),
                                                                       SENTENCES_PER_CHUNK - MAIN_TOPIC_SENTENCES))
    vectors = pool_vecs[idx].mean(axis=1) + rng.normal(0.0, NOISE, size=(per_assistant, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    name = f"{trade.title()} no. {a + 1}"
    headings = [f"{TOPIC_NAMES[m].capitalize()} - {name}" for m in main]
    texts = [f"{headings[i]}, section {i + 1}\n" + " ".join(pool[j] for j in idx[i]) for i in range(per_assistant)]
    return texts, headings, vectors.astype(np.float32)


def questions(n: int, *, assistants: int, seed: int) -> list[tuple[int, str]]:
    """``n`` (assistant, question) pairs spread over the assistants."""
    rng = random.Random(seed + 1)
    chosen = rng.sample(range(assistants), min(n, assistants))
    while len(chosen) < n:
        chosen += rng.sample(range(assistants), min(n - len(chosen), assistants))
    out = []
    for a in chosen:
        trade = TRADE_NAMES[a % len(TRADE_NAMES)]
        out.append((a, question(rng, trade=trade, topic=rng.choice(list(QUESTIONS)))))
    return out


# --------------------------------------------------------------------------- load


def _connect(host: str, port: str, dbname: str):
    import psycopg

    return psycopg.connect(host=host, port=port, dbname=dbname, user="postgres", autocommit=True)


def _register_vector_bytes(conn):
    """A binary COPY dumper that sends pre-encoded pgvector binary values as they are."""
    from psycopg.adapt import Dumper, Loader
    from psycopg.pq import Format
    from psycopg.types import TypeInfo

    info = TypeInfo.fetch(conn, "vector")
    info.register(conn)

    class VectorBytes(bytes):
        pass

    class VectorBytesDumper(Dumper):
        format = Format.BINARY
        oid = info.oid

        def dump(self, obj):
            return obj

    class VectorLoader(Loader):
        format = Format.BINARY

        def load(self, data):
            return np.frombuffer(bytes(data)[4:], dtype=">f4").astype(np.float32)

    conn.adapters.register_dumper(VectorBytes, VectorBytesDumper)
    conn.adapters.register_loader(info.oid, VectorLoader)
    return VectorBytes


def _meta(cur) -> dict | None:
    cur.execute("CREATE TABLE IF NOT EXISTS bench_meta (id int PRIMARY KEY, params jsonb NOT NULL, "
                "loaded int NOT NULL, index_defs jsonb NOT NULL)")
    cur.execute("SELECT params, loaded, index_defs FROM bench_meta WHERE id = 1")
    row = cur.fetchone()
    return {"params": row[0], "loaded": row[1], "index_defs": row[2]} if row else None


def _secondary_indexes(cur) -> dict[str, str]:
    cur.execute("""
        SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = 'assistants_chunk'::regclass AND NOT x.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)""")
    return dict(cur.fetchall())


def _set(cur, values: dict[str, str]) -> None:
    for name, value in values.items():
        cur.execute(f"SET {name} = '{value}'")


def load(conn, *, assistants: int, per_assistant: int, seed: int, batch: int, hnsw: bool, pool, pool_vecs,
         cells) -> dict:
    """Load what is missing; returns timings and what was done."""
    from assistants.retrieval import index_text
    from inference.embeddings import MODEL_NAME

    report: dict = {"copied_rows": 0, "copy_s": 0.0, "index_s": {}, "vacuum_s": 0.0, "skipped": False}
    vector_bytes = _register_vector_bytes(conn)  # before the cursor: it copies the connection's adapters
    cur = conn.cursor()
    _set(cur, LOAD_SETTINGS)
    params = {"version": LOAD_VERSION, "seed": seed, "per_assistant": per_assistant,
              "sources": SOURCES_PER_ASSISTANT, "model": MODEL_NAME}
    meta = _meta(cur)
    if meta and meta["params"] != params:
        print(f"bench database holds other parameters ({meta['params']}); reloading")
        cur.execute("TRUNCATE businesses_business CASCADE")
        cur.execute("DELETE FROM bench_meta")
        meta = None
    if meta is None:
        cur.execute("INSERT INTO bench_meta VALUES (1, %s, 0, %s)", [json.dumps(params), json.dumps({})])
        meta = {"params": params, "loaded": 0, "index_defs": {}}
    defs = {**meta["index_defs"], **_secondary_indexes(cur)}
    cur.execute("UPDATE bench_meta SET index_defs = %s WHERE id = 1", [json.dumps(defs)])
    report["loaded_before"] = meta["loaded"]

    if meta["loaded"] < assistants:
        for name in _secondary_indexes(cur):
            cur.execute(f'DROP INDEX IF EXISTS "{name}"')
        cur.execute(TSV_TRIGGER)
        now = datetime.now(UTC)
        for start in range(meta["loaded"], assistants, batch):
            group = range(start, min(assistants, start + batch))
            _create_parents(group, seed=seed, per_assistant=per_assistant)
            rows = []
            for a in group:
                texts, headings, vectors = assistant_chunks(a, per_assistant=per_assistant, seed=seed, pool=pool,
                                                            pool_vecs=pool_vecs, cells=cells)
                if any(index_text(t) != t for t in texts[:5]):
                    raise SystemExit("index_text changed the generated text: the trigger would not match ingestion")
                encoded = np.ascontiguousarray(vectors.astype(">f4"))
                header = np.array([DIM, 0], dtype=">u2").tobytes()
                business_id, assistant_id = _ids(seed, "business", a), _ids(seed, "assistant", a)
                per_source = -(-per_assistant // SOURCES_PER_ASSISTANT)
                for s in range(SOURCES_PER_ASSISTANT):
                    source_id = _ids(seed, "source", a, s)
                    source_rows = []
                    for i in range(s * per_source, min(per_assistant, (s + 1) * per_source)):
                        text = texts[i]
                        source_rows.append((
                            uuid.UUID(int=random.getrandbits(128), version=4), business_id, assistant_id, source_id,
                            i - s * per_source, text, headings[i], None, len(text) // 4,
                            hashlib.sha256(text.encode()).hexdigest(), vector_bytes(header + encoded[i].tobytes()),
                            MODEL_NAME, DIM, "english", now, now,
                        ))
                    rows.append(source_rows)
            random.Random(seed + start).shuffle(rows)  # sources land interleaved, as real ingestion does
            started = time.perf_counter()
            with conn.transaction():
                with cur.copy(f"COPY assistants_chunk ({', '.join(COPY_COLUMNS)}) FROM STDIN WITH (FORMAT BINARY)"
                              ) as copy:
                    copy.set_types(COPY_TYPES)
                    for source_rows in rows:
                        for row in source_rows:
                            copy.write_row(row)
                cur.execute("UPDATE bench_meta SET loaded = %s WHERE id = 1", [group.stop])
            report["copy_s"] += time.perf_counter() - started
            report["copied_rows"] += sum(len(r) for r in rows)
            done = group.stop - meta["loaded"]
            todo = assistants - meta["loaded"]
            print(f"  loaded assistants {group.start}-{group.stop - 1} ({done}/{todo}; "
                  f"{report['copied_rows'] / max(report['copy_s'], 1e-9):,.0f} rows/s in COPY)", flush=True)
        cur.execute(DROP_TSV_TRIGGER)
    else:
        report["skipped"] = True

    present = _secondary_indexes(cur)
    for name, definition in defs.items():
        if name in present or (name == HNSW_INDEX and not hnsw):
            continue
        settings = HNSW_BUILD_SETTINGS if name == HNSW_INDEX else {}
        _set(cur, settings)
        started = time.perf_counter()
        cur.execute(definition.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))
        report["index_s"][name] = time.perf_counter() - started
        _set(cur, {k: LOAD_SETTINGS[k] for k in settings})  # back to the load's values
        print(f"  built {name} in {report['index_s'][name]:.1f} s", flush=True)
    if not report["skipped"] or report["index_s"]:
        started = time.perf_counter()
        cur.execute("VACUUM (ANALYZE) assistants_chunk")
        cur.execute("ANALYZE assistants_knowledgesource")
        cur.execute("ANALYZE assistants_assistant")
        cur.execute("ANALYZE businesses_business")
        report["vacuum_s"] = time.perf_counter() - started
    report["hnsw_present"] = HNSW_INDEX in _secondary_indexes(cur)
    cur.execute("SELECT count(*) FROM assistants_chunk")
    report["table_rows"] = cur.fetchone()[0]
    cur.execute("SELECT pg_total_relation_size('assistants_chunk'), pg_relation_size('assistants_chunk'), "
                "pg_indexes_size('assistants_chunk')")
    report["total_bytes"], report["heap_bytes"], report["index_bytes"] = cur.fetchone()
    return report


def _create_parents(group: range, *, seed: int, per_assistant: int) -> None:
    from assistants.models import Assistant, KnowledgeSource
    from businesses.models import Business

    businesses, assistants, sources = [], [], []
    per_source = -(-per_assistant // SOURCES_PER_ASSISTANT)
    for a in group:
        trade = TRADE_NAMES[a % len(TRADE_NAMES)]
        name = f"{trade.title()} no. {a + 1}"
        business_id, assistant_id = _ids(seed, "business", a), _ids(seed, "assistant", a)
        businesses.append(Business(id=business_id, name=name, slug=f"bench-{seed}-{a}", locale="en"))
        assistants.append(Assistant(id=assistant_id, business_id=business_id, name="Assistant", slug="assistant",
                                    language="en"))
        for s in range(SOURCES_PER_ASSISTANT):
            count = max(0, min(per_assistant, (s + 1) * per_source) - s * per_source)
            sources.append(KnowledgeSource(
                id=_ids(seed, "source", a, s), business_id=business_id, assistant_id=assistant_id,
                kind=KnowledgeSource.Kind.TEXT, title=f"{name} - document {s + 1}", status="ready", progress=100,
                chunk_count=count,
            ))
    Business.objects.bulk_create(businesses, ignore_conflicts=True)
    Assistant.objects.unscoped().bulk_create(assistants, ignore_conflicts=True)
    KnowledgeSource.objects.unscoped().bulk_create(sources, ignore_conflicts=True)


# --------------------------------------------------------------------------- measure


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _top_k(vectors: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    v = vectors.astype(np.float64)
    q = query.astype(np.float64)
    distance = 1.0 - (v @ q) / (np.linalg.norm(v, axis=1) * np.linalg.norm(q))
    order = np.argsort(distance, kind="stable")
    return order[:k], distance


def measure(*, host, port, dbname, asked: list[tuple[int, str]], seed: int, rounds: int, hnsw: bool) -> dict:
    from django.db import connection, transaction

    from assistants.retrieval import _vector_literal, hybrid_search
    from inference import providers

    embedder = providers.embedder()
    embed_times, vectors = [], []
    for _, text in asked:
        started = time.perf_counter()
        vectors.append(embedder.embed_query(text))
        embed_times.append(time.perf_counter() - started)

    def run_sql(sql: str, params: list) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.fetchall()

    def kinds(a: int, text: str, vector: list[float]) -> dict:
        business_id, assistant_id = _ids(seed, "business", a), _ids(seed, "assistant", a)
        common = {"business_id": business_id, "assistant_id": assistant_id, "model": embedder.model_name,
                  "language": "en"}
        out = {
            "hybrid, exact plan (k=5)": lambda: hybrid_search(**common, query=text, query_vector=vector, k=5,
                                                              exact=True),
            "vector side only, exact (k=10)": lambda: hybrid_search(**common, query="", query_vector=vector, k=10,
                                                                    exact=True),
            "full-text side only (k=5)": lambda: hybrid_search(**common, query=text, query_vector=None, k=5,
                                                               exact=True),
        }
        if hnsw:
            out["hybrid, approximate plan (exact=False, k=5)"] = lambda: hybrid_search(
                **common, query=text, query_vector=vector, k=5, exact=False)
            out["vector side only, approximate (k=10)"] = lambda: hybrid_search(
                **common, query="", query_vector=vector, k=10, exact=False)
        out["reference: count(*) of the assistant's chunks"] = lambda: run_sql(
            "SELECT count(*) FROM assistants_chunk WHERE business_id = %s AND assistant_id = %s",
            [business_id, assistant_id])
        out["reference: SELECT 1 round trip"] = lambda: run_sql("SELECT 1", [])
        return out

    timings: dict[str, list[float]] = {name: [] for name in kinds(*asked[0], vectors[0])}  # table order
    first_pass: dict[str, list[float]] = {}
    results: dict[str, list] = {}
    # The first query to touch an assistant's rows reads them into shared_buffers (128 MB here,
    # far less than the table); a fixed order would hand that cost to the same kind every time.
    order_rng = random.Random(seed + 2)
    for round_no in range(rounds + 1):  # round 0: first touch, not in the percentiles
        for i, ((a, text), vector) in enumerate(zip(asked, vectors, strict=True)):
            calls = list(kinds(a, text, vector).items())
            order_rng.shuffle(calls)
            for name, call in calls:
                started = time.perf_counter()
                value = call()
                elapsed = time.perf_counter() - started
                (first_pass if round_no == 0 else timings).setdefault(name, []).append(elapsed)
                if round_no == 0 and name.startswith("vector side"):
                    results.setdefault(name, [None] * len(asked))[i] = value

    # Recall@10 against numpy brute force over the assistant's stored vectors.
    import psycopg

    recall: dict[str, list[float]] = {}
    strict_misses: dict[str, int] = {}
    with psycopg.connect(host=host, port=port, dbname=dbname, user="postgres") as conn:
        _register_vector_bytes(conn)
        cur = conn.cursor(binary=True)
        for i, ((a, _), vector) in enumerate(zip(asked, vectors, strict=True)):
            cur.execute("SELECT id, embedding FROM assistants_chunk WHERE business_id = %s AND assistant_id = %s "
                        "AND embedding_dim = %s AND embedding_model = %s",
                        [_ids(seed, "business", a), _ids(seed, "assistant", a), DIM, embedder.model_name])
            rows = cur.fetchall()
            ids = [str(r[0]) for r in rows]
            matrix = np.stack([r[1] for r in rows])
            # The query as the SQL received it (7 significant digits).
            sent = np.array([float(x) for x in _vector_literal(vector)[1:-1].split(",")])
            top, distance = _top_k(matrix, sent, 10)
            truth = {ids[j] for j in top}
            tenth = distance[top[-1]]
            by_id = dict(zip(ids, distance, strict=True))
            for name, found in results.items():
                got = [p.chunk_id for p in found[i]]
                foreign = [c for c in got if c not in by_id]
                if foreign:
                    raise SystemExit(f"{name}: a chunk of another assistant came back: {foreign}")
                hits = sum(1 for c in got if c in truth or by_id[c] <= tenth + 1e-6)
                recall.setdefault(name, []).append(hits / 10)
                strict_misses[name] = strict_misses.get(name, 0) + len(set(got) - truth)

    with connection.cursor() as cursor:
        cursor.execute("SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s) ORDER BY name",
                       [["shared_buffers", "work_mem", "effective_cache_size", "random_page_cost", "jit"]])
        server_settings = dict(cursor.fetchall())
    # One plan, to show which index the exact vector side uses.
    plan = _explain(connection, transaction, asked[0], vectors[0], seed=seed, model=embedder.model_name, exact=True)
    plans = {"exact": plan}
    if hnsw:
        plans["hnsw"] = _explain(connection, transaction, asked[0], vectors[0], seed=seed, model=embedder.model_name,
                                 exact=False)
    return {"timings": timings, "first_pass": first_pass, "recall": recall, "strict_misses": strict_misses,
            "embed_times": embed_times, "plans": plans, "server_settings": server_settings,
            "assistants_asked": len({a for a, _ in asked}), "runtime": getattr(embedder, "runtime", "")}


def _explain(connection, transaction, asked, vector, *, seed, model, exact: bool) -> list[str]:
    from assistants.retrieval import hybrid_search

    captured: list[tuple[str, object]] = []

    def capture(execute, sql, params, many, context):
        if sql.lstrip().startswith("WITH"):
            captured.append((sql, params))
        return execute(sql, params, many, context)

    a, text = asked
    with connection.execute_wrapper(capture):
        hybrid_search(business_id=_ids(seed, "business", a), assistant_id=_ids(seed, "assistant", a), query=text,
                      query_vector=vector, model=model, language="en", k=5, exact=exact)
    sql, params = captured[0]
    with transaction.atomic(), connection.cursor() as cursor:
        if not exact:
            cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            cursor.execute("SET LOCAL hnsw.ef_search = 100")
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
        lines = [r[0] for r in cursor.fetchall()]
    keep = ("Scan", "Sort", "Limit", "Execution Time", "Planning Time", "JIT", "CTE vec_raw", "CTE fts_raw")
    return [re.sub(r"'\[[^']*\]'", "'[...]'", line.rstrip()) for line in lines if any(w in line for w in keep)]


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=SCALES, default="full")
    parser.add_argument("--assistants", type=int, help="overrides the scale's assistant count")
    parser.add_argument("--chunks", type=int, help="chunks per assistant (overrides the scale's)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="timed passes over the queries, after a warm-up one")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=25, help="assistants per COPY transaction")
    parser.add_argument("--db", default="frontdesk_bench")
    parser.add_argument("--hnsw", action="store_true", help="build the HNSW index and measure the approximate plan")
    parser.add_argument("--keep", action="store_true", help="keep the bench database for the next run")
    args = parser.parse_args()
    assistants, per_assistant = SCALES[args.scale]
    assistants = args.assistants or assistants
    per_assistant = args.chunks or per_assistant

    from config.embedded_db.server import embedded_server_address

    host, port = embedded_server_address(pgdata=str(ROOT / ".data" / "pg"), name=args.db)
    os.environ["DATABASE_URL"] = f"postgres://postgres@/{args.db}?host={host}&port={port}"

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from inference import providers

    load_avg = os.getloadavg()
    started_all = time.perf_counter()
    call_command("migrate", verbosity=0)
    embedder = providers.embedder()
    pool, cells = sentence_pool(args.seed)
    pool_vecs, pool_embed_s, cached = pool_vectors(pool, embedder)
    print(f"sentence pool: {len(pool)} sentences, "
          + ("embeddings from the cache" if cached else f"embedded in {pool_embed_s:.1f} s"))
    print(f"loading {assistants} assistants x {per_assistant} chunks into {args.db} ...", flush=True)

    try:
        with _connect(host, port, args.db) as conn:
            report = load(conn, assistants=assistants, per_assistant=per_assistant, seed=args.seed,
                          batch=args.batch, hnsw=args.hnsw, pool=pool, pool_vecs=pool_vecs, cells=cells)
        asked = questions(args.queries, assistants=assistants, seed=args.seed)
        measured = measure(host=host, port=port, dbname=args.db, asked=asked, seed=args.seed, rounds=args.rounds,
                           hnsw=args.hnsw and report["hnsw_present"])
        _print(args, assistants, per_assistant, report, measured, load_avg=load_avg,
               elapsed=time.perf_counter() - started_all)
    finally:
        connections.close_all()
        if not args.keep:
            with _connect(host, port, "postgres") as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
            print(f"dropped database {args.db} (pass --keep to keep it)")


def _print(args, assistants, per_assistant, report, measured, *, load_avg, elapsed) -> None:
    gib = 1024**3
    print()
    print(f"scale: {assistants} assistants x {per_assistant} chunks; table holds {report['table_rows']:,} chunks "
          f"(heap {report['heap_bytes'] / gib:.2f} GiB, indexes {report['index_bytes'] / gib:.2f} GiB, "
          f"total {report['total_bytes'] / gib:.2f} GiB)")
    if report["skipped"]:
        print(f"load: skipped, already loaded ({report['loaded_before']} assistants with the same parameters)")
    else:
        rate = report["copied_rows"] / max(report["copy_s"], 1e-9)
        print(f"load: {report['copied_rows']:,} rows by binary COPY (tsvector by trigger) in {report['copy_s']:.1f} s "
              f"({rate:,.0f} rows/s), session SET {LOAD_SETTINGS}")
    if report["index_s"]:
        total = sum(report["index_s"].values())
        print(f"indexes rebuilt in {total:.1f} s: "
              + ", ".join(f"{k} {v:.1f} s" for k, v in report["index_s"].items()))
    if report["vacuum_s"]:
        print(f"VACUUM (ANALYZE): {report['vacuum_s']:.1f} s")
    hnsw = "present" if report["hnsw_present"] else "NOT built (pass --hnsw; only the exact plan is measured)"
    print(f"HNSW index {HNSW_INDEX}: {hnsw}" + (f", built with SET {HNSW_BUILD_SETTINGS}"
                                                 if HNSW_INDEX in report["index_s"] else ""))
    print(f"queries: {len(measured['embed_times'])} questions over {measured['assistants_asked']} assistants, "
          f"{args.rounds} timed passes after a warm-up pass; query sessions SET nothing (server: "
          + ", ".join(f"{k}={v}" for k, v in measured["server_settings"].items()) + "); "
          f"load average at start {load_avg[0]:.2f}")
    print()
    timings = measured["timings"]
    ref = statistics.median(timings["reference: count(*) of the assistant's chunks"])
    print("| query (Django connection, hybrid_search) | n | p50 ms | p95 ms | p99 ms | max ms | first pass p95 ms "
          "| p50 / count(*) p50 |")
    print("|---|---|---|---|---|---|---|---|")
    for name, values in timings.items():
        ms = [v * 1000 for v in values]
        first = [v * 1000 for v in measured["first_pass"][name]]
        print(f"| {name} | {len(ms)} | {statistics.median(ms):.2f} | {_pct(ms, 95):.2f} | {_pct(ms, 99):.2f} "
              f"| {max(ms):.2f} | {_pct(first, 95):.2f} | {statistics.median(values) / ref:.2f}x |")
    embed_ms = [v * 1000 for v in measured["embed_times"]]
    print(f"| (not in the above) embedding the question, {measured['runtime']} | {len(embed_ms)} "
          f"| {statistics.median(embed_ms):.2f} | {_pct(embed_ms, 95):.2f} | {_pct(embed_ms, 99):.2f} "
          f"| {max(embed_ms):.2f} | - | - |")
    print()
    print("| vector side vs numpy brute force | queries | recall@10 mean | min | queries below 1.0 "
          "| ids differing (ties included) |")
    print("|---|---|---|---|---|---|")
    for name in [n for n in measured["timings"] if n in measured["recall"]]:
        values = measured["recall"][name]
        print(f"| {name} | {len(values)} | {statistics.mean(values):.4f} | {min(values):.2f} "
              f"| {sum(1 for v in values if v < 1.0)} | {measured['strict_misses'][name]} |")
    for label, plan in measured["plans"].items():
        print()
        graph = "walks the HNSW graph" if any(HNSW_INDEX in line for line in plan) else "does not use the HNSW index"
        print(f"EXPLAIN (ANALYZE) of the first question, {label} plan ({graph}; scan/sort lines):")
        for line in plan:
            print("   " + line)
    print()
    print(f"total wall time {elapsed:.0f} s")


if __name__ == "__main__":
    main()
