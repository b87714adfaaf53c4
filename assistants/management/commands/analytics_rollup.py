"""Recompute the analytics rollup (docs/analytics.md): a backfill after deploying, or the demo's
numbers where no celery beat runs.

    manage.py analytics_rollup [--days 2] [--business ID]
"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from assistants.analytics.services import MAX_ROLLUP_DAYS, analytics_rollup, local_today
from businesses.models import Business


class Command(BaseCommand):
    help = "Recompute the analytics rollup of the last --days days (today included) of every business or one."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=2, help=f"1 to {MAX_ROLLUP_DAYS}; default 2 (as beat)")
        parser.add_argument("--business", help="one business's id")

    def handle(self, *args, days: int, business: str | None, **options) -> None:
        if not 1 <= days <= MAX_ROLLUP_DAYS:
            raise CommandError(f"--days must be 1 to {MAX_ROLLUP_DAYS}.")
        businesses = Business.objects.order_by("pk")
        if business:
            businesses = businesses.filter(pk=business)
        rows = n = 0
        for business_id, tz in businesses.values_list("pk", "timezone").iterator():
            today = local_today(tz)
            rows += analytics_rollup(business_id=business_id, start=today - timedelta(days=days - 1), end=today)
            n += 1
        self.stdout.write(f"analytics: {rows} rollup rows for {n} businesses, the last {days} days")
