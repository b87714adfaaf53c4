from django.urls import path

from assistants import views

urlpatterns = [
    path("assistants", views.AssistantListView.as_view(), name="assistant-list"),
    path("assistants/<uuid:pk>", views.AssistantDetailView.as_view(), name="assistant-detail"),
]
