from django.apps import AppConfig


class AssistantsConfig(AppConfig):
    name = "assistants"

    def ready(self) -> None:
        # Channels follow chat's conversation signals: chat imports no channel.
        from assistants.channels.whatsapp import receivers

        receivers.connect()
