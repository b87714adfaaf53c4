from django.apps import AppConfig


class FrontdeskConfig(AppConfig):
    """The project's own system checks (config/middleware.py); no models."""

    name = "config"
    label = "frontdesk_config"

    def ready(self) -> None:
        from config import middleware  # noqa: F401  (registers its deploy check)
