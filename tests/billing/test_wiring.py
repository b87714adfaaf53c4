"""Billing's place in the project: queue routing, the beat schedule, settings that refuse bad keys."""

from __future__ import annotations

import subprocess
import sys

from django.conf import settings

from config.celery import app
from tests.conftest import ROOT


def test_billing_tasks_go_to_the_billing_queue():
    app.loader.import_default_modules()  # what a worker does at start: autodiscovery
    for name in ("billing.tasks.stripe_event_process_task", "billing.tasks.usage_report_task"):
        assert name in app.tasks
        assert app.amqp.router.route({}, name)["queue"].name == "billing"


def test_usage_reporting_is_scheduled():
    entry = settings.CELERY_BEAT_SCHEDULE["billing-usage-report"]
    assert entry["task"] == "billing.tasks.usage_report_task"
    assert entry["schedule"] == settings.BILLING_METER_REPORT_INTERVAL


def test_a_mistyped_stripe_key_stops_the_boot_with_its_name():
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings.test", "STRIPE_SECRET_KEY": "pk_live_x"}
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "STRIPE_SECRET_KEY" in result.stderr
