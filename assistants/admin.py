from django.contrib import admin

from assistants.models import Assistant
from businesses.admin import UnscopedAdmin


@admin.register(Assistant)
class AssistantAdmin(UnscopedAdmin):
    list_display = ("name", "business", "language", "created_at")
    list_select_related = ("business",)
