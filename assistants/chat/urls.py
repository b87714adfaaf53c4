from django.urls import path

from assistants.chat import views

urlpatterns = [
    path("assistants/<uuid:pk>/conversations", views.ConversationStartView.as_view(), name="conversation-start"),
    path("conversations", views.ConversationListView.as_view(), name="conversation-list"),
    path("conversations/<uuid:pk>", views.ConversationDetailView.as_view(), name="conversation-detail"),
    path("conversations/<uuid:pk>/messages", views.conversation_messages, name="conversation-messages"),
    path("conversations/<uuid:pk>/handoff", views.HandoffView.as_view(), name="conversation-handoff"),
    path("conversations/<uuid:pk>/release", views.ReleaseView.as_view(), name="conversation-release"),
    path("conversations/<uuid:pk>/close", views.CloseView.as_view(), name="conversation-close"),
    path("messages/<uuid:pk>/feedback", views.MessageFeedbackView.as_view(), name="message-feedback"),
]
