"""Create (idempotently) the demo restaurant and print fresh keys and the URLs."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from assistants.channels.widget import demo_widget_save
from assistants.models import Assistant, KnowledgeSource
from assistants.services import assistant_update, business_signup, source_create
from businesses.models import ApiKey, Business
from businesses.services import api_key_create
from config.tasks import inline_tasks_wait

DEMO_DATA = Path(__file__).resolve().parent / "demo_data"
DEMO_EMAIL = "owner@golden-dragon.example"
# The demo owner's dashboard password, printed by `make demo` and set again by every run. A
# demo on the embedded defaults only: a real business signs up with its own.
DEMO_PASSWORD = "golden dragon demo 88"  # noqa: S105 - printed on purpose, demo only
DEMO_FAQ = [
    {"question": "Can I bring my dog?", "answer": "Dogs are welcome on our terrace, but not inside the dining room."},
    {"question": "Do you deliver?", "answer": "We deliver within 5 km on Friday and Saturday evenings; order by "
                                              "phone at +31 20 555 0188."},
    {"question": "Do you have gluten-free dishes?", "answer": "Yes: the steamed sea bass, the dry-fried green "
                                                             "beans and the jasmine rice contain no wheat. Tell us "
                                                             "about allergies when you order."},
    {"question": "Can I pay by card?", "answer": "Yes, we accept all major cards and contactless payment. We do "
                                                 "not accept cheques."},
]
DEMO_SLUG = "golden-dragon-demo"
DEMO_KEY_NAME = "demo (rotated by make demo)"

DEMO_ASSISTANT = {
    "name": "Mei",
    "persona": (
        "You are Mei, the front-desk assistant of Golden Dragon, a family-run Sichuan restaurant on "
        "12 Harbour Street. You are warm, brief and precise, and you love recommending dishes."
    ),
    "instructions": (
        "Answer from the restaurant's menu, FAQ and policies only. Always mention allergens when asked "
        "about a dish. Quote prices exactly as listed, in euros. For bookings of more than 8 people, private "
        "events or complaints, offer to connect the customer with the manager. If you do not know, say so."
    ),
    "greeting": "Hi, I'm Mei from Golden Dragon! Ask me about our menu, allergens, opening hours or bookings.",
    "language": "en",
    "tone": "friendly",
    "business_hours": {
        "tue": [["11:30", "14:30"], ["18:00", "22:30"]],
        "wed": [["11:30", "14:30"], ["18:00", "22:30"]],
        "thu": [["11:30", "14:30"], ["18:00", "22:30"]],
        "fri": [["11:30", "14:30"], ["18:00", "23:30"]],
        "sat": [["12:00", "23:30"]],
        "sun": [["12:00", "21:30"]],
    },
    "hours_exceptions": [
        {"date": "2026-12-24", "hours": [["12:00", "17:00"]], "note": "Christmas Eve"},
        {"date": "2026-12-25", "closed": True, "note": "Christmas"},
        {"date": "2026-12-31", "hours": [["12:00", "18:00"]], "note": "New Year's Eve"},
        {"date": "2027-02-06", "closed": True, "note": "Chinese New Year"},
    ],
    "handoff_message": "I'll ask our manager, Li Wei, to reply here — usually within 15 minutes during opening hours.",
    "temperature": 0.2,
    "max_answer_tokens": 350,
}


class Command(BaseCommand):
    help = "Create the demo restaurant (once) and print a fresh pair of demo API keys."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args, base_url: str, **options):
        with transaction.atomic():
            business, assistant, secret, publishable, queued = self._seed()
        if queued:
            self.stdout.write("Teaching the assistant the menu, FAQ and opening hours (first run: the embedding "
                              "model is prepared once, about 10 s)…")
            inline_tasks_wait()  # without Redis the ingestion runs in this process; with it, a worker does
            for source in KnowledgeSource.objects.for_business(business):
                self.stdout.write(f"  {source.title}: {source.status} ({source.chunk_count} passages)"
                                  + (f" — {source.error}" if source.error else ""))
        self._print(business, assistant, secret, publishable, base_url)

    def _seed(self):
        business = Business.objects.filter(slug=DEMO_SLUG).first()
        if business is None:
            result = business_signup(email=DEMO_EMAIL, password=DEMO_PASSWORD,
                                     business_name="Golden Dragon", timezone_name="Europe/Amsterdam", locale="en")
            business = result.business
            business.slug = DEMO_SLUG
            business.handoff_phone = "+31 20 555 0188"
            business.save(update_fields=["slug", "handoff_phone"])
            # The sign-up keys are not printed anywhere: retire them, demo keys follow.
            ApiKey.objects.for_business(business).update(revoked_at=timezone.now())
        owner = get_user_model().objects.get(email=DEMO_EMAIL)
        owner.set_password(DEMO_PASSWORD)
        owner.save(update_fields=["password"])
        assistant = Assistant.objects.for_business(business).order_by("created_at").first()
        assistant_update(assistant=assistant, data=DEMO_ASSISTANT)
        queued = not KnowledgeSource.objects.for_business(business).exists()
        if queued:
            # Ingested in the background (a worker, or in-process after commit without Redis).
            source_create(assistant=assistant, kind="file", title="Menu", file_name="menu.csv",
                          content_type="text/csv", data=(DEMO_DATA / "menu.csv").read_bytes())
            source_create(assistant=assistant, kind="text", title="About Golden Dragon",
                          text=(DEMO_DATA / "about.md").read_text())
            source_create(assistant=assistant, kind="faq", title="FAQ", pairs=DEMO_FAQ)

        # Keys are stored hashed, so they can only be shown when created: rotate the demo pair.
        ApiKey.objects.for_business(business).filter(name=DEMO_KEY_NAME, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        _, secret = api_key_create(business=business, kind=ApiKey.Kind.SECRET, name=DEMO_KEY_NAME)
        _, publishable = api_key_create(business=business, kind=ApiKey.Kind.PUBLISHABLE, name=DEMO_KEY_NAME)
        demo_widget_save(assistant=assistant, publishable_key=publishable)  # the /demo/ page's widget uses it
        return business, assistant, secret, publishable, queued

    def _print(self, business, assistant, secret, publishable, base_url):
        self.stdout.write(self.style.SUCCESS(f"\nDemo business: {business.name} (assistant {assistant.name}, "
                                             f"id {assistant.pk})"))
        self.stdout.write(f"  dashboard        {base_url}/app/  (sign in as {DEMO_EMAIL}, password "
                          f"'{DEMO_PASSWORD}')")
        self.stdout.write(f"  secret key       {secret}")
        self.stdout.write(f"  publishable key  {publishable}")
        self.stdout.write(f"  widget demo      {base_url}/demo/  (the chat widget on Golden Dragon's website)")
        self.stdout.write(f"  API docs         {base_url}/api/docs/")
        self.stdout.write(f"  try              curl -H 'Authorization: Bearer {secret}' {base_url}/api/v1/assistants")
        self.stdout.write(f"  ask              curl -H 'Authorization: Bearer {secret}' "
                          f"-H 'Content-Type: application/json' -d '{{}}' "
                          f"{base_url}/api/v1/assistants/{assistant.pk}/conversations")
        self.stdout.write("                   then POST {\"content\": \"Is the mapo tofu spicy?\"} to "
                          "/api/v1/conversations/<id>/messages")
        self.stdout.write(f"  health           {base_url}/healthz  {base_url}/readyz  {base_url}/metrics\n")
