from django.urls import path

from assistants.privacy import views

urlpatterns = [
    path("privacy", views.PrivacySettingsView.as_view(), name="privacy-settings"),
    path("conversations/<uuid:pk>/export", views.ConversationExportView.as_view(), name="conversation-export"),
    path("customers/<str:external_id>/export", views.CustomerExportView.as_view(), name="customer-export"),
    path("customers/<str:external_id>", views.CustomerView.as_view(), name="customer-detail"),
]
