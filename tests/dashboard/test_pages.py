"""The pages do what they say, through the same services as the API (Django's test client;
the browser tests drive the same pages in Chromium)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from assistants.chat import services as chat
from assistants.ingestion import pipeline
from assistants.models import (
    Assistant,
    CatalogItem,
    Conversation,
    KnowledgeSource,
    KnowledgeTest,
    Message,
    WhatsAppConnection,
)
from businesses.models import ApiKey
from tests.assistants import kb
from tests.assistants.conftest import add_source, upload
from tests.conftest import make_tenant
from tests.dashboard.conftest import member, signed_in

pytestmark = pytest.mark.django_db

HOURS = {f"hours_{d}": "" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def _settings_form(**changes) -> dict:
    form = {"name": "Mei", "greeting": "Hi!", "language": "en", "persona": "", "instructions": "",
            "handoff_message": "Li Wei will reply.", "handoff_email": "li@example.com", "handoff_phone": "",
            "widget_color": "#9f1d20", "widget_position": "left", "widget_launcher_text": "Ask us",
            "allowed_origins": "https://golden-dragon.example", "hours_exceptions": "", **HOURS}
    form.update(changes)
    return form


def test_assistant_settings_save_hours_exceptions_and_widget(tenant, owner):
    response = owner.post("/app/assistant/", _settings_form(
        hours_mon="11:30-14:30, 17:30-22:00", hours_sat="12:00 - 23:00",
        hours_exceptions="2026-12-25 closed Christmas\n2026-12-31 12:00-16:00 New Year's Eve"))
    assert response.status_code == 302, response.content.decode()[:2000]
    assistant = Assistant.objects.for_business(tenant.business).get()
    assert assistant.name == "Mei" and assistant.widget_color == "#9f1d20" and assistant.widget_position == "left"
    assert assistant.business_hours == {"mon": [["11:30", "14:30"], ["17:30", "22:00"]], "sat": [["12:00", "23:00"]]}
    assert assistant.hours_exceptions == [
        {"date": "2026-12-25", "closed": True, "note": "Christmas"},
        {"date": "2026-12-31", "hours": [["12:00", "16:00"]], "note": "New Year's Eve"}]
    assert assistant.allowed_origins == ["https://golden-dragon.example"]
    tenant.business.refresh_from_db()
    assert tenant.business.handoff_email == "li@example.com"
    page = owner.get("/app/assistant/").content.decode()
    assert "11:30-14:30, 17:30-22:00" in page and "2026-12-25 closed Christmas" in page


@pytest.mark.parametrize(("changes", "says"), [
    ({"hours_tue": "noon to late"}, "is not a time range"),
    ({"hours_exceptions": "Christmas closed"}, "is not a date"),
    ({"allowed_origins": "not a url"}, "origin"),
    ({"widget_color": "red"}, "colour"),
])
def test_assistant_settings_refuse_bad_values_and_keep_the_old_ones(tenant, owner, changes, says):
    response = owner.post("/app/assistant/", _settings_form(**changes))
    assert response.status_code == 400
    assert says.lower() in response.content.decode().lower()
    assistant = Assistant.objects.for_business(tenant.business).get()
    assert assistant.name != "Mei"


def test_widget_preview_shows_the_real_widget_with_unsaved_look(tenant, owner):
    page = owner.get("/app/assistant/preview/?color=%23ff0000&position=left&launcher=Hello").content.decode()
    assert 'src="/widget.js"' in page and 'data-color="#ff0000"' in page and 'data-position="left"' in page
    assert f'data-assistant="{tenant.assistant.pk}"' in page and 'data-key="pk_' in page


def test_knowledge_page_adds_each_kind_and_explains_refusals(tenant, owner):
    owner.post("/app/knowledge/", {"kind": "text", "title": "About", "text": "We open at noon."})
    owner.post("/app/knowledge/", {"kind": "faq", "question": "Parking?", "answer": "Behind the building."})
    owner.post("/app/knowledge/", {"kind": "file", "file": SimpleUploadedFile("menu.csv", kb.MENU_CSV.encode(),
                                                                             "text/csv")})
    titles = set(KnowledgeSource.objects.for_business(tenant.business).values_list("kind", "title"))
    assert {("text", "About"), ("faq", "FAQ"), ("file", "menu.csv")} <= titles
    empty = owner.post("/app/knowledge/", {"kind": "file", "file": SimpleUploadedFile("x.txt", b"  ")}, follow=True)
    assert "x.txt is empty" in empty.content.decode()
    local = owner.post("/app/knowledge/", {"kind": "url", "url": "http://127.0.0.1:9/"}, follow=True)
    assert "private" in local.content.decode().lower() or "local" in local.content.decode().lower()
    missing = owner.post("/app/knowledge/", {"kind": "text", "text": ""}, follow=True)
    assert "required" in missing.content.decode().lower()


def test_sources_fragment_polls_only_while_something_is_read(tenant, owner):
    source = KnowledgeSource.objects.unscoped().create(business=tenant.business, assistant=tenant.assistant,
                                                       kind="text", title="Busy", text="x", status="processing",
                                                       progress=40)
    assert 'hx-trigger="every 2s"' in owner.get("/app/knowledge/sources/").content.decode()
    KnowledgeSource.objects.for_business(tenant.business).filter(pk=source.pk).update(
        status="failed", error="page 3 of menu.pdf is a scanned image with no text")
    fragment = owner.get("/app/knowledge/sources/").content.decode()
    assert 'hx-trigger' not in fragment and "scanned image with no text" in fragment


def test_resync_and_delete_from_the_knowledge_page(tenant, owner):
    body = add_source(tenant, kind="text", title="About", text="We open at noon every day.")
    assert owner.post(f"/app/knowledge/sources/{body['id']}/resync/").status_code == 302
    assert KnowledgeSource.objects.for_business(tenant.business).get(pk=body["id"]).status == "pending"
    pipeline.source_ingest(business_id=tenant.business.pk, source_id=body["id"])
    assert owner.post(f"/app/knowledge/sources/{body['id']}/delete/").status_code == 302
    assert not KnowledgeSource.objects.for_business(tenant.business).filter(pk=body["id"]).exists()


def _menu(tenant) -> CatalogItem:
    add_source(tenant, kind="file", title="Menu", file=upload("menu.csv", kb.MENU_CSV.encode(), "text/csv"))
    return CatalogItem.objects.for_business(tenant.business).order_by("name").first()


def test_sold_out_toggle_and_price_edit_inline(tenant, owner):
    item = _menu(tenant)
    row = owner.post(f"/app/menu/{item.pk}/", {"available": "false"}, HTTP_HX_REQUEST="true")
    assert row.status_code == 200 and "Sold out" in row.content.decode() and "<tr" in row.content.decode()
    item.refresh_from_db()
    assert item.available is False
    assert owner.post(f"/app/menu/{item.pk}/", {"price": "13.20"}, HTTP_HX_REQUEST="true").status_code == 200
    item.refresh_from_db()
    assert str(item.price) == "13.20"
    bad = owner.post(f"/app/menu/{item.pk}/", {"price": "cheap"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 400 and "valid number" in bad.content.decode()
    item.refresh_from_db()
    assert str(item.price) == "13.20"
    page = owner.get("/app/menu/").content.decode()
    assert item.name in page


@pytest.mark.django_db(transaction=True)  # the answer is saved from the answer's own thread
def test_playground_answers_with_grounding_and_shows_passages_with_scores(tenant, owner):
    item = _menu(tenant)
    page = owner.post("/app/playground/", {"question": f"How much is the {item.name}?"}).content.decode()
    assert str(item.price) in page and 'id="grounding"' in page and "the menu" in page
    assert "similarity" in page and "score" in page
    # Playground conversations stay out of the inbox.
    assert Conversation.objects.for_business(tenant.business).filter(channel="playground").count() == 1
    assert "How much" not in owner.get("/app/inbox/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_playground_honest_handoff_for_unknown(tenant, owner):
    _menu(tenant)
    page = owner.post("/app/playground/", {"question": "Do you repair bicycles?"}).content.decode()
    assert "handed to a person" in page


def test_playground_refuses_an_empty_question(owner):
    assert owner.post("/app/playground/", {"question": "  "}).status_code == 400


def _widget_conversation(tenant) -> Conversation:
    """A widget customer asks for a person (the chat service, as the widget's POST calls it)."""
    key = ApiKey.objects.for_business(tenant.business).get(kind="publishable")
    conversation, _token = chat.conversation_start(assistant=tenant.assistant, key=key)
    chat.message_send(conversation=conversation, content="Can I talk to a person?", idempotency_key=None)
    return Conversation.objects.for_business(tenant.business).get(pk=conversation.pk)


def test_inbox_shows_a_handoff_and_staff_reply_release_close(tenant):
    conversation = _widget_conversation(tenant)
    assert conversation.state == "handoff"
    staff = signed_in(member(tenant, "staff"))
    inbox = staff.get("/app/inbox/?state=handoff").content.decode()
    assert "Can I talk to a person?" in inbox and "1 customer waiting" in inbox
    assert staff.post(f"/app/inbox/{conversation.pk}/reply/", {"content": "Hello, Li Wei here."}).status_code == 302
    assert Message.objects.for_business(tenant.business).filter(conversation=conversation, role="staff",
                                                                content="Hello, Li Wei here.").exists()
    thread = staff.get(f"/app/inbox/{conversation.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "Hello, Li Wei here." in thread and "Teach the assistant" not in thread  # staff cannot teach
    staff.post(f"/app/inbox/{conversation.pk}/release/")
    conversation.refresh_from_db()
    assert conversation.state == "bot"
    staff.post(f"/app/inbox/{conversation.pk}/takeover/")
    conversation.refresh_from_db()
    assert conversation.state == "handoff" and conversation.metadata["handoff_reason"] == "staff_takeover"
    staff.post(f"/app/inbox/{conversation.pk}/close/")
    conversation.refresh_from_db()
    assert conversation.state == "closed"
    late = staff.post(f"/app/inbox/{conversation.pk}/reply/", {"content": "One more thing"})
    assert late.status_code == 409 and b"closed" in late.content
    assert staff.post(f"/app/inbox/{conversation.pk}/dance/").status_code == 404


def test_staff_reply_becomes_an_faq(tenant, owner):
    conversation = _widget_conversation(tenant)
    owner.post(f"/app/inbox/{conversation.pk}/reply/", {"content": "Yes, we seat groups of 12 on Saturdays."})
    reply = Message.objects.for_business(tenant.business).get(conversation=conversation, role="staff")
    assert owner.post(f"/app/inbox/{conversation.pk}/faq/{reply.pk}/").status_code == 302
    faq = KnowledgeSource.objects.for_business(tenant.business).get(kind="faq")
    assert faq.faq_pairs == [{"question": "Can I talk to a person?",
                              "answer": "Yes, we seat groups of 12 on Saturdays."}]


def test_keys_are_shown_once_and_revoked(tenant, owner):
    page = owner.post("/app/keys/", {"kind": "secret", "name": "booking"}).content.decode()
    key = ApiKey.objects.for_business(tenant.business).get(name="booking")
    assert 'id="new-key">sk_' in page
    assert "sk_" + page.split('id="new-key">sk_')[1].split("<")[0] not in owner.get("/app/keys/").content.decode()
    assert owner.post(f"/app/keys/{key.pk}/revoke/").status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_the_last_secret_key_cannot_be_revoked_from_the_page(tenant, owner):
    key = ApiKey.objects.for_business(tenant.business).get(kind="secret")
    page = owner.post(f"/app/keys/{key.pk}/revoke/", follow=True).content.decode()
    assert "only active secret key" in page
    key.refresh_from_db()
    assert key.revoked_at is None


def test_channels_page_shows_the_widget_snippet_with_a_usable_key(tenant, owner):
    page = owner.get("/app/channels/").content.decode()
    assert f'data-key="{tenant.publishable_key}"' in page and f'data-assistant="{tenant.assistant.pk}"' in page


def test_channels_page_offers_a_widget_key_when_none_can_be_shown(tenant, owner):
    ApiKey.objects.for_business(tenant.business).filter(kind="publishable").update(key_encrypted="")
    assert "Create a widget key" in owner.get("/app/channels/").content.decode()
    owner.post("/app/channels/widget-key/")
    assert 'data-key="pk_' in owner.get("/app/channels/").content.decode()


def test_whatsapp_connection_form(tenant, owner):
    owner.post("/app/channels/", {"phone_number_id": "1234567890", "access_token": "EAAG-token",
                                  "owner_whatsapp": "+44 7700 900123"})
    page = owner.get("/app/channels/").content.decode()
    assert "1234567890" in page and "447700900123" in page and "EAAG-token" not in page


def test_webhook_private_url_is_refused_in_words(owner):
    page = owner.post("/app/webhooks/", {"url": "https://127.0.0.1:8000/hook"}).content.decode()
    assert "private" in page.lower() or "local" in page.lower()


def test_billing_page_shows_usage_bars_and_checkout_without_stripe_is_a_clear_page(tenant, owner):
    page = owner.get("/app/billing/").content.decode()
    assert "Messages this period" in page and 'role="progressbar"' in page
    response = owner.post("/app/billing/checkout/", {"plan": "pro"})
    assert response.status_code == 503 and b"billing" in response.content.lower()


def test_onboarding_progress_then_first_question_and_snippet(tenant, owner):
    response = owner.post("/app/start/", {"file": SimpleUploadedFile("menu.csv", kb.MENU_CSV.encode(), "text/csv")})
    assert response.status_code == 302
    source = KnowledgeSource.objects.for_business(tenant.business).get()
    assert 'hx-trigger="every 1s"' in owner.get("/app/start/progress/").content.decode()
    pipeline.source_ingest(business_id=tenant.business.pk, source_id=source.pk)
    done = owner.get("/app/start/progress/").content.decode()
    assert "hx-trigger" not in done and "/app/playground/?q=How%20much%20is%20the" in done
    assert f'data-key="{tenant.publishable_key}"' in done


def test_onboarding_without_anything_says_what_to_give(owner):
    page = owner.post("/app/start/", {}, follow=True).content.decode()
    assert "website" in page and "menu file" in page


def test_home_sends_each_role_to_its_first_page(tenant):
    assert signed_in(tenant.user).get("/app/")["Location"] == "/app/start/"
    add_source(tenant, kind="text", title="About", text="We open at noon every day.")
    assert signed_in(tenant.user).get("/app/")["Location"] == "/app/playground/"
    assert signed_in(member(tenant, "staff")).get("/app/")["Location"] == "/app/inbox/"


def test_the_inbox_says_why_a_conversation_waits(tenant, owner):
    """The widget's button (pk) is the customer asking; a secret-key handoff is the business taking over."""
    key = ApiKey.objects.for_business(tenant.business).get(kind="publishable")
    conversation, token = chat.conversation_start(assistant=tenant.assistant, key=key)
    api = tenant.client(tenant.publishable_key)
    assert api.post(f"/api/v1/conversations/{conversation.pk}/handoff",
                    HTTP_X_CUSTOMER_TOKEN=token).status_code == 200
    assert "the customer asked for a person" in owner.get(f"/app/inbox/{conversation.pk}/").content.decode()
    tenant.client().post(f"/api/v1/conversations/{conversation.pk}/release")
    assert tenant.client().post(f"/api/v1/conversations/{conversation.pk}/handoff").status_code == 200
    assert "taken over by staff" in owner.get(f"/app/inbox/{conversation.pk}/").content.decode()


def test_tests_page_adds_runs_and_deletes_a_test(tenant, owner, monkeypatch):
    from assistants.regression import services as regression
    from assistants.regression.tasks import knowledge_run_task

    add_source(tenant, kind="text", title="Prices", text="The lunch menu costs €14.50 from Monday to Friday.")
    assert "No tests yet" in owner.get("/app/tests/").content.decode()
    response = owner.post("/app/tests/", {"question": "How much is the lunch menu?", "must_contain": "€14.50\n",
                                          "must_not_contain": "€12; €13"})
    assert response.status_code == 302
    [test] = KnowledgeTest.objects.for_business(tenant.business)
    assert test.must_contain == ["€14.50"] and test.must_not_contain == ["€12", "€13"]
    refused = owner.post("/app/tests/", {"question": " ", "must_contain": ""}, follow=True).content.decode()
    assert "Write the question." in refused
    queued: list = []
    monkeypatch.setattr(regression, "enqueue_on_commit", lambda task, *args: queued.append(args))
    assert owner.post("/app/tests/run/").status_code == 302
    assert 'hx-trigger="every 2s"' in owner.get("/app/tests/results/").content.decode()  # queued: it polls
    knowledge_run_task.apply(args=queued.pop()).get()
    page = owner.get("/app/tests/results/").content.decode()
    assert "hx-trigger" not in page and "1 of 1 passed" in page and "Passed" in page and "€14.50" in page
    assert owner.post(f"/app/tests/{test.pk}/delete/").status_code == 302
    assert not KnowledgeTest.objects.for_business(tenant.business).exists()


def test_a_held_version_is_shown_with_its_failing_tests_and_published_or_discarded(tenant, owner):
    from assistants.regression.services import knowledge_test_create

    body = add_source(tenant, kind="text", title="Prices", text="The lunch menu costs €14.50 from Monday to Friday.")
    knowledge_test_create(assistant=tenant.assistant, question="How much is the lunch menu?", must_contain=["€14.50"])
    source = KnowledgeSource.objects.for_business(tenant.business).get(pk=body["id"])
    for decision, status in (("discard", "ready"), ("publish", "ready")):
        services_resync(source, text="We are a family restaurant.")
        page = owner.get("/app/knowledge/").content.decode()
        assert "Needs your review" in page and "would break 1 test" in page
        assert "How much is the lunch menu?" in page and "Publish anyway" in page
        assert owner.post(f"/app/knowledge/sources/{source.pk}/{decision}/").status_code == 302
        source.refresh_from_db()
        assert source.status == status
    assert source.text == "We are a family restaurant."  # published at the second try
    refused = owner.post(f"/app/knowledge/sources/{source.pk}/publish/", follow=True).content.decode()
    assert "no version waiting for review" in refused


def services_resync(source: KnowledgeSource, **changes) -> None:
    from assistants import services

    services.source_resync(source=source, **changes)
    pipeline.source_ingest(business_id=source.business_id, source_id=source.pk)


def test_the_owner_number_is_changed_on_the_channels_page_and_another_business_gets_a_404(tenant, owner):
    owner.post("/app/channels/", {"phone_number_id": "1234567891", "access_token": "EAAG-token",
                                  "owner_whatsapp": "+44 7700 900123"})
    connection = WhatsAppConnection.objects.for_business(tenant.business).get()
    response = owner.post(f"/app/channels/whatsapp/{connection.pk}/owner/", {"owner_whatsapp": "+31 6 8765 4321"})
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.owner_whatsapp == "31687654321"
    page = owner.get("/app/channels/").content.decode()
    assert 'value="+31687654321"' in page and "sold out mapo tofu" in page
    refused = owner.post(f"/app/channels/whatsapp/{connection.pk}/owner/", {"owner_whatsapp": "call me"}, follow=True)
    assert "international form" in refused.content.decode()
    connection.refresh_from_db()
    assert connection.owner_whatsapp == "31687654321"

    rival = make_tenant("Rival Noodles")
    rival_owner = signed_in(rival.user)
    assert rival_owner.post(f"/app/channels/whatsapp/{connection.pk}/owner/",
                            {"owner_whatsapp": "+44 7700 900999"}).status_code == 404
    connection.refresh_from_db()
    assert connection.owner_whatsapp == "31687654321"
