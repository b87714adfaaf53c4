"""Lists: keyset pagination, newest first, in the contract's shape {"results": [...], "next": cursor-or-null}.

Every list is ordered by ``(created_at, id)`` descending; ``next`` encodes the last row's pair
and the next page is the rows strictly after it in that order. Unlike DRF's position + offset
cursors, a page never repeats or skips a row when many share a timestamp, and a page deep in a
long list costs what the first one does (the tables index ``created_at``).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import uuid

from django.db.models import Q
from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

ORDERING = ("-created_at", "-id")


class CursorPagination(pagination.CursorPagination):
    ordering = ORDERING
    page_size_query_param = "limit"
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        """The page the request's cursor points at, in keyset order (selectors leave the order
        of a list to this paginator)."""
        limit = self.get_page_size(request)
        token = request.query_params.get(self.cursor_query_param)
        if token is not None:
            created_at, pk = decode_cursor(token)
            queryset = queryset.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
        rows = list(queryset.order_by(*ORDERING)[: limit + 1])
        self.next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
        return rows[:limit]

    def get_paginated_response(self, data):
        return Response({"results": data, "next": self.next_cursor})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "nullable": True, "description": "Pass as ?cursor= for the next page."},
            },
        }


def encode_cursor(row) -> str:
    text = f"{row.created_at.isoformat()}|{row.pk}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[datetime.datetime, uuid.UUID]:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        created_at, pk = text.split("|")
        moment = datetime.datetime.fromisoformat(created_at)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment, uuid.UUID(pk)
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise NotFound("Invalid cursor.") from exc
