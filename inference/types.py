"""The values every chat backend and its callers share: the request, the streamed deltas, the
result, and the ``ChatBackend`` protocol.

Their own module so that ``inference/chat.py`` (which picks a backend) and the backends
(``inference/vllm.py``, ``inference/extractive.py``) import these without importing each other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

__all__ = ["ChatBackend", "ChatDelta", "ChatMessage", "ChatRequest", "ChatResult", "PassageRef", "Role"]

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
    # Cosine similarity of the passage to the question (retrieval's vector side), or None when
    # it was found by full text only (no query vector): the relevance floor reads it.
    similarity: float | None = None
    ordinal: int = 0  # the chunk's place in its source (the prompt shows passages in document order)


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
    # vLLM's request priority (lower is earlier), sent only to a server that schedules by it.
    priority: int = 0


@dataclass(frozen=True)
class ChatDelta:
    text: str


@dataclass(frozen=True)
class ChatResult:
    """The end of an answer. ``text`` is the whole answer (the deltas joined).

    ``cited``: the passages the answer used — for the extractive backend the ones it quoted,
    for vLLM every passage in the prompt; the chat flow's grounding gate
    (``inference.grounding``) narrows a generated answer's citations to the passages the
    model marked ``[n]``.
    """

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    backend: str
    model: str
    cited: list[PassageRef]
    # True when the backend found nothing to say from the passages and ``text`` is the
    # fallback (the honest "I don't know"): the caller hands the conversation to a person.
    abstained: bool = False


@runtime_checkable
class ChatBackend(Protocol):
    name: str

    def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta | ChatResult]:
        """Zero or more ``ChatDelta`` as text is produced, then exactly one ``ChatResult``."""
        ...

    async def complete(self, request: ChatRequest) -> ChatResult:
        """The whole answer at once."""
        ...
