"""Outgoing webhooks: who may be called, how hard we try, when an endpoint is given up on.

See docs/webhooks.md for the retry schedule and the signature scheme.
"""

from config.settings.env import env

# Target URLs on private, loopback or link-local addresses (SSRF). Tests and self-hosting only.
WEBHOOKS_ALLOW_PRIVATE_URLS = env.bool("WEBHOOKS_ALLOW_PRIVATE_URLS", default=False)
# Plain http:// targets. Follows WEBHOOKS_ALLOW_PRIVATE_URLS unless set: a receiver on a private
# network (tests, docker compose) rarely has a certificate, one on the internet must.
WEBHOOKS_ALLOW_HTTP = env.bool("WEBHOOKS_ALLOW_HTTP", default=WEBHOOKS_ALLOW_PRIVATE_URLS)
# Key that encrypts the stored signing secrets (Fernet, derived with HKDF). Unset: SECRET_KEY.
# Changing it makes existing secrets unreadable: their deliveries fail until the endpoint is
# recreated.
WEBHOOKS_ENCRYPTION_KEY = env.str("WEBHOOKS_ENCRYPTION_KEY", default="")
# Seconds for one POST (connect, send, first byte each).
WEBHOOKS_TIMEOUT = env.float("WEBHOOKS_TIMEOUT", default=10.0)
# Attempts per delivery and the exponential backoff between them: base * 2**(n-1), capped, ±10 %.
# The defaults try 14 times over about 26 hours.
WEBHOOKS_MAX_ATTEMPTS = env.int("WEBHOOKS_MAX_ATTEMPTS", default=14)
WEBHOOKS_RETRY_BASE_SECONDS = env.float("WEBHOOKS_RETRY_BASE_SECONDS", default=30.0)
WEBHOOKS_RETRY_MAX_SECONDS = env.float("WEBHOOKS_RETRY_MAX_SECONDS", default=6 * 3600.0)
# An endpoint is disabled once it has failed this many attempts in a row AND has been failing
# (no 2xx) for this long: a busy endpoint down for ten minutes is not disabled, one dead for a
# day is.
WEBHOOKS_DISABLE_AFTER_FAILURES = env.int("WEBHOOKS_DISABLE_AFTER_FAILURES", default=10)
WEBHOOKS_DISABLE_AFTER_SECONDS = env.int("WEBHOOKS_DISABLE_AFTER_SECONDS", default=24 * 3600)
WEBHOOKS_MAX_ENDPOINTS = env.int("WEBHOOKS_MAX_ENDPOINTS", default=16)
# Finished deliveries (and their attempt logs) are deleted by the sweep after this many days.
WEBHOOKS_DELIVERY_RETENTION_DAYS = env.int("WEBHOOKS_DELIVERY_RETENTION_DAYS", default=30)

# The deliver task lives in a sub-package Celery's autodiscovery (``<app>.tasks``) does not see.
CELERY_IMPORTS = ("businesses.webhooks.tasks",)
