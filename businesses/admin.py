from django.contrib import admin

from businesses.forms import AdminSignInForm
from businesses.models import ApiKey, Business, Membership

# The admin's login counts failures with the dashboard's sign-in limit.
admin.site.login_form = AdminSignInForm


class UnscopedAdmin(admin.ModelAdmin):
    """Operators see every tenant: the admin is the one place that reads across them."""

    def get_queryset(self, request):
        return self.model.objects.unscoped()


@admin.register(Business)
class BusinessAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "timezone", "created_at")
    search_fields = ("name", "slug")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "business", "role")
    list_select_related = ("user", "business")


@admin.register(ApiKey)
class ApiKeyAdmin(UnscopedAdmin):
    list_display = ("prefix", "business", "kind", "name", "last_used_at", "revoked_at")
    list_select_related = ("business",)
    readonly_fields = ("prefix", "key_hash", "last_used_at")
