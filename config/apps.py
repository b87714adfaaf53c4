from django.apps import AppConfig


class ServingConfig(AppConfig):
    """The project's own startup hooks (no models)."""

    name = "config"
    label = "frontdesk_config"
    verbose_name = "Frontdesk serving"

    def ready(self) -> None:
        from config import locals as django_locals

        django_locals.install()  # cheaper per-request state (config/locals.py)
