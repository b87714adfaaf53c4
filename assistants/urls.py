from django.urls import path

from assistants import views
from assistants.analytics import views as analytics_views
from assistants.catalog import views as catalog_views
from assistants.unanswered import views as unanswered_views

urlpatterns = [
    path("signup", views.SignupView.as_view(), name="signup"),
    path("assistants", views.AssistantListView.as_view(), name="assistant-list"),
    path("assistants/<uuid:pk>", views.AssistantDetailView.as_view(), name="assistant-detail"),
    path("assistants/<uuid:pk>/sources", views.SourceListView.as_view(), name="source-list"),
    path("assistants/<uuid:pk>/search", views.SearchView.as_view(), name="assistant-search"),
    path("sources/<uuid:pk>", views.SourceDetailView.as_view(), name="source-detail"),
    path("sources/<uuid:pk>/resync", views.SourceResyncView.as_view(), name="source-resync"),
    path("assistants/<uuid:pk>/catalog/items", catalog_views.CatalogItemListView.as_view(), name="catalog-item-list"),
    path("catalog/items/<uuid:pk>", catalog_views.CatalogItemDetailView.as_view(), name="catalog-item-detail"),
    path("assistants/<uuid:pk>/unanswered", unanswered_views.TopicListView.as_view(), name="unanswered-topic-list"),
    path("assistants/<uuid:pk>/unanswered/<uuid:topic_id>/answer", unanswered_views.TopicAnswerView.as_view(),
         name="unanswered-topic-answer"),
    path("analytics", analytics_views.AnalyticsView.as_view(), name="analytics"),
]
