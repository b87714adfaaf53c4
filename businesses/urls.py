from django.urls import path

from businesses import views

urlpatterns = [
    path("business", views.BusinessView.as_view(), name="business"),
    path("api-keys", views.ApiKeyListView.as_view(), name="api-key-list"),
    path("api-keys/<uuid:pk>", views.ApiKeyDetailView.as_view(), name="api-key-detail"),
]
