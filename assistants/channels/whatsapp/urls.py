"""The WhatsApp connection API (under /api/v1/); the webhook itself is routed in config/urls.py."""

from django.urls import path

from assistants.channels.whatsapp import views

urlpatterns = [
    path("whatsapp/connections", views.ConnectionListView.as_view(), name="whatsapp-connection-list"),
    path("whatsapp/connections/<uuid:pk>", views.ConnectionDetailView.as_view(), name="whatsapp-connection-detail"),
    path("messages/<uuid:pk>/faq", views.MessageFaqView.as_view(), name="message-faq"),
]
