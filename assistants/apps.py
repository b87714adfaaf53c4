from django.apps import AppConfig


class AssistantsConfig(AppConfig):
    name = "assistants"

    def ready(self) -> None:
        # What keeps the imports one way: channels follow chat's conversation signals (chat
        # imports no channel), and billing counts what a plan limits with our selectors
        # (billing imports no assistants).
        from assistants import selectors
        from assistants.channels.email import receivers as email_receivers
        from assistants.channels.whatsapp import receivers as whatsapp_receivers
        from billing.holdings import holdings_counters_register

        whatsapp_receivers.connect()
        email_receivers.connect()
        holdings_counters_register(assistants=selectors.assistant_count, knowledge=selectors.knowledge_usage)
