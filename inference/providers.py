"""The configured model backends, built from settings (the rest of inference/ takes arguments)."""

from __future__ import annotations

import threading

from django.conf import settings

from inference.admission import Admission, LocalAdmission, RedisAdmission
from inference.chat import get_chat_backend
from inference.embeddings import Embedder, get_embedder
from inference.types import ChatBackend


def embedder() -> Embedder:
    """The process-wide embedder: EMBEDDINGS_BASE_URL if set, else local all-MiniLM-L6-v2."""
    return get_embedder(
        base_url=settings.EMBEDDINGS_BASE_URL or None,
        model=settings.EMBEDDINGS_MODEL or None,
        api_key=settings.EMBEDDINGS_API_KEY or None,
        batch_size=settings.EMBEDDINGS_BATCH_SIZE,
        cache_dir=settings.CACHE_DIR / "models",
    )


def chat_backend() -> ChatBackend:
    """vLLM (INFERENCE_BASE_URL, one or more replicas) or, without it, the extractive answerer."""
    return get_chat_backend(
        base_urls=settings.INFERENCE_BASE_URL,
        model=settings.INFERENCE_MODEL,
        api_key=settings.INFERENCE_API_KEY or None,
        max_concurrency=settings.INFERENCE_MAX_CONCURRENCY,
        connect_timeout=settings.INFERENCE_CONNECT_TIMEOUT,
        read_timeout=settings.INFERENCE_READ_TIMEOUT,
        total_timeout=settings.INFERENCE_TOTAL_TIMEOUT,
        max_retries=settings.INFERENCE_MAX_RETRIES,
        cooldown_seconds=settings.INFERENCE_COOLDOWN_SECONDS,
        priority_scheduling=settings.INFERENCE_PRIORITY_SCHEDULING,
    )


_admission_lock = threading.Lock()
_admissions: dict[tuple, Admission] = {}


def admission() -> Admission:
    """The process-wide admission to the model servers (inference/admission.py): on Redis when
    REDIS_URL is set (shared by every web process), else in this process. Its capacity is the
    replicas times INFERENCE_REPLICA_CAPACITY."""
    replicas = [url for url in settings.INFERENCE_BASE_URL if url and url.strip()]
    capacity = max(1, len(replicas)) * settings.INFERENCE_REPLICA_CAPACITY
    key = (settings.REDIS_URL, capacity, settings.INFERENCE_LEASE_SECONDS, settings.INFERENCE_QUEUED_NOTICE_SECONDS)
    found = _admissions.get(key)
    if found is not None:
        return found
    with _admission_lock:
        found = _admissions.get(key)
        if found is None:
            if settings.REDIS_URL:
                found = RedisAdmission(url=settings.REDIS_URL, capacity=capacity,
                                       lease_seconds=settings.INFERENCE_LEASE_SECONDS,
                                       notice_seconds=settings.INFERENCE_QUEUED_NOTICE_SECONDS)
            else:
                found = LocalAdmission(capacity=capacity, notice_seconds=settings.INFERENCE_QUEUED_NOTICE_SECONDS)
            _admissions[key] = found
    return found
