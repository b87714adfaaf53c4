"""Lists: keyset pagination, newest first, in the contract's shape {"results": [...], "next": cursor-or-null}.

Every list is ordered by ``(created_at, id)`` descending; ``next`` encodes the last row's pair and
the next page is the rows strictly after it in that order. Unlike DRF's position + offset
cursors, a page never repeats or skips a row when many share a timestamp, and a page deep in a
long list costs what the first one does.

A page's query is the view's queryset (scoped by its selector) plus that order, the cursor's
condition and the limit. For a plain single-table queryset, which is every list here, the
SELECT list and ORDER BY clause are built once per model and only the WHERE clause is compiled
per request, by Django: compiling the whole statement was the largest single cost of a list
request (docs/benchmarks.md, "API overhead"). Anything else (joins, select_related,
annotations, ...) goes through the ORM as it is; the tests check both give the same rows.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import functools
import json
import uuid

from django.core.exceptions import EmptyResultSet, FieldDoesNotExist, FullResultSet
from django.db import connections
from django.db.models import JSONField, Model, Q, QuerySet
from django.db.models.base import ModelState
from django.db.models.query import ModelIterable
from django.db.models.signals import post_init, pre_init
from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from businesses.tenancy import scope_of

ORDERING = ("-created_at", "-id")


class CursorPagination(pagination.CursorPagination):
    ordering = ORDERING
    page_size_query_param = "limit"
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        """The page of ``queryset`` the request's cursor points at, in keyset order (whatever order
        ``queryset`` had: selectors leave the ordering of a list to this paginator)."""
        limit = self.get_page_size(request)
        token = request.query_params.get(self.cursor_query_param)
        if token is not None:
            created_at, pk = decode_cursor(token)
            queryset = queryset.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
        rows = fetch(queryset, ORDERING, limit + 1)
        self.next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
        return rows[:limit]

    def get_paginated_data(self, data) -> dict:
        return {"results": data, "next": self.next_cursor}

    def get_paginated_response(self, data):
        return Response(self.get_paginated_data(data))

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


# --------------------------------------------------------------------------- fetching a page


def _is_plain(queryset: QuerySet, ordering: tuple[str, ...]) -> bool:
    """One table, every concrete column, model instances out, not sliced: what ``fetch`` can run
    itself in ``ordering``."""
    query = queryset.query
    return (queryset._iterable_class is ModelIterable and queryset._result_cache is None
            and not queryset._prefetch_related_lookups and not queryset._known_related_objects
            and _one_table(query) and query.default_cols and not query.select_related
            and not query.annotations and not query.extra and not query.distinct and not query.combinator
            and query.group_by is None and not query.select_for_update and not query.is_sliced
            and query.deferred_loading == (frozenset(), True)
            and _statement(query.model, queryset.db, ordering) is not None)


def _one_table(query) -> bool:
    """Only the model's own table is in use (a filter on ``fk_id`` leaves an unused join behind)."""
    used = [alias for alias, count in query.alias_refcount.items() if count]
    return used == [query.base_table] and query.alias_map[query.base_table].table_name == query.model._meta.db_table


