from django.apps import AppConfig


class AssistantsConfig(AppConfig):
    name = "assistants"

    def ready(self) -> None:
        # What keeps the imports one way: channels and unanswered questions follow chat's
        # conversation signals (chat imports neither), and billing counts what a plan limits with our selectors
        # (billing imports no assistants).
        from assistants import selectors
        from assistants.channels.email import receivers as email_receivers
        from assistants.channels.whatsapp import receivers as whatsapp_receivers
        from assistants.unanswered import receivers as unanswered_receivers
        from billing.holdings import holdings_counters_register

        whatsapp_receivers.connect()
        email_receivers.connect()
        unanswered_receivers.connect()
        holdings_counters_register(assistants=selectors.assistant_count, knowledge=selectors.knowledge_usage)
