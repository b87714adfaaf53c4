"""Serializer conventions shared by every app."""

from __future__ import annotations

from rest_framework import serializers


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
