"""The configured model backends, built from settings (the rest of inference/ takes arguments)."""

from __future__ import annotations

from django.conf import settings

from inference.embeddings import Embedder, get_embedder


def embedder() -> Embedder:
    """The process-wide embedder: EMBEDDINGS_BASE_URL if set, else local all-MiniLM-L6-v2."""
    return get_embedder(
        base_url=settings.EMBEDDINGS_BASE_URL or None,
        model=settings.EMBEDDINGS_MODEL or None,
        api_key=settings.EMBEDDINGS_API_KEY or None,
        batch_size=settings.EMBEDDINGS_BATCH_SIZE,
        cache_dir=settings.CACHE_DIR / "models",
    )
