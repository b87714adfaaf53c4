"""The owner's dashboard (/app/): sign-in, sessions, languages, invitations."""

from config.settings.env import env

LOGIN_URL = "/app/login/"
LOGIN_REDIRECT_URL = "/app/"
LOGOUT_REDIRECT_URL = "/app/login/"

# Failed sign-ins allowed per client IP and per account (the email typed), sliding window in Redis.
RATELIMIT_LOGIN_PER_IP = env.str("RATELIMIT_LOGIN_PER_IP", default="30 per 15 minutes")
RATELIMIT_LOGIN_PER_ACCOUNT = env.str("RATELIMIT_LOGIN_PER_ACCOUNT", default="5 per 15 minutes")

# An invitation link works once, for this many days.
INVITATION_MAX_AGE_DAYS = env.int("INVITATION_MAX_AGE_DAYS", default=7)
# A password-reset link works for this long (Django's setting, in seconds).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 3600)

SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=14 * 86400)
SESSION_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "config.errors.csrf_failure"

LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
