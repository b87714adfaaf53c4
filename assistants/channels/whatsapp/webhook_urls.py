"""Meta's webhook, outside /api/v1/ (no API key: deliveries are signed); see config/urls.py."""

from django.urls import path

from assistants.channels.whatsapp.views import whatsapp_webhook

urlpatterns = [
    path("webhook", whatsapp_webhook, name="whatsapp-webhook"),
]
