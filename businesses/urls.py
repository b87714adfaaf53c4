from django.urls import path

from businesses import views

urlpatterns = [
    path("business", views.BusinessView.as_view(), name="business"),
    path("business/restore", views.BusinessRestoreView.as_view(), name="business-restore"),
    path("audit", views.AuditListView.as_view(), name="audit-list"),
    path("api-keys", views.ApiKeyListView.as_view(), name="api-key-list"),
    path("api-keys/<uuid:pk>", views.ApiKeyDetailView.as_view(), name="api-key-detail"),
]
