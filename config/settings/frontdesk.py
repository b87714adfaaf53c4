"""Frontdesk's own knobs: model servers, ingestion limits."""

from config.settings.env import BASE_DIR, env

# Chat generation (vLLM's OpenAI-compatible API). Unset: the extractive answerer.
INFERENCE_BASE_URL = env.list("INFERENCE_BASE_URL", default=[])  # one or more replicas, comma separated
INFERENCE_MODEL = env.str("INFERENCE_MODEL", default="")
INFERENCE_API_KEY = env.str("INFERENCE_API_KEY", default="")

# Embeddings: any OpenAI-compatible /v1/embeddings server; unset: local all-MiniLM-L6-v2.
EMBEDDINGS_BASE_URL = env.str("EMBEDDINGS_BASE_URL", default="")
EMBEDDINGS_MODEL = env.str("EMBEDDINGS_MODEL", default="")
EMBEDDINGS_API_KEY = env.str("EMBEDDINGS_API_KEY", default="")

# Where derived artefacts (exported model files) are cached; ignored by git.
CACHE_DIR = env.path("FRONTDESK_CACHE_DIR", default=BASE_DIR / ".cache")
