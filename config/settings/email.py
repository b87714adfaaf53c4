"""Outgoing email: handoff notifications now, and the dashboard's own mails.

No EMAIL_HOST (the demo on a fresh machine): mails are printed to the console, so `make demo`
shows what would have been sent. With EMAIL_HOST, Django's SMTP backend sends them.
"""

from config.settings.env import ImproperlyConfiguredSecret, env

EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)  # STARTTLS on a plain connection (port 587)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)  # TLS from the first byte (port 465)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    # Django would only refuse at the first send; a boot that stops names the mistake.
    raise ImproperlyConfiguredSecret("EMAIL_USE_TLS and EMAIL_USE_SSL are both set: choose one (TLS for "
                                     "STARTTLS on port 587, SSL for port 465).")
EMAIL_PORT = env.int("EMAIL_PORT", default=465 if EMAIL_USE_SSL else 587 if EMAIL_USE_TLS else 25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_BACKEND = ("django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST
                 else "django.core.mail.backends.console.EmailBackend")
# Seconds per SMTP operation; Django's default is to wait forever on a silent server.
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Frontdesk <no-reply@localhost>")
