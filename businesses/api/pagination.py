"""Lists: keyset pagination in the contract's shape {"results": [...], "next": cursor-or-null}.

A list is ordered by ``(created_at, id)`` descending (newest first) unless its paginator names
other fields (all descending, ending in ``id``). ``next`` encodes the last row's values and the
next page is the rows strictly after it in that order. Unlike DRF's position + offset cursors,
a page never repeats or skips a row when many share a value, and a page deep in a long list
costs what the first one does (the tables index what their lists are ordered by).
"""

from __future__ import annotations

import base64
import binascii
import datetime

from django.core.exceptions import ValidationError
from django.db.models import Q
from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

ORDERING = ("-created_at", "-id")


class CursorPagination(pagination.CursorPagination):
    ordering = ORDERING
    page_size_query_param = "limit"
    max_page_size = 200

    @property
    def _fields(self) -> list[str]:
        return [name.lstrip("-") for name in self.ordering]

    def paginate_queryset(self, queryset, request, view=None):
        """The page the request's cursor points at, in keyset order (selectors leave the order
        of a list to this paginator)."""
        limit = self.get_page_size(request)
        token = request.query_params.get(self.cursor_query_param)
        if token is not None:
            queryset = queryset.filter(self._after(queryset.model, decode_values(token, len(self._fields))))
        rows = list(queryset.order_by(*self.ordering)[: limit + 1])
        self.next_cursor = encode_values(rows[limit - 1], self._fields) if len(rows) > limit else None
        return rows[:limit]

    def _after(self, model, texts: list[str]) -> Q:
        """Rows strictly after the cursor's in the (all descending) order."""
        values = []
        for name, text in zip(self._fields, texts, strict=True):
            try:
                value = model._meta.get_field(name).to_python(text)
            except ValidationError as exc:
                raise NotFound("Invalid cursor.") from exc
            if isinstance(value, datetime.datetime) and value.tzinfo is None:
                raise NotFound("Invalid cursor.")
            values.append(value)
        after = Q()
        for i, name in enumerate(self._fields):
            after |= Q(**{name: value for name, value in zip(self._fields[:i], values[:i], strict=True)},
                       **{f"{name}__lt": values[i]})
        return after

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


def _text(value) -> str:
    return value.isoformat() if isinstance(value, datetime.datetime) else str(value)


def encode_values(row, fields: list[str]) -> str:
    text = "|".join(_text(getattr(row, name)) for name in fields)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_values(token: str, count: int) -> list[str]:
    try:
        texts = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split("|")
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise NotFound("Invalid cursor.") from exc
    if len(texts) != count:
        raise NotFound("Invalid cursor.")
    return texts
