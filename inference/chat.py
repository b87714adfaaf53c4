"""The one chat interface the rest of Frontdesk uses.

``get_chat_backend(...)`` picks the backend from configuration and returns one instance per
process and configuration, built on first use (thread-safe):

- ``base_urls`` non-empty: ``VLLMChatBackend`` (``inference/vllm.py``), an async client of
  vLLM's OpenAI-compatible API spread over the replicas, with a concurrency cap per replica.
- otherwise: ``ExtractiveChatBackend`` (``inference/extractive.py``), which answers without a
  model by quoting the best sentences of the retrieved passages.

Every backend streams zero or more ``ChatDelta`` and then exactly one ``ChatResult``, and
raises only ``inference.errors`` types.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

__all__ = [
    "ChatBackend",
    "ChatDelta",
    "ChatMessage",
    "ChatRequest",
    "ChatResult",
    "PassageRef",
    "clear_chat_backend_cache",
    "get_chat_backend",
]

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class PassageRef:
    """A knowledge passage handed to the model (and cited back to the customer)."""

    chunk_id: str
    source_id: str
    source_title: str
    text: str


@dataclass
class ChatRequest:
    """What to generate.

    ``messages`` is the full prompt (see ``inference.prompts.build_prompt``). ``passages`` and
    ``question`` are the same material in structured form: the vLLM backend cites
    ``passages`` and ignores ``question``; the extractive backend answers from them and
    ignores ``messages``. ``fallback_text`` is what the extractive backend says when no
    passage answers the question (the caller knows the business's wording, handoff contact
    and language); ``None`` means the backend's default English sentence.
    """

    messages: list[ChatMessage]
    max_tokens: int
    temperature: float
    model: str | None = None
    passages: list[PassageRef] = field(default_factory=list)
    question: str = ""
    stop: list[str] | None = None
    fallback_text: str | None = None


@dataclass(frozen=True)
class ChatDelta:
    text: str


@dataclass(frozen=True)
class ChatResult:
    """The end of an answer. ``text`` is the whole answer (the deltas joined).

    ``cited``: the passages the answer used — for the extractive backend the ones it quoted,
    for vLLM every passage that was in the prompt (the model's own ``[n]`` markers are not
    trusted as the citation list).
    """

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    backend: str
    model: str
    cited: list[PassageRef]


@runtime_checkable
class ChatBackend(Protocol):
    name: str

    def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta | ChatResult]:
        """Zero or more ``ChatDelta`` as text is produced, then exactly one ``ChatResult``."""
        ...

    async def complete(self, request: ChatRequest) -> ChatResult:
        """The whole answer at once."""
        ...


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
                      total_timeout, max_retries, cooldown_seconds)
    else:
        key = ("extractive",)
    backend = _backends.get(key)
    if backend is not None:
        return backend
    with _lock:
        backend = _backends.get(key)
        if backend is None:
            # Imported here: both modules import this one for the dataclasses.
            if urls:
                from inference.vllm import VLLMChatBackend

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
                )
            else:
                from inference.extractive import ExtractiveChatBackend

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