@functools.cache
def _statement(model, alias: str, order_by: tuple[str, ...]) -> tuple[str, str, tuple[str, ...], tuple] | None:
    """SELECT ... FROM ..., ORDER BY ..., the selected columns' attribute names and, per column
    that has them, the converters Django applies to its values (JSON decoding, ...); None if an
    ordering term or a column is not in the model's own table."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    terms = []
    for term in order_by:
        name = term.removeprefix("-")
        try:
            field = model._meta.pk if name == "pk" else model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        if not getattr(field, "concrete", False) or field.model is not model._meta.concrete_model:
            return None
        terms.append(f"{table}.{quote(field.column)} {'DESC' if term.startswith('-') else 'ASC'}")
    fields = model._meta.concrete_fields
    if any(field.model._meta.concrete_model is not model._meta.concrete_model for field in fields):
        return None  # multi-table inheritance: some columns live in a parent's table
    # Identifiers from the model's metadata, quoted by the backend; every value is a parameter.
    columns = ", ".join(f"{table}.{quote(field.column)}" for field in fields)
    head = f"SELECT {columns} FROM {table}"  # noqa: S608
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(model._meta.db_table)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converters.append((index, column, tuple(_faster(function) for function in found)))
    return head, " ORDER BY " + ", ".join(terms), tuple(field.attname for field in fields), tuple(converters)


_scan_json = json.JSONDecoder().scan_once  # what json.loads(text) runs, without its checks around it


def _faster(converter):
    """A converter that gives what ``converter`` gives, sooner: a JSON column's text goes straight
    to the scanner ``json.loads`` uses (~2 k instructions for a short value where Django's
    ``JSONField.from_db_value`` took ~14 k); text it does not take whole (surrounding space,
    invalid JSON) goes to Django's converter as before."""
    field = getattr(converter, "__self__", None)
    if getattr(converter, "__func__", None) is not JSONField.from_db_value or field.decoder is not None:
        return converter

    def from_db_value(value, expression, connection):
        if type(value) is str:
            try:
                decoded, end = _scan_json(value, 0)
            except (StopIteration, ValueError):  # ValueError: the scanner's own JSONDecodeError
                pass
            else:
                if end == len(value):
                    return decoded
        return converter(value, expression, connection)

    return from_db_value


def fetch(queryset: QuerySet, ordering: tuple[str, ...], limit: int) -> list:
    """``list(queryset.order_by(*ordering)[:limit])``; see the module's docstring."""
    if not _is_plain(queryset, ordering):
        return list(queryset.order_by(*ordering)[:limit])
    query, db = queryset.query, queryset.db
    head, order, attnames, converters = _statement(query.model, db, ordering)
    try:
        where, params = _where(query, db)
    except EmptyResultSet:
        return []
    sql = f"{head} WHERE {where}{order} LIMIT {int(limit)}" if where else f"{head}{order} LIMIT {int(limit)}"
    connection = connections[db]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if converters:
        rows = [list(row) for row in rows]
        for row in rows:
            for index, column, functions in converters:
                for function in functions:
                    row[index] = function(row[index], column, connection)
    model = query.model
    if not _plain_init(model):
        return [model.from_db(db, attnames, row) for row in rows]
    return [_instance(model, db, attnames, row) for row in rows]


# A tenant's list (``Model.objects.for_business(b)`` with no other condition) compiles to the same
# WHERE clause for every business, with the business's id as its one parameter: Django compiles
# it once per model and database, and later pages reuse the text (compiling it took ~115 k
# instructions, a twentieth of a list request: docs/benchmarks.md, "API overhead").
_scope_sql: dict[tuple[type[Model], str], tuple[str, type]] = {}


def _where(query, db: str) -> tuple[str, list]:
    """The WHERE clause of ``query`` ("" for none) and its parameters; raises EmptyResultSet."""
    business_id = scope_of(query)
    if business_id is not None:
        known = _scope_sql.get((query.model, db))
        if known is not None and type(business_id) is known[1]:
            return known[0], [business_id]
    try:
        where, params = query.get_compiler(using=db).compile(query.where)
    except FullResultSet:
        return "", []
    if business_id is not None and list(params) == [business_id] and type(params[0]) is type(business_id):
        _scope_sql[query.model, db] = where, type(business_id)
    return where, list(params)


def _plain_init(model: type[Model]) -> bool:
    """Django's own ``from_db`` and ``__init__``, and nobody listening for either init signal."""
    return (model.from_db.__func__ is Model.from_db.__func__ and model.__init__ is Model.__init__
            and not pre_init.has_listeners(model) and not post_init.has_listeners(model))


def _instance(model: type[Model], db: str, attnames: tuple[str, ...], row) -> Model:
    """What ``model.from_db(db, attnames, row)`` returns for a row of every concrete column, for
    a model with ``_plain_init``: Model.__init__ then only sets the attributes and the state, one
    by one, and sends the two signals. Under a third of the instructions (5 assistants: 63 k
    against 218 k, docs/benchmarks.md)."""
    instance = model.__new__(model)
    state = ModelState()
    state.adding, state.db = False, db
    attributes = instance.__dict__
    attributes.update(zip(attnames, row, strict=True))
    attributes["_state"] = state
    return instance
