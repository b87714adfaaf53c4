"""WhatsApp Cloud API channel (assistants/channels/whatsapp/, docs/whatsapp.md).

Unset WHATSAPP_APP_SECRET / WHATSAPP_VERIFY_TOKEN: the channel is off (the webhook answers 503
to deliveries and 403 to the verification handshake); connections can still be stored.
"""

from config.settings.env import env

# Meta's app secret: deliveries are signed with it (X-Hub-Signature-256).
WHATSAPP_APP_SECRET = env.str("WHATSAPP_APP_SECRET", default="")
# The token typed into Meta's webhook settings; the verification handshake must echo it.
WHATSAPP_VERIFY_TOKEN = env.str("WHATSAPP_VERIFY_TOKEN", default="")
WHATSAPP_GRAPH_BASE_URL = env.str("WHATSAPP_GRAPH_BASE_URL", default="https://graph.facebook.com/v21.0")
WHATSAPP_SEND_TIMEOUT = env.float("WHATSAPP_SEND_TIMEOUT", default=10.0)
# Attempts per outgoing message (connection errors, 429, 5xx); backoff doubles from this many seconds.
WHATSAPP_SEND_MAX_ATTEMPTS = env.int("WHATSAPP_SEND_MAX_ATTEMPTS", default=3)
WHATSAPP_SEND_BACKOFF = env.float("WHATSAPP_SEND_BACKOFF", default=1.0)
# Key material for the access tokens stored in the database (Fernet, derived with SHA-256).
# Defaults to SECRET_KEY; set it to rotate SECRET_KEY without re-entering every token.
WHATSAPP_TOKEN_KEY = env.str("WHATSAPP_TOKEN_KEY", default="")

# The owner's weekly digest (docs/whatsapp.md "The owner's phone"): sent on this weekday
# (0 = Monday) at this hour, in each business's time zone; celery beat looks for due digests
# every OWNER_DIGEST_SWEEP_INTERVAL seconds.
OWNER_DIGEST_WEEKDAY = env.int("OWNER_DIGEST_WEEKDAY", default=0)
OWNER_DIGEST_HOUR = env.int("OWNER_DIGEST_HOUR", default=9)
OWNER_DIGEST_SWEEP_INTERVAL = env.float("OWNER_DIGEST_SWEEP_INTERVAL", default=900.0)
# Outside WhatsApp's 24-hour window only an approved template reaches the owner: its name (empty:
# the digest then goes by email only) and language. Its body takes 5 parameters: the business,
# conversations, answers, handoffs, unanswered questions.
WHATSAPP_DIGEST_TEMPLATE = env.str("WHATSAPP_DIGEST_TEMPLATE", default="")
WHATSAPP_DIGEST_TEMPLATE_LANGUAGE = env.str("WHATSAPP_DIGEST_TEMPLATE_LANGUAGE", default="en")
