from django.apps import AppConfig


class BusinessesConfig(AppConfig):
    name = "businesses"
    verbose_name = "Businesses (tenants)"

    def ready(self) -> None:
        from businesses import schema  # noqa: F401 - registers the OpenAPI auth extension
