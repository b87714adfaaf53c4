"""Redis: Celery broker and results, the cache, and rate-limit counters.

With no REDIS_URL (the demo on a fresh machine) tasks run in-process right
after the transaction commits, the cache lives in memory and rate limits are
counted per process. Production always sets REDIS_URL.
"""

from config.settings.billing import BILLING_METER_REPORT_INTERVAL, BILLING_USAGE_FLUSH_SECONDS
from config.settings.env import env
from config.settings.frontdesk import ANALYTICS_ROLLUP_INTERVAL, INGEST_SWEEP_SECONDS
from config.settings.whatsapp import OWNER_DIGEST_SWEEP_INTERVAL


def redis_services(url: str, *, key_prefix: str = "fd") -> dict:
    """Every setting that follows from one Redis URL (or from none)."""
    if not url:
        return {
            "REDIS_URL": "",
            "CACHES": {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
            "CELERY_BROKER_URL": "memory://",
            "CELERY_RESULT_BACKEND": "cache+memory://",
            "CELERY_TASK_ALWAYS_EAGER": True,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    return {
        "REDIS_URL": url,
        "CACHES": {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": key_prefix,
            }
        },
        "CELERY_BROKER_URL": url,
        "CELERY_RESULT_BACKEND": url,
        "CELERY_TASK_ALWAYS_EAGER": False,
        "RATELIMIT_STORAGE_URI": url,
    }


globals().update(redis_services(env.str("REDIS_URL", default="")))

# Queues are declared in config/celery.py; every task is routed to one of them here.
CELERY_TASK_DEFAULT_QUEUE = "ingest"
CELERY_TASK_ROUTES = {
    "assistants.tasks.source_*": {"queue": "ingest"},
    "assistants.tasks.channel_*": {"queue": "channels"},
    "assistants.tasks.unanswered_*": {"queue": "ingest"},
    "assistants.privacy.tasks.*": {"queue": "ingest"},
    "assistants.tasks.analytics_*": {"queue": "ingest"},
    "billing.tasks.*": {"queue": "billing"},
    "*.webhook_*": {"queue": "webhooks"},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged only after it finished, and a worker that dies mid-task
# hands the message back, so a crash re-runs the task instead of losing it.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=540)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=600)
# Unacknowledged messages come back after this long; it must exceed the hard
# time limit or a long task would be delivered twice while still running.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=CELERY_TASK_TIME_LIMIT + 300)
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Periodic jobs (celery beat).
CELERY_BEAT_SCHEDULE = {
    "sources-sweep-stale": {"task": "assistants.tasks.source_sweep_task", "schedule": INGEST_SWEEP_SECONDS},
    "billing-usage-report": {"task": "billing.tasks.usage_report_task", "schedule": BILLING_METER_REPORT_INTERVAL},
    "billing-usage-flush": {"task": "billing.tasks.usage_flush_task", "schedule": BILLING_USAGE_FLUSH_SECONDS},
    "webhooks-sweep": {"task": "businesses.webhooks.tasks.webhook_sweep_task", "schedule": 300.0},
    "owner-digest-sweep": {"task": "assistants.tasks.channel_owner_digest_sweep_task",
                           "schedule": OWNER_DIGEST_SWEEP_INTERVAL},
    "privacy-retention": {"task": "assistants.privacy.tasks.retention_sweep_task", "schedule": 3600.0},
    "privacy-business-purge": {"task": "assistants.privacy.tasks.business_purge_due_task", "schedule": 3600.0},
    "analytics-rollup": {"task": "assistants.tasks.analytics_rollup_task", "schedule": ANALYTICS_ROLLUP_INTERVAL},
}
