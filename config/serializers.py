"""Serializer conventions shared by every app."""

from __future__ import annotations

import datetime
import functools
import keyword
import operator
import uuid

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject
from rest_framework.settings import api_settings


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, instead of silently dropping them.

    A typo like ``{"temprature": 0.2}`` must fail loudly, not look applied.
    """

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        writable = {name for name, field in self.fields.items() if not field.read_only}
        errors = {name: ["Unknown field."] for name in sorted(set(data) - writable)}
        # DRF's CharField turns 123 into "123"; a number where text belongs is a client bug.
        for name, field in self.fields.items():
            value = data.get(name)
            if isinstance(field, serializers.CharField) and value is not None and not isinstance(value, str):
                errors[name] = [f"Expected text, got {type(value).__name__}."]
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class StrictModelSerializer(StrictSerializer, serializers.ModelSerializer):
    pass


# --------------------------------------------------------------------------- fast reads
# DRF builds a serializer's fields anew for every request (for a ModelSerializer: model
# introspection and ~20 field objects), which was half the CPU of a list request
# (docs/benchmarks.md, "API overhead"). Reading needs none of that per request: the same
# bound fields, built once per serializer class, turn instances into the same dicts.


def _iso_datetime(field: serializers.Field) -> bool:
    """A DateTimeField that DRF writes as ISO 8601 in the current time zone (the default)."""
    return (isinstance(field, serializers.DateTimeField) and not hasattr(field, "timezone")
            and (getattr(field, "format", api_settings.DATETIME_FORMAT) or "").lower() == ISO_8601)


# What a non-null value becomes, where DRF's ``to_representation`` amounts to something simple.
_AS_IS, _STR, _UUID, _INT, _FLOAT, _DATETIME, _DRF = "as-is", "str", "uuid", "int", "float", "datetime", "drf"


def _conversion(field: serializers.Field) -> str:
    if _iso_datetime(field):
        return _DATETIME
    method = type(field).to_representation
    if method is serializers.CharField.to_representation:
        return _STR
    if method is serializers.UUIDField.to_representation and field.uuid_format == "hex_verbose":
        return _UUID
    if method is serializers.IntegerField.to_representation:
        return _INT
    if method is serializers.FloatField.to_representation:
        return _FLOAT
    if method is serializers.JSONField.to_representation and not field.binary:
        return _AS_IS
    return _DRF


def _column(field: serializers.Field, model) -> str | None:
    """The attribute of one of the model's own columns the field reads, if it reads one (such an
    attribute is always there, so DRF's missing-attribute handling never applies, and it is never
    a related object)."""
    if model is None or len(field.source_attrs) != 1:
        return None
    try:
        column = model._meta.get_field(field.source_attrs[0])
    except FieldDoesNotExist:
        return None
    if column.concrete and not column.is_relation and column.name == column.attname:
        return column.attname
    return None


# Memos of the two conversions that cost most per value (measured with callgrind, 2026-11-29:
# ``datetime.astimezone(tz).isoformat()`` ~15,800 instructions, ``str(uuid)`` ~8,700, a memo
# hit ~1,000): a page's ids and timestamps come back on every read of it. Bounded: emptied when
# full. Datetimes are memoised only with a fixed offset (what the database gives), where equal
# values are the same instant and so the same text in any zone.
MEMO_SIZE = 4096
_iso_texts: dict = {}  # time zone -> {datetime: DRF's text for it in that zone}
_uuid_texts: dict[int, str] = {}


def _uuid_text(value) -> str | None:
    if value is None:
        return None
    if type(value) is not uuid.UUID:
        return str(value)
    text = _uuid_texts.get(value.int)
    if text is None:
        if len(_uuid_texts) >= MEMO_SIZE:
            _uuid_texts.clear()
        text = _uuid_texts[value.int] = str(value)
    return text


def _iso_text(value, tz, memo: dict, to_representation):
    """DRF's ISO 8601 text for a datetime in the current time zone ``tz``, with "Z" for UTC."""
    if value is None:
        return None
    if tz is None or type(value) is not datetime.datetime or not value.tzinfo:
        return to_representation(value)
    fixed = type(value.tzinfo) is datetime.timezone
    if fixed:
        text = memo.get(value)
        if text is not None:
            return text
    try:
        text = value.astimezone(tz).isoformat()
    except OverflowError:  # DRF's own path raises its validation error for it
        return to_representation(value)
    if text.endswith("+00:00"):
        text = text[:-6] + "Z"
    if fixed:
        if len(memo) >= MEMO_SIZE:
            memo.clear()
        memo[value] = text
    return text


