"""Frontdesk's own knobs: model servers, ingestion limits."""

from pathlib import Path

from config.settings.env import BASE_DIR, ImproperlyConfiguredSecret, env

# Chat generation (vLLM's OpenAI-compatible API). Unset: the extractive answerer.
INFERENCE_BASE_URL = env.list("INFERENCE_BASE_URL", default=[])  # one or more replicas, comma separated
INFERENCE_MODEL = env.str("INFERENCE_MODEL", default="")
INFERENCE_API_KEY = env.str("INFERENCE_API_KEY", default="")
if INFERENCE_BASE_URL and not INFERENCE_MODEL:
    raise ImproperlyConfiguredSecret("INFERENCE_BASE_URL is set but INFERENCE_MODEL is not: name the model vLLM "
                                     "serves (its --served-model-name or --model).")

# Embeddings: any OpenAI-compatible /v1/embeddings server; unset: local all-MiniLM-L6-v2.
EMBEDDINGS_BASE_URL = env.str("EMBEDDINGS_BASE_URL", default="")
EMBEDDINGS_MODEL = env.str("EMBEDDINGS_MODEL", default="")
EMBEDDINGS_API_KEY = env.str("EMBEDDINGS_API_KEY", default="")

# Where people reach this deployment: the base of links in emails (the dashboard's inbox).
FRONTDESK_PUBLIC_URL = env.str("FRONTDESK_PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")

# Where derived artefacts (exported model files) are cached; ignored by git.
CACHE_DIR = Path(env.str("FRONTDESK_CACHE_DIR", default=str(BASE_DIR / ".cache")))

# Knowledge ingestion limits (per source). The plan's limits (billing) apply on top.
INGEST_MAX_UPLOAD_BYTES = env.int("INGEST_MAX_UPLOAD_BYTES", default=20 * 1024 * 1024)
INGEST_MAX_PAGES = env.int("INGEST_MAX_PAGES", default=500)
INGEST_MAX_CHARS = env.int("INGEST_MAX_CHARS", default=3_000_000)
INGEST_MAX_CHUNKS = env.int("INGEST_MAX_CHUNKS", default=5_000)
INGEST_MAX_FAQ_PAIRS = env.int("INGEST_MAX_FAQ_PAIRS", default=1_000)
INGEST_URL_MAX_PAGES = env.int("INGEST_URL_MAX_PAGES", default=50)
INGEST_URL_TIMEOUT = env.float("INGEST_URL_TIMEOUT", default=10.0)
INGEST_URL_MAX_BYTES = env.int("INGEST_URL_MAX_BYTES", default=5 * 1024 * 1024)
INGEST_USER_AGENT = env.str("INGEST_USER_AGENT", default="FrontdeskBot/1.0 (+https://frontdesk.example/bot)")
# Fetching private, loopback or link-local addresses (SSRF). Only tests turn this on.
INGEST_ALLOW_PRIVATE_URLS = env.bool("INGEST_ALLOW_PRIVATE_URLS", default=False)
# A source "pending" this long was never picked up (or "processing" with no heartbeat): the sweep
# re-queues it.
INGEST_STALE_AFTER_SECONDS = env.int("INGEST_STALE_AFTER_SECONDS", default=900)
# A worker writes a processing source's heartbeat this often; one silent for
# INGEST_HEARTBEAT_STALE_SECONDS lost its worker, and the sweep (every INGEST_SWEEP_SECONDS)
# re-queues it: within a minute with the defaults.
INGEST_HEARTBEAT_SECONDS = env.float("INGEST_HEARTBEAT_SECONDS", default=10.0)
INGEST_HEARTBEAT_STALE_SECONDS = env.int("INGEST_HEARTBEAT_STALE_SECONDS", default=40)
INGEST_SWEEP_SECONDS = env.float("INGEST_SWEEP_SECONDS", default=15.0)
INGEST_MAX_ATTEMPTS = env.int("INGEST_MAX_ATTEMPTS", default=3)
EMBEDDINGS_BATCH_SIZE = env.int("EMBEDDINGS_BATCH_SIZE", default=32)

# Retrieval: exact vector search up to this many chunks per assistant, HNSW beyond.
RETRIEVAL_EXACT_MAX_CHUNKS = env.int("RETRIEVAL_EXACT_MAX_CHUNKS", default=10_000)

