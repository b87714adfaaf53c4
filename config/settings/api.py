"""The public API: DRF, OpenAPI, rate limits, API-key hashing."""

from config.settings.env import env

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["businesses.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["businesses.permissions.IsSecretKey"],
    "DEFAULT_THROTTLE_CLASSES": ["businesses.api.ratelimit.ApiKeyRateLimit"],
    "DEFAULT_PARSER_CLASSES": ["config.jsonlimits.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "businesses.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "UNAUTHENTICATED_TOKEN": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Frontdesk API",
    "DESCRIPTION": "Every small business gets its own AI assistant at its front desk.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's assets are served from our own static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "assistants.chat.openapi.add_async_endpoints",  # the async chat views DRF cannot describe
        "config.openapi.add_error_responses",  # the errors any request can get (config/openapi.py)
    ],
    # Several fields are called "kind"; name each choice set so the schema is stable.
    "ENUM_NAME_OVERRIDES": {
        "ApiKeyKindEnum": "businesses.models.ApiKey.Kind",
        "SourceKindEnum": "assistants.models.KnowledgeSource.Kind",
        "SourceJsonKindEnum": ["text", "faq", "url"],
        "SourceUploadKindEnum": ["file"],
        "WidgetPositionEnum": "assistants.models.Assistant.WidgetPosition",
        "UnansweredTopicStatusEnum": "assistants.models.UnansweredTopic.Status",
    },
}

# JSON bodies nested deeper than this are a 400 (config/jsonlimits.py).
MAX_JSON_DEPTH = env.int("MAX_JSON_DEPTH", default=32)

# Rate limits, in the `limits` library's notation ("N per minute").
RATELIMIT_ENABLED = env.bool("RATELIMIT_ENABLED", default=True)
RATELIMIT_PER_API_KEY = env.str("RATELIMIT_PER_API_KEY", default="1200 per minute")
RATELIMIT_SIGNUP_PER_IP = env.str("RATELIMIT_SIGNUP_PER_IP", default="10 per hour")
# Customer messages per customer (a WhatsApp number, an API external_id, a widget conversation);
# per business the plan's messages_per_minute applies.
RATELIMIT_MESSAGES_PER_CUSTOMER = env.str("RATELIMIT_MESSAGES_PER_CUSTOMER", default="20 per minute")
# How many reverse proxies in front of the app append to X-Forwarded-For; 0 means
# trust only the socket's peer address.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Keyed hash for API keys: the database alone cannot be used to verify or
# recover a key. Defaults to SECRET_KEY; set it separately to rotate independently.
API_KEY_HASH_SECRET = env.str("API_KEY_HASH_SECRET", default="")
# Seconds a web process reuses a resolved key; a revoked key stops working in other
# processes within this time (at once in the process that revoked it).
API_KEY_CACHE_SECONDS = env.int("API_KEY_CACHE_SECONDS", default=5)
