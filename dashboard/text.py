"""Small helpers of the pages: serializer errors as one sentence, htmx requests."""

from __future__ import annotations


def serializer_errors(detail) -> str:
    if isinstance(detail, dict):
        parts = []
        for field, value in detail.items():
            text = serializer_errors(value)
            parts.append(text if field in ("non_field_errors",) else f"{field.replace('_', ' ')}: {text}")
        return " ".join(parts)
    if isinstance(detail, list | tuple):
        return " ".join(serializer_errors(item) for item in detail)
    return str(detail)


def is_htmx(request) -> bool:
    """A request htmx made (a live fragment), not a full page load."""
    return request.headers.get("HX-Request") == "true"
