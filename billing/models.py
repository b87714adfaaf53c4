"""Plans, subscriptions, usage counters, Stripe events and meter reports."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from businesses.tenancy import TenantManager, TenantModel

# The Free plan as seeded (migration 0002); recreated from this if its row is ever missing.
FREE_PLAN_DEFAULTS = {"name": "Free", "messages_per_month": 100, "max_assistants": 1, "max_sources": 5,
                      "max_knowledge_bytes": 10 * 1024 * 1024, "overage_allowed": False, "sort_order": 0,
                      "answers_in_flight": 4, "share_weight": 1, "inference_priority": 2, "messages_per_minute": 20}


class Plan(models.Model):
    """A price list entry with its limits. Data, not code: seeded by a migration, edited in the admin."""

    FREE = "free"

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    messages_per_month = models.PositiveIntegerField(help_text="Customer messages included per billing period.")
    max_assistants = models.PositiveIntegerField()
    max_sources = models.PositiveIntegerField()
    max_knowledge_bytes = models.PositiveBigIntegerField()
    overage_allowed = models.BooleanField(
        default=False, help_text="Messages beyond the allowance are served and billed through the meter.")
    overage_price_per_message = models.DecimalField(
        max_digits=10, decimal_places=4, null=True, blank=True,
        help_text="Shown to customers; the amount charged is the metered Stripe price's.")
    monthly_price = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="usd")
    stripe_price_id = models.CharField(
        max_length=100, blank=True, help_text="Used when no STRIPE_PRICE_<CODE> setting names one.")
    stripe_overage_price_id = models.CharField(
        max_length=100, blank=True, help_text="Metered price; used when no STRIPE_OVERAGE_PRICE_<CODE> is set.")
    # Fair sharing of the model servers (docs/chat.md "Fair sharing").
    answers_in_flight = models.PositiveIntegerField(
        default=8, help_text="Answers generated at once for one business, across all web processes; more wait "
                             "their turn.")
    share_weight = models.PositiveSmallIntegerField(
        default=1, help_text="Turns in the queue when the model servers are full: weight 2 is served twice as "
                             "often as weight 1.")
    inference_priority = models.IntegerField(
        default=0, help_text="vLLM request priority (lower is earlier); sent only with "
                             "INFERENCE_PRIORITY_SCHEDULING.")
    messages_per_minute = models.PositiveIntegerField(
        default=60, help_text="Customer messages a minute for the whole business (0: no limit); beyond it 429.")
    is_public = models.BooleanField(default=True, help_text="Offered at checkout.")
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name

    @property
    def price_id(self) -> str:
        return settings.STRIPE_PRICE_IDS.get(self.code) or self.stripe_price_id

    @property
    def overage_price_id(self) -> str:
        return settings.STRIPE_OVERAGE_PRICE_IDS.get(self.code) or self.stripe_overage_price_id

    @property
    def is_free(self) -> bool:
        return self.code == self.FREE

    def limits(self) -> dict:
        return {
            "messages_per_month": self.messages_per_month,
            "assistants": self.max_assistants,
            "sources": self.max_sources,
            "knowledge_bytes": self.max_knowledge_bytes,
            "overage": self.overage_allowed,
            "overage_price_per_message": (str(self.overage_price_per_message)
                                          if self.overage_price_per_message is not None else None),
            "answers_in_flight": self.answers_in_flight,
            "messages_per_minute": self.messages_per_minute,
        }


class Subscription(TenantModel):
    """A business's plan and the Stripe subscription behind it (one per business)."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        TRIALING = "trialing"
        PAST_DUE = "past_due"
        CANCELED = "canceled"
        INCOMPLETE = "incomplete"
        INCOMPLETE_EXPIRED = "incomplete_expired"
        UNPAID = "unpaid"
        PAUSED = "paused"

    business = models.OneToOneField("businesses.Business", on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    stripe_customer_id = models.CharField(max_length=100, blank=True, db_index=True)
    stripe_subscription_id = models.CharField(max_length=100, blank=True, db_index=True)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    past_due_since = models.DateTimeField(null=True, blank=True)
    # The moment (Stripe's clock for event data, ours for a re-fetch) the Stripe data on this
    # row reflects. Older data arriving later (events are delivered out of order) is ignored.
    stripe_data_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()

    def __str__(self) -> str:
        return f"{self.business_id}: {self.plan_id} ({self.status})"


class UsagePeriod(TenantModel):
    """Counters of one business in one billing period. Changed only by single UPDATE statements."""

    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    messages_used = models.PositiveIntegerField(default=0)
    # The allowance and overage flag of the plan in force at the last reservation (for metering).
    messages_limit = models.PositiveIntegerField(default=0)
    overage_billable = models.BooleanField(default=False)
    answers = models.PositiveIntegerField(default=0)
    tokens_in = models.PositiveBigIntegerField(default=0)
    tokens_out = models.PositiveBigIntegerField(default=0)
    # Overage messages Stripe has acknowledged (sum of sent MeterReports).
    overage_reported = models.PositiveIntegerField(default=0)

    objects = TenantManager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "period_start"], name="usage_business_period")]

    def __str__(self) -> str:
        return f"{self.business_id} {self.period_start:%Y-%m-%d}: {self.messages_used}/{self.messages_limit}"

    @property
    def overage(self) -> int:
        return max(0, self.messages_used - self.messages_limit)


class MeterReport(TenantModel):
    """One meter event sent (or to be sent) to Stripe: written before the call, so a retry resends
    exactly the same identifier and value instead of computing a new one."""

    usage = models.ForeignKey(UsagePeriod, on_delete=models.CASCADE, related_name="reports")
    identifier = models.CharField(max_length=100, unique=True)
    from_count = models.PositiveIntegerField()
    to_count = models.PositiveIntegerField()
    value = models.PositiveIntegerField()
    stripe_customer_id = models.CharField(max_length=100)
    event_timestamp = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["usage", "from_count"], name="meter_report_usage_from")]

    def __str__(self) -> str:
        return self.identifier


class StripeEvent(models.Model):
    """A verified Stripe webhook event, stored once per Stripe event id.

    Not a tenant model: the business is unknown until the event is processed.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    stripe_event_id = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField()
    stripe_created_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=200, blank=True)
    business = models.ForeignKey("businesses.Business", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")

    def __str__(self) -> str:
        return f"{self.stripe_event_id} ({self.type})"
