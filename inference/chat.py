"""The one chat interface the rest of Frontdesk uses.

``get_chat_backend(...)`` picks the backend from configuration and returns one instance per
process and configuration, built on first use (thread-safe):

- ``base_urls`` non-empty: ``VLLMChatBackend`` (``inference/vllm.py``), an async client of
  vLLM's OpenAI-compatible API spread over the replicas, with a concurrency cap per replica.
- otherwise: ``ExtractiveChatBackend`` (``inference/extractive.py``), which answers without a
  model by quoting the best sentences of the retrieved passages.

Every backend streams zero or more ``ChatDelta`` and then exactly one ``ChatResult`` (the
values in ``inference/types.py``), and raises only ``inference.errors`` types.
"""

from __future__ import annotations

import threading

from inference.extractive import ExtractiveChatBackend
from inference.types import ChatBackend
from inference.vllm import VLLMChatBackend

__all__ = ["clear_chat_backend_cache", "get_chat_backend"]

_lock = threading.Lock()
_backends: dict[tuple, ChatBackend] = {}


def get_chat_backend(
    *,
    base_urls: list[str],
    model: str,
    api_key: str | None,
    max_concurrency: int,
    connect_timeout: float,
    read_timeout: float,
    total_timeout: float,
    max_retries: int,
    cooldown_seconds: float,
    priority_scheduling: bool = False,
) -> ChatBackend:
    """The process-wide chat backend for this configuration: vLLM if ``base_urls``, else extractive.

    All other arguments apply to the vLLM backend only. The vLLM backend keeps one pooled
    HTTP client per event loop, so the same instance serves ASGI views and Celery tasks that
    go through ``async_to_sync``.
    """
    if isinstance(base_urls, str):  # "http://a:8000/v1,http://b:8000/v1" straight from the env
        base_urls = base_urls.split(",")
    urls = tuple(u.strip() for u in base_urls if u and u.strip())
    if urls:
        key: tuple = ("vllm", urls, model, api_key, max_concurrency, connect_timeout, read_timeout,
                      total_timeout, max_retries, cooldown_seconds, priority_scheduling)
    else:
        key = ("extractive",)
    backend = _backends.get(key)
    if backend is not None:
        return backend
    with _lock:
        backend = _backends.get(key)
        if backend is None:
            if urls:
                backend = VLLMChatBackend(
                    base_urls=list(urls),
                    model=model,
                    api_key=api_key,
                    max_concurrency=max_concurrency,
                    connect_timeout=connect_timeout,
                    read_timeout=read_timeout,
                    total_timeout=total_timeout,
                    max_retries=max_retries,
                    cooldown_seconds=cooldown_seconds,
                    priority_scheduling=priority_scheduling,
                )
            else:
                backend = ExtractiveChatBackend()
            _backends[key] = backend
    return backend


def clear_chat_backend_cache() -> None:
    """Forget the built backends (tests; a process that changes its settings).

    HTTP clients are bound to event loops and are closed by ``VLLMChatBackend.aclose()`` from
    inside their loop; forgetting them here only drops the references.
    """
    with _lock:
        _backends.clear()
