"""The catalog item's API shape, strict on input (unknown fields, wrong types: 400)."""

from __future__ import annotations

from rest_framework import serializers

from assistants.catalog.allergens import DIETARY_TAGS, normalise_allergens
from assistants.models import CatalogItem
from businesses.api.serializers import StrictSerializer


class OptionSerializer(StrictSerializer):
    name = serializers.CharField(min_length=1, max_length=100)
    price_delta = serializers.DecimalField(max_digits=10, decimal_places=2, required=False, default=0,
                                           help_text="Added to the item's price, e.g. \"2.00\" (may be negative).")


class CatalogItemSerializer(StrictSerializer):
    """In and out: ``price`` is a decimal string ("12.50"); ``allergens`` are canonical EU allergen
    names (null: not stated — allergen questions about the item go to a person); other words
    sent in ``allergens`` are kept in ``allergens_other``."""

    id = serializers.UUIDField(read_only=True)
    assistant_id = serializers.UUIDField(read_only=True)
    source_id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(min_length=1, max_length=200)
    category = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False, allow_null=True,
                                     default=None, coerce_to_string=True)
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", required=False, allow_blank=True, default="",
                                      help_text="ISO 4217, e.g. EUR; blank: not stated.")
    allergens = serializers.ListField(child=serializers.CharField(min_length=1, max_length=60), max_length=30,
                                      required=False, allow_null=True, default=None,
                                      help_text="e.g. [\"gluten\", \"peanuts\", \"soybeans\"]; null: not stated.")
    allergens_other = serializers.ListField(child=serializers.CharField(min_length=1, max_length=60),
                                            max_length=20, required=False, default=list)
    dietary = serializers.DictField(child=serializers.BooleanField(), required=False, default=dict,
                                    help_text=f"Stated tags only: {', '.join(DIETARY_TAGS)}.")
    spice_level = serializers.IntegerField(min_value=0, max_value=5, required=False, allow_null=True, default=None)
    options = OptionSerializer(many=True, required=False, default=list)
    available = serializers.BooleanField(required=False, default=True, help_text="false: sold out.")
    available_until = serializers.DateTimeField(required=False, allow_null=True, default=None)
    extra = serializers.DictField(child=serializers.CharField(max_length=500, allow_blank=True), required=False,
                                  default=dict)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            errors = {}
            for name in ("allergens", "allergens_other"):
                value = data.get(name)
                if isinstance(value, list) and not all(isinstance(v, str) for v in value):
                    errors[name] = ["Expected a list of texts."]
            extra = data.get("extra")
            if isinstance(extra, dict) and not all(isinstance(v, str) for v in extra.values()):
                errors["extra"] = ["Expected texts as values."]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)

    def validate_dietary(self, value: dict) -> dict:
        unknown = sorted(set(value) - set(DIETARY_TAGS))
        if unknown:
            raise serializers.ValidationError(f"Unknown tag(s) {', '.join(unknown)}; use {', '.join(DIETARY_TAGS)}.")
        return value

    def validate_currency(self, value: str) -> str:
        return value.upper()

    def validate_options(self, value: list) -> list:
        if len(value) > 20:
            raise serializers.ValidationError("At most 20 options.")
        return [{"name": o["name"], "price_delta": f"{o.get('price_delta') or 0:.2f}"} for o in value]

    def validate_extra(self, value: dict) -> dict:
        if len(value) > 30 or any(len(str(k)) > 50 for k in value):
            raise serializers.ValidationError("At most 30 entries, keys of at most 50 characters.")
        return value

    def validate(self, attrs):
        if "allergens" in attrs and attrs["allergens"] is not None:
            canonical, other = normalise_allergens(attrs["allergens"])
            attrs["allergens"] = canonical
            attrs["allergens_other"] = list(dict.fromkeys([*attrs.get("allergens_other", []), *other]))
        return attrs

    def to_representation(self, instance: CatalogItem) -> dict:
        data = super().to_representation(instance)
        data["options"] = instance.options
        return data
