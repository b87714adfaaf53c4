"""Cursor pagination with the contract's shape: {"results": [...], "next": cursor-or-null}."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from rest_framework import pagination
from rest_framework.response import Response


class CursorPagination(pagination.CursorPagination):
    ordering = ("-created_at", "-id")
    page_size_query_param = "limit"
    max_page_size = 200

    def _cursor_token(self, url: str | None) -> str | None:
        if not url:
            return None
        values = parse_qs(urlparse(url).query).get(self.cursor_query_param)
        return values[0] if values else None

    def get_paginated_response(self, data):
        return Response({"results": data, "next": self._cursor_token(self.get_next_link())})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "nullable": True, "description": "Pass as ?cursor= for the next page."},
            },
        }
