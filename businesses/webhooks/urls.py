from django.urls import path

from businesses.webhooks import views

urlpatterns = [
    path("webhooks", views.WebhookEndpointListView.as_view(), name="webhook-list"),
    path("webhooks/<uuid:pk>", views.WebhookEndpointDetailView.as_view(), name="webhook-detail"),
    path("webhooks/<uuid:pk>/deliveries", views.WebhookDeliveryListView.as_view(), name="webhook-delivery-list"),
]
