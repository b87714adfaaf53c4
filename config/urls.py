from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from assistants.channels.widget import WidgetConfigView, demo_page, widget_js
from assistants.chat.views import openai_chat_completions
from billing.views import stripe_webhook
from config import health
from config.metrics import metrics_view

api_v1 = [
    path("", include("businesses.urls")),
    path("", include("assistants.urls")),
    path("", include("assistants.chat.urls")),
    path("", include("assistants.privacy.urls")),
    path("", include("billing.urls")),
    path("", include("assistants.channels.whatsapp.urls")),
    path("", include("businesses.webhooks.urls")),
    path("assistants/<uuid:pk>/widget", WidgetConfigView.as_view(), name="assistant-widget"),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("widget.js", widget_js, name="widget-js"),
    path("demo/", demo_page, name="demo"),
    path("v1/chat/completions", openai_chat_completions, name="openai-chat-completions"),
    path("billing/stripe/webhook", stripe_webhook, name="stripe-webhook"),
    path("channels/whatsapp/", include("assistants.channels.whatsapp.webhook_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its init script as a file: the docs page works under the CSP.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("app/", include("dashboard.urls")),
    path("admin/", admin.site.urls),
    # Collected static files (Swagger UI, admin): small and few, so Django serves
    # them itself instead of adding a sync-only middleware to every request.
    re_path(r"^static/(?P<path>.*)$", serve, {"document_root": settings.STATIC_ROOT}),
]

handler400 = "config.errors.handler400"
handler403 = "config.errors.handler403"
handler404 = "config.errors.handler404"
handler500 = "config.errors.handler500"
