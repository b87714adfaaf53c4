"""Embeddings from any OpenAI-compatible ``/v1/embeddings`` server (vLLM, TEI, OpenAI).

Retries follow openai-python: only what can pass is retried (connection errors, timeouts,
408, 429, 5xx), a bounded number of times, with exponential backoff and full jitter, honouring
a short ``Retry-After``. Every failure leaves as an ``InferenceError`` subclass.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from typing import Any

import httpx

from inference import http_errors
from inference.embedding_backends.local import minilm_token_count
from inference.errors import (
    InferenceBadRequest,
    InferenceError,
    InferenceTimeout,
    InferenceUnavailable,
)

logger = logging.getLogger(__name__)

_RETRY_STATUSES = {408, 429}
_DIMENSION_PROBE = "dimension probe"


def _embeddings_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    if not base.endswith("/v1"):
        base += "/v1"
    return base + "/embeddings"


class OpenAIEmbedder:
    """Client for a remote embedding model. Thread-safe; one pooled connection set per process.

    ``count_tokens`` uses the local MiniLM tokenizer: the remote model's own tokenizer is not
    available offline, and the count is only used to size chunks, where an approximation
    within a few percent for English text is enough. Vectors are L2-normalised, like the local
    backend's, so a dot product is a cosine for every backend.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        batch_size: int = 32,
        timeout: float = 30.0,
        max_retries: int = 2,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        dimension: int | None = None,
    ) -> None:
        if not model:
            raise ValueError("an embedding model name is required with a base_url")
        self.model_name = model
        self.url = _embeddings_url(base_url)
        self.batch_size = max(1, batch_size)
        self.max_retries = max(0, max_retries)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._dimension = dimension
        self._lock = threading.Lock()
        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
        )

    # -- public API ---------------------------------------------------------------------------

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self.embed_documents([_DIMENSION_PROBE])
        assert self._dimension is not None
        return self._dimension

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise InferenceBadRequest("Texts to embed must be a list of strings.")
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors.extend(self._embed_batch(texts[start : start + self.batch_size]))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        if not isinstance(text, str):
            raise InferenceBadRequest("The query to embed must be a string.")
        return self.embed_documents([text])[0]

    def count_tokens(self, text: str) -> int:
        return minilm_token_count(text)

    def close(self) -> None:
        self._client.close()

    # -- HTTP ---------------------------------------------------------------------------------

    def _embed_batch(self, batch: list[str]) -> list[list[float]]:
        body = {"model": self.model_name, "input": batch, "encoding_format": "float"}
        response = self._post_with_retries(body)
        return self._parse(response, expected=len(batch))

    def _post_with_retries(self, body: dict[str, Any]) -> httpx.Response:
        attempt = 0
        while True:
            cause: Exception | None = None
            try:
                response = self._client.post(self.url, json=body)
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:  # retrying won't help
                raise InferenceUnavailable(
                    "The embedding server address is not usable.",
                    code="inference_misconfigured",
                    details={"url": self.url, "reason": str(exc)},
                ) from exc
            except httpx.TimeoutException as exc:
                cause = exc
                error: InferenceError = InferenceTimeout(
                    "The embedding server did not answer in time.",
                    details={"url": self.url, "reason": type(exc).__name__},
                )
                retry_after = None
            except httpx.TransportError as exc:  # connect refused, reset, protocol errors
                cause = exc
                error = InferenceUnavailable(
                    "The embedding server could not be reached.",
                    details={"url": self.url, "reason": str(exc) or type(exc).__name__},
                )
                retry_after = None
            else:
                status = response.status_code
                if status < 400:
                    return response
                message = http_errors.server_message(response)
                details = {"url": self.url, "status": status, "server_message": message}
                if status in _RETRY_STATUSES or status >= 500:
                    error = (
                        InferenceTimeout("The embedding server timed out.", details=details)
                        if status == 408
                        else InferenceUnavailable(
                            "The embedding server is overloaded or failing.",
                            code="inference_overloaded" if status == 429 else None,
                            details=details,
                        )
                    )
                    retry_after = http_errors.retry_after(response)
                else:
                    raise InferenceBadRequest(
                        f"The embedding server rejected the request: {message}",
                        details=details,
                    )
            if attempt >= self.max_retries:
                raise error from cause
            attempt += 1
            delay = self._backoff(attempt, retry_after)
            logger.warning(
                "embedding request failed (%s), retry %d/%d in %.2fs",
                error.code,
                attempt,
                self.max_retries,
                delay,
            )
            time.sleep(delay)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        # Full jitter: spreads the retries of many workers hitting one recovering server.
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)))

    def _parse(self, response: httpx.Response, *, expected: int) -> list[list[float]]:
        try:
            data = response.json()["data"]
            items = sorted(data, key=lambda item: item["index"])
            vectors = [[float(x) for x in item["embedding"]] for item in items]
        except (ValueError, KeyError, TypeError) as exc:
            raise InferenceUnavailable(
                "The embedding server sent an answer that is not an embeddings list.",
                code="inference_bad_response",
                details={"url": self.url},
            ) from exc
        if len(vectors) != expected or not all(vectors):
            raise InferenceUnavailable(
                f"The embedding server returned {len(vectors)} vectors for {expected} texts.",
                code="inference_bad_response",
                details={"url": self.url},
            )
        dims = {len(v) for v in vectors}
        with self._lock:
            # The first answer fixes the dimension; every later one must agree with it.
            if self._dimension is None and len(dims) == 1:
                self._dimension = next(iter(dims))
            dimension = self._dimension
        if dims != {dimension}:
            raise InferenceUnavailable(
                f"The embedding server returned vectors of {sorted(dims)} dimensions, "
                f"expected {dimension}.",
                code="inference_bad_response",
                details={"url": self.url, "model": self.model_name},
            )
        return [_normalize(v) for v in vectors]


def _normalize(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm > 0 else vector


