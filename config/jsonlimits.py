"""JSON bodies nested deeper than MAX_JSON_DEPTH are refused with 400.

Python's json module recurses once per level: about a thousand levels (2 KB of brackets) raise
RecursionError, a 500, and anything that walks the result later recurses as deep. No request
body of this API needs more than a few levels, so a small limit is checked after parsing,
iteratively, and a RecursionError while parsing is the same refusal.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JsonTooDeep(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The JSON body is nested more than {limit} levels deep.")
        self.limit = limit


def json_depth_check(data: Any, *, limit: int) -> None:
    """Raise JsonTooDeep when ``data`` has containers nested more than ``limit`` levels."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            raise JsonTooDeep(limit)
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def json_loads_limited(raw: bytes | str) -> Any:
    """``json.loads`` with the nesting limit; ValueError (JsonTooDeep among them) on a bad body."""
    limit = settings.MAX_JSON_DEPTH
    try:
        data = json.loads(raw)
    except RecursionError as exc:
        raise JsonTooDeep(limit) from exc
    json_depth_check(data, limit=limit)
    return data


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the nesting limit (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(str(JsonTooDeep(settings.MAX_JSON_DEPTH))) from exc
        try:
            json_depth_check(data, limit=settings.MAX_JSON_DEPTH)
        except JsonTooDeep as exc:
            raise ParseError(str(exc)) from exc
        return data
