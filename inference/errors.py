"""Typed errors for everything that talks to a model (local or remote).

Callers of ``inference`` catch these and only these: httpx, torch and onnxruntime
exceptions never leave the package. ``code`` is stable and machine readable (it ends up in
the API's ``{"error": {"code": ...}}``); ``message`` is for a person.
"""

from __future__ import annotations

from typing import Any


class InferenceError(Exception):
    default_code = "inference_error"
    default_message = "The model server failed."
    # Whether trying the same call again later may succeed (timeouts, overload, 5xx).
    retryable = False

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.code = code or self.default_code
        self.details = dict(details or {})
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class InferenceTimeout(InferenceError):
    default_code = "inference_timeout"
    default_message = "The model server did not answer in time."
    retryable = True


class InferenceUnavailable(InferenceError):
    default_code = "inference_unavailable"
    default_message = "The model server is unavailable."
    retryable = True


class InferenceBadRequest(InferenceError):
    default_code = "inference_bad_request"
    default_message = "The model server rejected the request."
    retryable = False
