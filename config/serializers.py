"""Serializer conventions shared by every app."""

from __future__ import annotations

import functools

from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject


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


@functools.cache
def _read_plan(serializer_class: type[serializers.Serializer]) -> tuple:
    fields = serializer_class().fields  # built once; read-only use is stateless for our fields
    return tuple((name, field.get_attribute, field.to_representation)
                 for name, field in fields.items() if not field.write_only)


def represent(serializer_class: type[serializers.Serializer], instances) -> list[dict]:
    """``serializer_class(instances, many=True).data``, without rebuilding the fields.

    Only for serializers whose fields need no context (no request-built URLs); the tests
    compare it with DRF's own output for every list endpoint.
    """
    plan = _read_plan(serializer_class)
    rows = []
    for instance in instances:
        row = {}
        for name, get_attribute, to_representation in plan:
            try:
                attribute = get_attribute(instance)
            except SkipField:
                continue
            check = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            row[name] = None if check is None else to_representation(attribute)
        rows.append(row)
    return rows
