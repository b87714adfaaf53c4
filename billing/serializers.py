from __future__ import annotations

from rest_framework import serializers


class CheckoutSerializer(serializers.Serializer):
    plan = serializers.SlugField(max_length=40, help_text="A paid plan's code: 'starter' or 'pro'.")
    success_url = serializers.URLField(max_length=2000)
    cancel_url = serializers.URLField(max_length=2000)


class PortalSerializer(serializers.Serializer):
    return_url = serializers.URLField(max_length=2000, required=False, allow_blank=True, default="")


class RedirectSerializer(serializers.Serializer):
    url = serializers.URLField()


class PlanSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    limits = serializers.DictField()


class UsageCounterSerializer(serializers.Serializer):
    used = serializers.IntegerField()
    limit = serializers.IntegerField()


class BillingSerializer(serializers.Serializer):
    plan = PlanSerializer(help_text="The plan whose limits apply now (Free once a past_due grace period ran out).")
    subscribed_plan = serializers.CharField()
    status = serializers.CharField()
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    cancel_at_period_end = serializers.BooleanField()
    past_due_since = serializers.DateTimeField(allow_null=True)
    usage = serializers.DictField(child=serializers.DictField())
