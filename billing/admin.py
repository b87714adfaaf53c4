from django.contrib import admin

from billing.models import MeterReport, Plan, StripeEvent, Subscription, UsagePeriod
from businesses.admin import UnscopedAdmin


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "messages_per_month", "max_assistants", "max_sources", "max_knowledge_bytes",
                    "overage_allowed", "monthly_price", "answers_in_flight", "share_weight", "messages_per_minute",
                    "is_public")
    list_editable = ("messages_per_month", "max_assistants", "max_sources", "max_knowledge_bytes",
                     "overage_allowed", "answers_in_flight", "share_weight", "messages_per_minute", "is_public")


@admin.register(Subscription)
class SubscriptionAdmin(UnscopedAdmin):
    list_display = ("business", "plan", "status", "current_period_end", "cancel_at_period_end", "past_due_since")
    list_filter = ("status", "plan")
    list_select_related = ("business", "plan")
    search_fields = ("business__name", "stripe_customer_id", "stripe_subscription_id")
    raw_id_fields = ("business",)
    readonly_fields = ("stripe_data_at", "created_at", "updated_at")


@admin.register(UsagePeriod)
class UsagePeriodAdmin(UnscopedAdmin):
    list_display = ("business", "period_start", "period_end", "messages_used", "messages_limit", "answers",
                    "tokens_in", "tokens_out", "overage_reported")
    list_select_related = ("business",)
    search_fields = ("business__name",)
    raw_id_fields = ("business",)


@admin.register(MeterReport)
class MeterReportAdmin(UnscopedAdmin):
    list_display = ("identifier", "value", "event_timestamp", "attempts", "sent_at")
    readonly_fields = [f.name for f in MeterReport._meta.fields]


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    list_display = ("stripe_event_id", "type", "stripe_created_at", "processed_at", "outcome")
    list_filter = ("type",)
    search_fields = ("stripe_event_id",)
    readonly_fields = [f.name for f in StripeEvent._meta.fields]
