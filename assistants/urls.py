from django.urls import path

from assistants import views
from assistants.analytics import views as analytics_views
from assistants.catalog import views as catalog_views
from assistants.regression import views as test_views
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
    path("assistants/<uuid:pk>/tests", test_views.KnowledgeTestListView.as_view(), name="knowledge-test-list"),
    path("assistants/<uuid:pk>/tests/run", test_views.KnowledgeTestRunView.as_view(), name="knowledge-test-run"),
    path("tests/<uuid:pk>", test_views.KnowledgeTestDetailView.as_view(), name="knowledge-test-detail"),
    path("test-runs/<uuid:pk>", test_views.KnowledgeTestRunDetailView.as_view(), name="knowledge-test-run-detail"),
    path("sources/<uuid:pk>/publish", test_views.SourcePublishView.as_view(), name="source-publish"),
    path("sources/<uuid:pk>/discard", test_views.SourceDiscardView.as_view(), name="source-discard"),
    path("analytics", analytics_views.AnalyticsView.as_view(), name="analytics"),
]
