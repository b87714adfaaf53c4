"""Seed the three plans. Later changes happen in the admin (plans are data)."""

from decimal import Decimal

from django.db import migrations

MB = 1024 * 1024

PLANS = [
    {"code": "free", "name": "Free", "sort_order": 0, "messages_per_month": 100, "max_assistants": 1,
     "max_sources": 5, "max_knowledge_bytes": 10 * MB, "overage_allowed": False, "overage_price_per_message": None,
     "monthly_price": Decimal("0")},
    {"code": "starter", "name": "Starter", "sort_order": 1, "messages_per_month": 2_000, "max_assistants": 3,
     "max_sources": 50, "max_knowledge_bytes": 200 * MB, "overage_allowed": True,
     "overage_price_per_message": Decimal("0.0200"), "monthly_price": Decimal("29")},
    {"code": "pro", "name": "Pro", "sort_order": 2, "messages_per_month": 10_000, "max_assistants": 10,
     "max_sources": 500, "max_knowledge_bytes": 2048 * MB, "overage_allowed": True,
     "overage_price_per_message": Decimal("0.0150"), "monthly_price": Decimal("99")},
]


def seed(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    for plan in PLANS:
        Plan.objects.update_or_create(code=plan["code"], defaults={k: v for k, v in plan.items() if k != "code"})


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    # Reversing keeps the rows: subscriptions may point at them; 0001's reversal drops the table.
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