_SKIP = object()


def _drf_value(field: serializers.Field):
    """DRF's own reading of one field: ``_SKIP`` where DRF leaves the field out."""
    get_attribute, to_representation = field.get_attribute, field.to_representation

    def value(instance):
        try:
            attribute = get_attribute(instance)
        except SkipField:
            return _SKIP
        check = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
        return None if check is None else to_representation(attribute)

    return value


@functools.cache
def _reader(serializer_class: type[serializers.Serializer]):
    """A function ``(instances, tz, memo) -> rows`` written for this serializer's fields.

    Generated source, as ``dataclasses`` writes ``__init__``: one statement per field, reading
    the column attribute and converting it inline, instead of a loop over the fields with a
    call, a tuple unpack and type checks per value (~2.5x fewer instructions for a page).
    Fields that do not read one of the model's own columns go through DRF's own
    ``get_attribute`` and ``to_representation``.
    """
    fields = serializer_class().fields  # built once; read-only use is stateless for our fields
    model = getattr(getattr(serializer_class, "Meta", None), "model", None)
    names = {"_SKIP": _SKIP, "_iso": _iso_text, "_uuid": _uuid_text, "_str": str, "_int": int, "_float": float}
    reads, items, skips = [], [], []
    for number, (name, field) in enumerate((n, f) for n, f in fields.items() if not f.write_only):
        value = f"v{number}"
        attname = _column(field, model)
        if attname is None:
            names[f"_drf{number}"] = _drf_value(field)
            reads.append(f"{value} = _drf{number}(o)")
            items.append(f"{name!r}: {value}")
            skips.append(f"if {value} is _SKIP: del row[{name!r}]")
            continue
        if attname.isidentifier() and not keyword.iskeyword(attname):
            reads.append(f"{value} = o.{attname}")
        else:
            names[f"_get{number}"] = operator.attrgetter(attname)
            reads.append(f"{value} = _get{number}(o)")
        conversion = _conversion(field)
        if conversion == _AS_IS:
            items.append(f"{name!r}: {value}")
        elif conversion == _DATETIME:
            names[f"_drf{number}"] = field.to_representation
            items.append(f"{name!r}: _iso({value}, tz, memo, _drf{number})")
        elif conversion == _UUID:
            items.append(f"{name!r}: _uuid({value})")
        else:
            convert = f"_{conversion}"
            if conversion == _DRF:
                convert = f"_drf{number}"
                names[convert] = field.to_representation
            items.append(f"{name!r}: None if {value} is None else {convert}({value})")
    body = "\n".join(f"        {line}" for line in [*reads, "row = {" + ", ".join(items) + "}", *skips,
                                                       "rows.append(row)"])
    source = f"def read(instances, tz, memo):\n    rows = []\n    for o in instances:\n{body}\n    return rows\n"
    # Safe: the source holds only the serializer's field names (as string literals) and the
    # model's column names where they are identifiers; values come in as arguments.
    exec(compile(source, f"<represent {serializer_class.__module__}.{serializer_class.__qualname__}>", "exec"),  # noqa: S102
         names)
    read = names["read"]
    read.source = source
    return read


def represent(serializer_class: type[serializers.Serializer], instances) -> list[dict]:
    """``serializer_class(instances, many=True).data``, without rebuilding the fields.

    Only for serializers whose fields need no context (no request-built URLs); the tests
    compare it with DRF's own output for every list endpoint. Aware datetimes are written
    here as DRF's DateTimeField writes them, with the current time zone looked up once per
    call instead of once per value (a context-local lookup: ~5 % of a list request).
    """
    tz = timezone.get_current_timezone() if settings.USE_TZ else None
    memo = _iso_texts.get(tz)
    if memo is None:
        if len(_iso_texts) >= 64:  # zones seen: a handful in practice
            _iso_texts.clear()
        memo = _iso_texts.setdefault(tz, {})
    return _reader(serializer_class)(instances, tz, memo)
