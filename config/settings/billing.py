"""Billing: Stripe keys and prices, plan grace period, usage metering.

With no STRIPE_SECRET_KEY billing runs offline: plans and quotas are enforced
locally, and checkout/portal answer 503 ``billing_not_configured``.
"""

from config.settings.env import ImproperlyConfiguredSecret, env


def _checked(name: str, value: str, prefixes: tuple[str, ...]) -> str:
    """Optional, but a value that is set must look like one: a mistyped key stops the boot."""
    value = value.strip()
    if value and not value.startswith(prefixes):
        raise ImproperlyConfiguredSecret(f"{name} is set but does not start with {' or '.join(prefixes)}.")
    return value


STRIPE_SECRET_KEY = _checked("STRIPE_SECRET_KEY", env.str("STRIPE_SECRET_KEY", default=""), ("sk_", "rk_"))
STRIPE_WEBHOOK_SECRET = _checked("STRIPE_WEBHOOK_SECRET", env.str("STRIPE_WEBHOOK_SECRET", default=""), ("whsec_",))
# Only for tests and local stand-ins (localstripe); unset means Stripe's own API.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
STRIPE_TIMEOUT = env.float("STRIPE_TIMEOUT", default=20.0)
# The library's own retries (same Idempotency-Key) on connection errors, 409 and 5xx.
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)
# Seconds a signed webhook stays acceptable (Stripe's library default).
STRIPE_WEBHOOK_TOLERANCE = env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)

# Stripe price ids per plan code (licensed, per month). They override the price id a plan
# row has in the admin, so one database can move between test and live mode by env alone.
STRIPE_PRICE_IDS = {
    "starter": env.str("STRIPE_PRICE_STARTER", default=""),
    "pro": env.str("STRIPE_PRICE_PRO", default=""),
}
# Metered prices (backed by the Billing Meter below) for plans that allow overage; added to
# the Checkout Session as a second line item when set.
STRIPE_OVERAGE_PRICE_IDS = {
    "starter": env.str("STRIPE_OVERAGE_PRICE_STARTER", default=""),
    "pro": env.str("STRIPE_OVERAGE_PRICE_PRO", default=""),
}
# The Billing Meter's event name; its customer mapping key is the default `stripe_customer_id`.
STRIPE_METER_EVENT_NAME = env.str("STRIPE_METER_EVENT_NAME", default="frontdesk_messages")
# Where the customer portal sends people back when the request names no return_url.
BILLING_PORTAL_RETURN_URL = env.str("BILLING_PORTAL_RETURN_URL", default="")

# For benchmarks and emergencies: when false, message_quota_reserve and message_quota_release
# do nothing (no 402 past the plan's allowance, no messages_used counting, so no overage for
# that time); answers and tokens are still counted by usage_record_answer. Default true.
BILLING_ENFORCE_QUOTAS = env.bool("BILLING_ENFORCE_QUOTAS", default=True)

# A past_due business keeps its plan this long after the first failed payment, then gets Free limits.
BILLING_PAST_DUE_GRACE_DAYS = env.int("BILLING_PAST_DUE_GRACE_DAYS", default=7)
# How often celery beat reports overage usage to Stripe, seconds.
BILLING_METER_REPORT_INTERVAL = env.float("BILLING_METER_REPORT_INTERVAL", default=3600.0)
# Answers and tokens are counted in Redis per answer and added to the usage rows this often
# (and before GET /api/v1/billing reads them). The message allowance is exact either way.
BILLING_USAGE_FLUSH_SECONDS = env.float("BILLING_USAGE_FLUSH_SECONDS", default=60.0)