# Chat generation limits and timeouts (inference/vllm.py). httpx's 5 s default is never used.
# Requests in flight per replica from ONE web process: set it to --max-num-seqs / WEB_CONCURRENCY.
INFERENCE_MAX_CONCURRENCY = env.int("INFERENCE_MAX_CONCURRENCY", default=256)
INFERENCE_CONNECT_TIMEOUT = env.float("INFERENCE_CONNECT_TIMEOUT", default=5.0)
INFERENCE_READ_TIMEOUT = env.float("INFERENCE_READ_TIMEOUT", default=60.0)  # longest silence inside a stream
INFERENCE_TOTAL_TIMEOUT = env.float("INFERENCE_TOTAL_TIMEOUT", default=180.0)
INFERENCE_MAX_RETRIES = env.int("INFERENCE_MAX_RETRIES", default=2)  # only before the first token
INFERENCE_COOLDOWN_SECONDS = env.float("INFERENCE_COOLDOWN_SECONDS", default=15.0)
INFERENCE_MAX_CONTEXT_TOKENS = env.int("INFERENCE_MAX_CONTEXT_TOKENS", default=4096)  # the model's --max-model-len
# Fair sharing of the model servers (inference/admission.py, docs/chat.md "Fair sharing"): answers
# in flight per replica across ALL web processes (vLLM's --max-num-seqs; unset: the per-process
# INFERENCE_MAX_CONCURRENCY), each business capped by its plan, waiting businesses served in turn.
INFERENCE_FAIR_SHARING = env.bool("INFERENCE_FAIR_SHARING", default=True)
INFERENCE_REPLICA_CAPACITY = env.int("INFERENCE_REPLICA_CAPACITY", default=INFERENCE_MAX_CONCURRENCY)
INFERENCE_QUEUE_TIMEOUT = env.float("INFERENCE_QUEUE_TIMEOUT", default=60.0)  # longest wait for a turn
INFERENCE_QUEUED_NOTICE_SECONDS = env.float("INFERENCE_QUEUED_NOTICE_SECONDS", default=5.0)  # `queued` events
INFERENCE_LEASE_SECONDS = env.float("INFERENCE_LEASE_SECONDS", default=30.0)  # a dead process's places free
# Send the plan's request priority to vLLM: only for a server started with --scheduling-policy
# priority (any other rejects a nonzero priority).
INFERENCE_PRIORITY_SCHEDULING = env.bool("INFERENCE_PRIORITY_SCHEDULING", default=False)
CHAT_HISTORY_MESSAGES = env.int("CHAT_HISTORY_MESSAGES", default=20)
CHAT_PASSAGES = env.int("CHAT_PASSAGES", default=5)
# How the prompt shows its passages: "document" (by source and chunk, the same order for every
# question, so vLLM's prefix cache reuses them across customers) or "rank" (best first).
CHAT_PASSAGE_ORDER = env.str("CHAT_PASSAGE_ORDER", default="document")
if CHAT_PASSAGE_ORDER not in ("document", "rank"):
    raise ImproperlyConfiguredSecret("CHAT_PASSAGE_ORDER must be document or rank.")
# Answers (docs/answers.md). Below this cosine similarity to the question a passage is not
# quoted nor shown to the model; with none left the answer is the handoff. Calibrated on
# tests/assistants/answers_kb.py (docs/answers.md "Calibration").
CHAT_RELEVANCE_FLOOR = env.float("CHAT_RELEVANCE_FLOOR", default=0.1)
# A catalog item is meant by a question that does not name it only this close in meaning.
CATALOG_MEANING_FLOOR = env.float("CATALOG_MEANING_FLOOR", default=0.55)
CATALOG_MAX_ITEMS = env.int("CATALOG_MAX_ITEMS", default=2000)  # items one answer looks through
# Unanswered questions (docs/unanswered.md): a question joins the assistant's open topic whose
# centroid is at least this cosine-similar, else it opens a topic. Measured for all-MiniLM-L6-v2
# (docs/unanswered.md "Grouping"); another embedding model needs its own value.
UNANSWERED_TOPIC_SIMILARITY = env.float("UNANSWERED_TOPIC_SIMILARITY", default=0.65)
# Knowledge tests (docs/knowledge-tests.md): at most this many per assistant, all answered before
# every new version of a source is published; the model answers this many of them at once.
KNOWLEDGE_TESTS_MAX = env.int("KNOWLEDGE_TESTS_MAX", default=200)
KNOWLEDGE_TESTS_CONCURRENCY = env.int("KNOWLEDGE_TESTS_CONCURRENCY", default=4)

# Analytics (docs/analytics.md): celery beat recomputes every business's yesterday and today in
# the daily rollup this often, seconds; today's numbers in the report are at most this old.
ANALYTICS_ROLLUP_INTERVAL = env.float("ANALYTICS_ROLLUP_INTERVAL", default=900.0)
