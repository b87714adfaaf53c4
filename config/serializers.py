"""Serializer conventions shared by every app."""

from __future__ import annotations

import datetime
import functools
import operator

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


def _identity(value):
    return value


def _converter(field: serializers.Field):
    """What DRF's ``to_representation`` amounts to for a non-null value, where that is one call."""
    method = type(field).to_representation
    if method is serializers.CharField.to_representation:
        return str
    if method is serializers.UUIDField.to_representation and field.uuid_format == "hex_verbose":
        return str
    if method is serializers.IntegerField.to_representation:
        return int
    if method is serializers.FloatField.to_representation:
        return float
    if method is serializers.JSONField.to_representation and not field.binary:
        return _identity
    return field.to_representation


def _getter(field: serializers.Field, model):
    """The instance's attribute for a field sourced from one of the model's own columns (such an
    attribute is always there, so DRF's missing-attribute handling never applies); else DRF's."""
    if model is not None and len(field.source_attrs) == 1:
        try:
            column = model._meta.get_field(field.source_attrs[0])
        except FieldDoesNotExist:
            column = None
        if column is not None and column.concrete and not column.is_relation and column.name == column.attname:
            return operator.attrgetter(column.attname)
    return field.get_attribute


@functools.cache
def _read_plan(serializer_class: type[serializers.Serializer]) -> tuple:
    fields = serializer_class().fields  # built once; read-only use is stateless for our fields
    model = getattr(getattr(serializer_class, "Meta", None), "model", None)
    return tuple((name, _getter(field, model), _converter(field), _iso_datetime(field))
                 for name, field in fields.items() if not field.write_only)


def represent(serializer_class: type[serializers.Serializer], instances) -> list[dict]:
    """``serializer_class(instances, many=True).data``, without rebuilding the fields.

    Only for serializers whose fields need no context (no request-built URLs); the tests
    compare it with DRF's own output for every list endpoint. Aware datetimes are written
    here as DRF's DateTimeField writes them, with the current time zone looked up once per
    call instead of once per value (a context-local lookup: ~5 % of a list request).
    """
    plan = _read_plan(serializer_class)
    tz = timezone.get_current_timezone() if settings.USE_TZ else None
    rows = []
    for instance in instances:
        row = {}
        for name, get_attribute, to_representation, iso_datetime in plan:
            try:
                attribute = get_attribute(instance)
            except SkipField:
                continue
            if iso_datetime and tz is not None and type(attribute) is datetime.datetime and attribute.tzinfo:
                try:
                    text = attribute.astimezone(tz).isoformat()
                except OverflowError:  # DRF's own path raises its validation error for it
                    pass
                else:
                    row[name] = text[:-6] + "Z" if text.endswith("+00:00") else text
                    continue
            check = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            row[name] = None if check is None else to_representation(attribute)
        rows.append(row)
    return rows
