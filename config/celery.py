"""The Celery app: JSON only, late acks, time limits, four queues (settings/redis.py)."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

# The four queues workers consume (DESIGN.md). Every task names its queue.
QUEUES = ("ingest", "channels", "billing", "webhooks")

app = Celery("frontdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in QUEUES]
app.autodiscover_tasks()
app.autodiscover_tasks(["config"])
app.autodiscover_tasks(["assistants.channels.whatsapp", "assistants.channels.email", "assistants.channels.owner",
                        "assistants.unanswered", "assistants.regression", "assistants.privacy", "assistants.analytics"])
