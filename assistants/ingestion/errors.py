"""The one error type the ingestion library raises.

The pipeline stores ``code`` and ``message`` on the KnowledgeSource when it fails, and uses
``transient`` to decide whether a Celery retry can help. Everything else (pypdf, zipfile,
httpx exceptions) is translated into this at the edge, so callers never see library errors.
"""

from __future__ import annotations


class IngestionError(Exception):
    """Extraction or fetching failed in a way we can explain to the business owner.

    ``code`` is a stable machine-readable slug (``scanned_pdf``, ``too_many_pages`` ...);
    ``message`` is written for a shop owner and says what to do next; ``transient`` is True
    only when trying again later may succeed (timeouts, 5xx, connection refused), so bad
    input is never retried.
    """

    code: str
    message: str
    transient: bool

    def __init__(self, code: str, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.transient = transient

    def __repr__(self) -> str:
        return f"IngestionError(code={self.code!r}, message={self.message!r}, transient={self.transient!r})"
