"""Data and privacy: how long customer data is kept, how a business is deleted (README "Data
and privacy")."""

from config.settings.env import env

# Days a conversation is kept after its last message, for a business that did not choose
# (Business.retention_days); a business may choose from 1 up to its plan's bound below.
PRIVACY_RETENTION_DAYS_DEFAULT = env.int("PRIVACY_RETENTION_DAYS_DEFAULT", default=365)
# The longest retention a plan allows, by plan code; plans not named get the default bound.
PRIVACY_RETENTION_DAYS_MAX = {"free": env.int("PRIVACY_RETENTION_DAYS_MAX_FREE", default=365)}
PRIVACY_RETENTION_DAYS_MAX_DEFAULT = env.int("PRIVACY_RETENTION_DAYS_MAX", default=3 * 365)
# Raw channel payloads (WhatsApp deliveries as Meta sent them, Stripe events) are kept this long:
# long enough to debug a delivery, far shorter than the conversations split out of them.
PRIVACY_RAW_PAYLOAD_DAYS = env.int("PRIVACY_RAW_PAYLOAD_DAYS", default=30)
# Rows one retention statement deletes: each batch is its own short transaction, so no lock is
# held for long and the chat keeps writing while the sweep runs.
PRIVACY_SWEEP_BATCH = env.int("PRIVACY_SWEEP_BATCH", default=500)
# Days between an owner asking to delete the business and its data being removed; cancellable.
BUSINESS_DELETION_GRACE_DAYS = env.int("BUSINESS_DELETION_GRACE_DAYS", default=14)
