"""The owner's dashboard in a real browser: Debian's Chromium driven by Playwright
(tests/browser.py), against the real ASGI app (``live_api``). Several contexts can be open at
once: a customer in the web widget, the owner in the inbox.

Ingestion is started from the test (``pipeline.source_ingest``) once a page has queued a
source: no Celery worker runs here, so the page's live progress is what is tested. The last
test writes the screenshots under docs/screenshots/ that the repository keeps.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from assistants.ingestion import pipeline
from assistants.management.commands.demo_seed import DEMO_ASSISTANT
from assistants.models import Assistant, CatalogItem, Conversation, KnowledgeSource, Message, UnansweredTopic
from assistants.unanswered.services import unanswered_collect
from businesses.accounts import account_settings_for
from businesses.models import Membership
from businesses.services import business_update
from tests.assistants import kb
from tests.assistants.conftest import add_source, upload
from tests.browser import DESKTOP, PHONE, BrowserThread, browser_thread
from tests.conftest import ROOT, Tenant, make_tenant
from tests.dashboard.conftest import PASSWORD, member

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SCREENSHOTS = ROOT / "docs" / "screenshots"
ARTIFACTS = ROOT / "test-artifacts"  # gitignored: for a person to look at
GREETING = "Hi, I'm Mei from Golden Dragon! Ask me about our menu."
HANDOFF = "I'll ask our manager, Li Wei, to reply here."
STAFF_REPLY = "Hello, this is Li Wei. Yes, we can seat 12 people on Saturday at 19:00."
User = get_user_model()


@pytest.fixture(autouse=True)
def _no_shared_worker(shared_worker) -> None:
    """These tests ingest what the pages queue themselves, at the step they choose (a worker
    left running by another module would read the menu before the page shows it waiting)."""
    shared_worker.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserThread]:
    yield from browser_thread()


@pytest.fixture
def pages(browser) -> Iterator[BrowserThread]:
    """The module's browser with no page open; each test opens the contexts it needs."""
    yield browser
    browser.close_pages()


def _restaurant(name: str = "Golden Dragon") -> Tenant:
    tenant = make_tenant(name)
    add_source(tenant, kind="file", title="Menu", file=upload("menu.csv", kb.MENU_CSV.encode(), "text/csv"))
    add_source(tenant, kind="faq", title="FAQ", pairs=kb.RESTAURANT_FAQ)
    add_source(tenant, kind="text", title="About us", text=kb.RESTAURANT_TEXT)
    response = tenant.client().patch(f"/api/v1/assistants/{tenant.assistant.pk}",
                                     {"name": "Mei", "greeting": GREETING, "handoff_message": HANDOFF}, format="json")
    assert response.status_code == 200, response.content
    return tenant


def _sign_in(page, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/app/login/")
    # By id: the labels are in the browser's language.
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(password)
    with page.expect_navigation():
        page.locator("form.card button[type=submit]").click()
    assert "/app/login/" not in page.url, page.content()[:2000]


def _nav(page):
    return page.get_by_role("navigation").first.get_by_role("link")


def _mark(page) -> None:
    """A flag on the window: still there later means the page was never reloaded."""
    page.evaluate("window.__noReload = true")


def _not_reloaded(page) -> bool:
    return page.evaluate("window.__noReload === true")


def _conversation(base: str, tenant: Tenant, *questions: str, channel: str = "widget") -> str:
    """A customer's conversation through the public API (the answers are the assistant's)."""
    headers = {"Authorization": f"Bearer {tenant.secret_key}"}
    started = httpx.post(f"{base}/api/v1/assistants/{tenant.assistant.pk}/conversations",
                         json={"channel": channel}, headers=headers)
    assert started.status_code == 201, started.text
    pk = started.json()["id"]
    for question in questions:
        sent = httpx.post(f"{base}/api/v1/conversations/{pk}/messages", json={"content": question},
                          headers=headers, timeout=30)
        assert sent.status_code == 201, sent.text
    return pk


# --------------------------------------------------------------------------- onboarding


def test_onboarding_from_sign_up_to_the_first_answer_and_the_snippet(live_api, pages):
    email = "li.wei@golden-dragon.example"
    pages.new_page("owner")

    def sign_up_and_upload_the_menu(page):
        page.goto(f"{live_api.url}/app/signup/")
        page.get_by_label("Business name").fill("Golden Dragon")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Create my assistant").click()
        expect(page).to_have_url(f"{live_api.url}/app/start/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Teach Golden Dragon's assistant")
        page.get_by_label("Your menu or price list").set_input_files(
            {"name": "menu.csv", "mimeType": "text/csv", "buffer": kb.MENU_CSV.encode()})
        page.get_by_role("button", name="Read it").click()
        expect(page).to_have_url(f"{live_api.url}/app/start/")
        progress = page.locator("#onboarding-progress")
        expect(progress.locator("progress")).to_have_count(1)
        expect(progress.locator(".badge")).to_have_text("Waiting")
        expect(page.get_by_role("link", name=re.compile("^Ask "))).to_have_count(0)
        _mark(page)

    pages.run(sign_up_and_upload_the_menu, "owner")
    membership = Membership.objects.select_related("business").get(user__email=email)
    assert membership.role == "owner"
    source = KnowledgeSource.objects.for_business(membership.business).get()
    assert (source.kind, source.title, source.status) == ("file", "menu.csv", "pending")
    pipeline.source_ingest(business_id=membership.business_id, source_id=source.pk)
    assistant = Assistant.objects.for_business(membership.business).get()

    def the_page_offers_the_first_question(page):
        # htmx polls /app/start/progress/ every second: no reload.
        ask = page.get_by_role("link", name="Ask “How much is the Mapo tofu?”")
        expect(ask).to_be_visible()
        progress = page.locator("#onboarding-progress")
        expect(progress.locator(".badge")).to_have_text("Ready")
        expect(progress).to_contain_text("6 menu items")
        assert _not_reloaded(page)
        ask.click()
        expect(page).to_have_url(re.compile(r"/app/playground/\?q="))
        expect(page.get_by_label("Question")).to_have_value("How much is the Mapo tofu?")
        page.get_by_role("button", name="Ask", exact=True).click()
        expect(page.locator("#answer")).to_contain_text("12.50")
        expect(page.locator("#grounding")).to_have_text("the menu")
        expect(page.get_by_role("region", name="Answer")).to_contain_text("menu.csv")
        page.goto(f"{live_api.url}/app/start/")
        snippet = page.get_by_label("Paste this into every page of your website, just before its closing body tag")
        expect(snippet).to_have_value(re.compile(r'<script src="http://127\.0\.0\.1:\d+/widget\.js" data-key="pk_'))
        expect(snippet).to_have_value(re.compile(f'data-assistant="{assistant.pk}"'))

    pages.run(the_page_offers_the_first_question, "owner")
    assert pages.all_errors() == {}


# --------------------------------------------------------------------------- live inbox


def test_inbox_shows_a_waiting_customer_live_and_the_reply_reaches_the_widget(live_api, pages):
    tenant = _restaurant()
    pages.new_page("customer")
    pages.new_page("owner")

    def owner_opens_the_inbox(page):
        _sign_in(page, live_api.url, tenant.user.email)
        page.goto(f"{live_api.url}/app/inbox/")
        expect(page.locator("#waiting")).to_have_text("0 customers waiting for a person")
        expect(page.get_by_text("No conversations yet.")).to_be_visible()
        _mark(page)

    pages.run(owner_opens_the_inbox, "owner")

    def customer_asks_for_a_person(page):
        page.goto(f"{live_api.url}/demo/?assistant={tenant.assistant.pk}&key={tenant.publishable_key}")
        page.get_by_role("button", name="Chat with Mei").click()
        box = page.get_by_label("Your message")
        box.fill("Can I talk to a person?")
        box.press("Enter")
        expect(page.get_by_role("button", name="A person will reply here")).to_be_disabled()

    pages.run(customer_asks_for_a_person, "customer")

    def owner_sees_it_and_replies(page):
        # The list polls every 2 s: the conversation and the counter appear without a reload.
        expect(page.locator("#waiting")).to_have_text("1 customer waiting for a person")
        row = page.locator("#inbox-list a.row", has_text="Can I talk to a person?")
        expect(row).to_be_visible()
        expect(row.locator(".badge")).to_have_text("Waiting for a person")
        assert _not_reloaded(page)
        row.click()
        expect(page).to_have_url(re.compile(r"/app/inbox/[0-9a-f-]{36}/$"))
        expect(page.locator("#state")).to_have_text("Waiting for a person")
        expect(page.locator("#messages .msg.customer")).to_contain_text("Can I talk to a person?")
        # One line of text under its "Customer · 12:00": the template's indentation is not shown.
        height = page.locator("#messages .msg.customer").evaluate("el => el.getBoundingClientRect().height")
        assert height < 80, height
        page.get_by_label("Reply to the customer").fill(STAFF_REPLY)
        page.get_by_role("button", name="Send", exact=True).click()
        expect(page.locator("#messages .msg.staff")).to_contain_text(STAFF_REPLY)

    pages.run(owner_sees_it_and_replies, "owner")

    def the_reply_arrives_in_the_widget(page):
        log = page.get_by_role("log")
        expect(log.locator(".msg.staff")).to_contain_text(STAFF_REPLY)
        expect(log.locator(".msg.staff .who")).to_have_text("Golden Dragon team")
        # The notice the server adds when a customer asks for a person (services.handoff_notice).
        expect(log.locator(".msg.note")).to_contain_text("I've asked someone from Golden Dragon to reply to you here.")

    pages.run(the_reply_arrives_in_the_widget, "customer")

    def owner_gives_back_then_closes(page):
        page.get_by_role("button", name="Give back to the assistant").click()
        expect(page.get_by_role("status")).to_contain_text("The assistant answers this customer again.")
        expect(page.locator("#state")).to_have_text("Assistant")
        page.get_by_role("button", name="Close", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("Conversation closed.")
        expect(page.locator("#state")).to_have_text("Closed")
        expect(page.get_by_label("Reply to the customer")).to_have_count(0)

    pages.run(owner_gives_back_then_closes, "owner")
    conversation = Conversation.objects.for_business(tenant.business).get()
    assert conversation.state == "closed"
    roles = list(Message.objects.for_business(tenant.business).filter(conversation=conversation)
                 .order_by("created_at").values_list("role", flat=True))
    assert roles == ["customer", "system", "staff"], roles
    assert pages.all_errors() == {}


# --------------------------------------------------------------------------- the menu


def test_sold_out_switch_changes_the_next_answer(live_api, pages):
    tenant = _restaurant()
    pages.new_page("owner")

    def mark_sold_out(page):
        _sign_in(page, live_api.url, tenant.user.email)
        page.goto(f"{live_api.url}/app/menu/")
        switch = page.get_by_role("switch", name="Kung Pao chicken available")
        expect(switch).to_have_text("Available")
        expect(switch).to_have_attribute("aria-checked", "true")
        _mark(page)
        with page.expect_response(lambda r: "/app/menu/" in r.url and r.request.method == "POST") as posted:
            switch.click()
        assert posted.value.request.headers.get("hx-request") == "true"
        expect(switch).to_have_text("Sold out")
        expect(switch).to_have_attribute("aria-checked", "false")
        expect(page.get_by_role("switch", name="Mapo tofu available")).to_have_text("Available")
        assert _not_reloaded(page)

    pages.run(mark_sold_out, "owner")
    item = CatalogItem.objects.for_business(tenant.business).get(name="Kung Pao chicken")
    assert item.available is False

    def ask_about_it(page):
        page.goto(f"{live_api.url}/app/playground/")
        page.get_by_label("Question").fill("Is the Kung Pao chicken available today?")
        page.get_by_role("button", name="Ask", exact=True).click()
        expect(page.locator("#answer")).to_have_text("Sorry, the Kung Pao chicken is sold out at the moment.")
        expect(page.locator("#grounding")).to_have_text("the menu")
        # And back: available again, the answer says so.
        page.goto(f"{live_api.url}/app/menu/")
        page.get_by_role("switch", name="Kung Pao chicken available").click()
        expect(page.get_by_role("switch", name="Kung Pao chicken available")).to_have_text("Available")
        page.goto(f"{live_api.url}/app/playground/?q=Is the Kung Pao chicken available today?")
        page.get_by_role("button", name="Ask", exact=True).click()
        expect(page.locator("#answer")).to_have_text("Yes, the Kung Pao chicken is available.")

    pages.run(ask_about_it, "owner")
    assert pages.all_errors() == {}


def test_owner_changes_their_whatsapp_number_on_the_channels_page(live_api, pages):
    """The owner number (alerts, the weekly digest, commands) is edited in place, at 390 px too."""
    tenant = make_tenant("Golden Dragon")
    created = tenant.client().post("/api/v1/whatsapp/connections", {
        "phone_number_id": "106540352242922", "assistant_id": str(tenant.assistant.pk),
        "access_token": "EAAG-test-token", "display_phone_number": "+31 20 555 0188",
        "owner_whatsapp": "+31612345678"}, format="json")
    assert created.status_code == 201, created.content
    pages.new_page("owner")

    def change_number(page):
        _sign_in(page, live_api.url, tenant.user.email)
        page.goto(f"{live_api.url}/app/channels/")
        field = page.get_by_label("Your own WhatsApp number")
        expect(field).to_have_value("+31612345678")
        field.fill("+31 6 8765 4321")
        with page.expect_navigation():
            page.get_by_role("button", name="Save owner number").click()
        expect(page.get_by_text("Owner number saved.")).to_be_visible()
        expect(page.get_by_label("Your own WhatsApp number")).to_have_value("+31687654321")
        for viewport in (DESKTOP, PHONE):
            page.set_viewport_size(viewport)
            page.screenshot(path=str(SCREENSHOTS / f"channels-whatsapp-{viewport['width']}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
        assert page.evaluate(_UNLABELLED) == []

    pages.run(change_number, "owner")
    assert created.json()["id"] and tenant.client().get(
        f"/api/v1/whatsapp/connections/{created.json()['id']}").json()["owner_whatsapp"] == "31687654321"
    assert pages.all_errors() == {}


# --------------------------------------------------------------------------- roles and refusals


def test_each_role_sees_its_pages_and_is_refused_the_others(live_api, pages):
    tenant = make_tenant("Golden Dragon")
    staff = member(tenant, "staff", "anna@golden-dragon.example")
    admin = member(tenant, "admin", "chen@golden-dragon.example")
    pages.new_page("staff")
    pages.new_page("admin")

    def staff_member(page):
        _sign_in(page, live_api.url, staff.email)
        expect(page).to_have_url(f"{live_api.url}/app/inbox/")
        expect(_nav(page)).to_have_text(["Inbox"])
        for path in ("/app/knowledge/", "/app/billing/"):
            response = page.goto(f"{live_api.url}{path}")
            assert response.status == 403, path
            expect(page.get_by_role("heading", level=1)).to_have_text("Not for your role")
            expect(page.get_by_role("alert")).to_contain_text("Your role in this business cannot open this page.")
        page.get_by_role("link", name="Back to the dashboard").click()
        expect(page).to_have_url(f"{live_api.url}/app/inbox/")

    pages.run(staff_member, "staff")

    def admin_member(page):
        _sign_in(page, live_api.url, admin.email)
        expect(_nav(page)).to_have_text(["Get started", "Inbox", "Unanswered", "Analytics", "Playground", "Knowledge",
                                         "Tests", "Menu", "Assistant", "Channels", "Webhooks"])
        response = page.goto(f"{live_api.url}/app/keys/")
        assert response.status == 403
        expect(page.get_by_role("heading", level=1)).to_have_text("Not for your role")
        response = page.goto(f"{live_api.url}/app/assistant/")
        assert response.status == 200
        expect(page.get_by_role("heading", level=1)).to_have_text("Your assistant")

    pages.run(admin_member, "admin")
    assert pages.all_errors() == {}


def test_owner_cannot_open_another_business_conversation(live_api, pages):
    ours = make_tenant("Golden Dragon")
    theirs = make_tenant("Rival Noodles")
    pk = _conversation(live_api.url, theirs, "Our secret recipe question", channel="api")
    state = Conversation.objects.for_business(theirs.business).get(pk=pk).state
    pages.new_page("owner")

    def open_theirs(page):
        _sign_in(page, live_api.url, ours.user.email)
        response = page.goto(f"{live_api.url}/app/inbox/{pk}/")
        assert response.status == 404
        expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
        expect(page.locator("body")).not_to_contain_text("Our secret recipe question")
        for action in ("reply", "close"):
            # A form posted at their conversation (with a valid token) is refused the same way.
            status = page.evaluate("""async ([url, token]) => {
                const body = new URLSearchParams({csrfmiddlewaretoken: token, content: "hello"});
                return (await fetch(url, {method: "POST", body})).status;
            }""", [f"{live_api.url}/app/inbox/{pk}/{action}/",
                   page.locator("input[name=csrfmiddlewaretoken]").first.input_value()])
            assert status == 404, action

    pages.run(open_theirs, "owner")
    assert Conversation.objects.for_business(theirs.business).get(pk=pk).state == state
    assert not Message.objects.for_business(theirs.business).filter(role="staff").exists()


def test_a_form_without_its_csrf_token_is_refused(live_api, pages):
    tenant = make_tenant("Golden Dragon")
    pages.new_page("owner")

    def post_without_the_token(page):
        _sign_in(page, live_api.url, tenant.user.email)
        page.goto(f"{live_api.url}/app/knowledge/")
        form = page.locator("form", has=page.locator("input[name=kind][value=faq]"))
        form.get_by_label("Question").fill("Do you have parking?")
        form.get_by_label("Answer").fill("Yes, behind the restaurant.")
        removed = page.evaluate("""() => {
            const form = document.querySelector('input[name=kind][value=faq]').form;
            const token = form.querySelector('input[name=csrfmiddlewaretoken]');
            token.remove();
            return !form.querySelector('input[name=csrfmiddlewaretoken]');
        }""")
        assert removed
        with page.expect_navigation() as navigation:
            form.get_by_role("button", name="Add").click()
        assert navigation.value.status == 403
        expect(page.get_by_role("alert")).to_contain_text("This form expired or was sent from another site.")
        # Not "Not for your role": the role may post this form, the token was missing.
        expect(page.get_by_role("heading", level=1)).to_have_text("That did not work")

    pages.run(post_without_the_token, "owner")
    assert not KnowledgeSource.objects.for_business(tenant.business).exists()


def test_an_upload_over_the_size_limit_shows_a_readable_page_and_the_way_back(live_api, pages, settings):
    settings.MAX_UPLOAD_BODY_BYTES = 64 * 1024  # the server's multipart limit (config/bodylimit.py)
    tenant = make_tenant("Golden Dragon")
    pages.new_page("owner", viewport=PHONE)

    def upload_a_big_file(page):
        _sign_in(page, live_api.url, tenant.user.email)
        page.goto(f"{live_api.url}/app/knowledge/")
        page.get_by_label("Menu, price list or document").set_input_files(
            {"name": "menu.txt", "mimeType": "text/plain", "buffer": b"Mapo tofu 12.50\n" * 8000})
        with page.expect_navigation() as navigation:
            page.get_by_role("button", name="Upload").click()
        assert navigation.value.status == 413
        expect(page.get_by_role("heading", level=1)).to_have_text("Too large to send")
        expect(page.get_by_role("alert")).to_contain_text(
            "What you sent is larger than the limit of 64.0\xa0KB, so nothing was saved.")
        page.screenshot(path=str(SCREENSHOTS / "too-large-390.png"), full_page=True)
        page.get_by_role("link", name="Back to the form").click()
        expect(page).to_have_url(f"{live_api.url}/app/knowledge/")
        expect(page.get_by_role("heading", level=1)).to_have_text("What the assistant knows")

    pages.run(upload_a_big_file, "owner")
    assert not KnowledgeSource.objects.for_business(tenant.business).exists()
    assert pages.all_errors() == {}


# --------------------------------------------------------------------------- languages


def test_the_dashboard_in_chinese_from_the_browser_or_the_account_setting(live_api, pages):
    tenant = make_tenant("Golden Dragon")
    pages.new_page("zh", locale="zh-CN")
    pages.new_page("en", locale="en-US")

    def chinese_browser(page):
        page.goto(f"{live_api.url}/app/login/")
        expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
        expect(page.get_by_role("button", name="登录")).to_be_visible()
        _sign_in(page, live_api.url, tenant.user.email)
        expect(_nav(page).filter(has_text="收件箱")).to_have_count(1)
        expect(_nav(page).filter(has_text="Inbox")).to_have_count(0)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-zh.png"), full_page=True)

    pages.run(chinese_browser, "zh")

    def english_browser_chooses_chinese(page):
        _sign_in(page, live_api.url, tenant.user.email)
        expect(_nav(page).filter(has_text="Inbox")).to_have_count(1)
        page.goto(f"{live_api.url}/app/account/")
        page.get_by_label("Language").select_option("zh-hans")
        page.get_by_role("button", name="Save").click()
        expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
        expect(_nav(page).filter(has_text="收件箱")).to_have_count(1)

    pages.run(english_browser_chooses_chinese, "en")
    assert account_settings_for(user=tenant.user).language == "zh-hans"
    # The setting follows the person: a fresh English browser signs in to Chinese pages.
    pages.new_page("en", locale="en-US")

    def another_english_browser(page):
        _sign_in(page, live_api.url, tenant.user.email)
        expect(_nav(page).filter(has_text="收件箱")).to_have_count(1)

    pages.run(another_english_browser, "en")
    assert pages.all_errors() == {}


# --------------------------------------------------------------------------- keyboard


def test_sign_in_with_the_keyboard_alone(live_api, pages):
    tenant = make_tenant("Golden Dragon")
    pages.new_page("owner")

    def keyboard(page):
        page.goto(f"{live_api.url}/app/login/")
        email, password = page.get_by_label("Email"), page.get_by_label("Password")
        expect(email).to_be_focused()  # autofocus
        page.keyboard.type(tenant.user.email)
        page.keyboard.press("Tab")
        expect(password).to_be_focused()
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name="Sign in")).to_be_focused()
        page.keyboard.press("Shift+Tab")
        expect(password).to_be_focused()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        expect(page).to_have_url(f"{live_api.url}/app/start/")
        # The first Tab on a page reaches the skip link, which moves focus past the navigation.
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to content")
        expect(skip).to_be_focused()
        expect(skip).to_be_in_viewport()

    pages.run(keyboard, "owner")


# --------------------------------------------------------------------------- unanswered questions


def _collect_unanswered(tenant: Tenant) -> None:
    """What the collection task does after each answer with grounding none (no worker runs here)."""
    for answer in Message.objects.for_business(tenant.business).filter(grounding="none"):
        unanswered_collect(business_id=tenant.business.pk, message_id=answer.pk, reason="no_answer")


def test_owner_answers_an_unanswered_question_and_the_next_customer_gets_the_answer(live_api, pages):
    tenant = _restaurant()
    for question in ("Do you have wifi?", "Do you have free wifi?", "Can I bring my own wine?"):
        _conversation(live_api.url, tenant, question)
    _collect_unanswered(tenant)
    pages.new_page("owner")

    def owner_answers_the_most_asked(page):
        _sign_in(page, live_api.url, tenant.user.email)
        _nav(page).get_by_text("Unanswered", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Unanswered questions")
        topics = page.locator("section.card")
        expect(topics).to_have_count(2)
        first = topics.first
        # Headed by the question its FAQ will ask: the most asked wording, the first among equals.
        expect(first.get_by_role("heading", level=2)).to_have_text("Do you have wifi?")
        expect(first).to_contain_text("asked 2 times")
        expect(first.get_by_role("listitem")).to_have_text(["Do you have free wifi?", "Do you have wifi?"])
        expect(first).to_contain_text("no answer in the knowledge (2)")
        first.get_by_label("Your answer").fill("Yes: free wifi for every guest, the password is on your receipt.")
        first.get_by_role("button", name="Answer", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("Answered: “Do you have wifi?” is now in the knowledge")
        expect(page.locator("section.card")).to_have_count(1)
        expect(page.locator("section.card h2")).to_have_text("Can I bring my own wine?")

    pages.run(owner_answers_the_most_asked, "owner")
    topic = UnansweredTopic.objects.for_business(tenant.business).get(status="answered")
    pipeline.source_ingest(business_id=tenant.business.pk, source_id=topic.faq_source_id)
    headers = {"Authorization": f"Bearer {tenant.secret_key}"}
    pk = _conversation(live_api.url, tenant)
    answer = httpx.post(f"{live_api.url}/api/v1/conversations/{pk}/messages", json={"content": "Do you have wifi?"},
                        headers=headers, timeout=30).json()["answer"]
    assert answer["grounding"] == "passages" and "password is on your receipt" in answer["content"], answer
    assert pages.all_errors() == {}


# --------------------------------------------------------------------------- knowledge tests


def test_owner_writes_a_test_and_a_menu_upload_that_breaks_it_waits_for_review(live_api, pages):
    tenant = _restaurant()
    menu = KnowledgeSource.objects.for_business(tenant.business).get(title="Menu")
    pages.new_page("owner")

    def owner_writes_a_test(page):
        _sign_in(page, live_api.url, tenant.user.email)
        _nav(page).get_by_text("Tests", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Knowledge tests")
        page.get_by_label("Question").fill("How much is the mapo tofu?")
        page.get_by_label("The answer must say").fill("12.50")
        page.get_by_role("button", name="Add the test").click()
        expect(page.get_by_role("status")).to_contain_text("Test added")
        expect(page.locator("#tests tbody tr")).to_have_count(1)

    pages.run(owner_writes_a_test, "owner")
    # A new menu file with another price, uploaded over the API and read as the worker would.
    response = tenant.client().post(f"/api/v1/sources/{menu.pk}/resync", {
        "file": upload("menu.csv", kb.MENU_CSV.replace("12.50", "13.80").encode(), "text/csv")}, format="multipart")
    assert response.status_code == 202, response.content
    pipeline.source_ingest(business_id=tenant.business.pk, source_id=menu.pk)

    def owner_reviews(page):
        page.goto(f"{live_api.url}/app/knowledge/")
        expect(page.locator("#sources .badge.needs_review")).to_have_text("Needs your review")
        review = page.locator("#sources .review")
        expect(review).to_contain_text("The new version would break 1 test")
        review.get_by_text("How much is the mapo tofu?").click()  # opens the details
        expect(review).to_contain_text("12.50")
        for viewport in (DESKTOP, PHONE):
            page.set_viewport_size(viewport)
            page.screenshot(path=str(SCREENSHOTS / f"knowledge-review-{viewport['width']}.png"), full_page=True)
        page.set_viewport_size(DESKTOP)
        review.get_by_role("button", name="Discard the new version").click()
        expect(page.get_by_role("status")).to_contain_text("was discarded")
        expect(page.locator("#sources .badge.ready")).to_have_count(3)
        page.goto(f"{live_api.url}/app/tests/")
        expect(page.locator("#tests tbody tr .badge")).to_contain_text(["12.50", "Passed"])
        for viewport in (DESKTOP, PHONE):
            page.set_viewport_size(viewport)
            page.screenshot(path=str(SCREENSHOTS / f"tests-{viewport['width']}.png"), full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1 or \
                viewport is DESKTOP
        assert page.evaluate(_UNLABELLED) == []

    pages.run(owner_reviews, "owner")
    prices = {i.name: i.price for i in CatalogItem.objects.for_business(tenant.business)}
    assert str(prices["Mapo tofu"]) == "12.50"
    assert pages.all_errors() == {}


# --------------------------------------------------------------------------- screenshots


_UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea'))
    .filter(el => el.type !== 'hidden' && !el.labels.length && !el.getAttribute('aria-label')
                  && !el.getAttribute('aria-labelledby'))
    .map(el => el.outerHTML.slice(0, 120))"""


def _golden_dragon(base: str, email: str) -> tuple[Tenant, str]:
    """The demo business of the screenshots, its owner signing in with ``email``: the menu, the
    FAQ and the text, a few members and conversations; returns it and the conversation waiting
    for a person."""
    tenant = _restaurant()
    User.objects.filter(pk=tenant.user.pk).update(email=email, username=email)
    # The look of `make demo`'s restaurant: persona, hours, holidays, handoff message.
    settings = tenant.client().patch(f"/api/v1/assistants/{tenant.assistant.pk}", {
        **DEMO_ASSISTANT, "widget_color": "#9f1d20"}, format="json")
    assert settings.status_code == 200, settings.content
    business_update(business=tenant.business, data={"handoff_email": email, "handoff_phone": "+31 20 555 0188"})
    member(tenant, "admin", "chen@golden-dragon.example")
    member(tenant, "staff", "anna@golden-dragon.example")
    from businesses.accounts import invitation_create

    invitation_create(business=tenant.business, email="sam@golden-dragon.example", role="staff",
                      invited_by=tenant.user, base_url=base)
    _conversation(base, tenant, "How much is the mapo tofu?", "Do the dan dan noodles contain peanuts?")
    _conversation(base, tenant, "Do you have parking?", channel="api")
    waiting = _conversation(base, tenant, "Can I bring my dog?",
                            "Can I talk to a person? We are 12 for Saturday evening.")
    return tenant, waiting


def _unanswered_topics(tenant: Tenant) -> None:
    """Questions Golden Dragon's assistant could not answer, collected as the task does, in
    conversations made after the inbox's screenshot (which shows only the three before)."""
    for question in ("Do you have wifi?", "Do you have free wifi?", "Is there free wifi for guests?",
                     "Can I bring my own wine?", "Do you charge corkage?", "Do you sell gift cards?"):
        conversation = Conversation.objects.unscoped().create(business=tenant.business, assistant=tenant.assistant,
                                                              state="handoff")
        asked = Message.objects.unscoped().create(business=tenant.business, conversation=conversation,
                                                  role="customer", content=question)
        answer = Message.objects.unscoped().create(business=tenant.business, conversation=conversation,
                                                   role="assistant", grounding="none", reply_to=asked,
                                                   content="I'm sorry, I don't have that information.")
        unanswered_collect(business_id=tenant.business.pk, message_id=answer.pk, reason="no_answer")


def test_screenshots_of_every_page(live_api, pages):
    email = "li.wei@golden-dragon.example"
    tenant, waiting = _golden_dragon(live_api.url, email)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    too_wide: dict[str, int] = {}
    unlabelled: dict[str, list[str]] = {}

    def shoot(page, slug: str) -> None:
        """The page at 1280x800 and at 390x844, full length; at 390 nothing may scroll sideways."""
        for viewport in (DESKTOP, PHONE):
            page.set_viewport_size(viewport)
            page.screenshot(path=str(SCREENSHOTS / f"{slug}-{viewport['width']}.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"] + 1:
            too_wide[slug] = width
        missing = page.evaluate(_UNLABELLED)
        if missing:
            unlabelled[slug] = missing
        page.set_viewport_size(DESKTOP)

    pages.new_page("visitor")

    def signed_out(page):
        page.goto(f"{live_api.url}/app/login/")
        shoot(page, "login")
        page.goto(f"{live_api.url}/app/signup/")
        shoot(page, "signup")

    pages.run(signed_out, "visitor")
    pages.new_page("owner")

    def owner_pages(page):
        _sign_in(page, live_api.url, email)
        page.goto(f"{live_api.url}/app/start/")
        expect(page.get_by_label(re.compile("^Paste this into every page"))).to_be_visible()
        shoot(page, "onboarding")
        page.goto(f"{live_api.url}/app/playground/?q=Do the dan dan noodles contain peanuts?")
        page.get_by_role("button", name="Ask", exact=True).click()
        expect(page.locator("#grounding")).to_have_text("the menu")
        shoot(page, "playground")
        page.goto(f"{live_api.url}/app/knowledge/")
        expect(page.locator("#sources .badge.ready")).to_have_count(3)
        shoot(page, "knowledge")
        page.goto(f"{live_api.url}/app/menu/")
        page.get_by_role("switch", name="Mango pudding available").click()
        expect(page.get_by_role("switch", name="Mango pudding available")).to_have_text("Sold out")
        shoot(page, "menu")
        page.goto(f"{live_api.url}/app/assistant/")
        preview = page.frame_locator("#widget-preview")
        preview.get_by_role("button", name="Chat with Mei").click()
        expect(preview.get_by_role("dialog", name="Mei")).to_contain_text(DEMO_ASSISTANT["greeting"])
        shoot(page, "assistant")
        page.goto(f"{live_api.url}/app/inbox/")
        expect(page.locator("#waiting")).to_have_text("1 customer waiting for a person")
        expect(page.locator("#inbox-list a.row")).to_have_count(3)
        shoot(page, "inbox")
        page.goto(f"{live_api.url}/app/inbox/{waiting}/")
        expect(page.locator("#state")).to_have_text("Waiting for a person")
        shoot(page, "conversation")

    pages.run(owner_pages, "owner")
    _unanswered_topics(tenant)

    def more_owner_pages(page):
        page.goto(f"{live_api.url}/app/unanswered/")
        expect(page.locator("section.card").first).to_contain_text("asked 3 times")
        shoot(page, "unanswered")
        for slug, path in (("channels", "channels"), ("keys", "keys"), ("webhooks", "webhooks"),
                           ("billing", "billing"), ("members", "members"), ("account", "account")):
            response = page.goto(f"{live_api.url}/app/{path}/")
            assert response.status == 200, path
            shoot(page, slug)

    pages.run(more_owner_pages, "owner")
    pages.new_page("staff")

    def refused(page):
        _sign_in(page, live_api.url, "anna@golden-dragon.example")
        assert page.goto(f"{live_api.url}/app/billing/").status == 403
        shoot(page, "forbidden")

    pages.run(refused, "staff")
    assert too_wide == {}, f"pages wider than {PHONE['width']} px at {PHONE['width']} px: {too_wide}"
    assert unlabelled == {}, unlabelled
    assert pages.all_errors() == {}
    names = {path.name for path in SCREENSHOTS.glob("*.png")}
    for slug in ("login", "signup", "onboarding", "playground", "knowledge", "menu", "assistant", "inbox",
                 "conversation", "unanswered", "channels", "keys", "webhooks", "billing", "members", "account",
                 "forbidden"):
        assert {f"{slug}-1280.png", f"{slug}-390.png"} <= names, slug


def test_owner_schedules_and_cancels_the_deletion_of_the_business(live_api, pages):
    from businesses.models import Business

    tenant = _restaurant()
    email = tenant.user.email
    pages.new_page("owner")

    def delete_then_cancel(page):
        _sign_in(page, live_api.url, email)
        page.goto(f"{live_api.url}/app/business/")
        page.get_by_label("Keep conversations (days)").fill("90")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Conversations are deleted 90 days after their last message.")).to_be_visible()
        page.get_by_label(f"Type “{tenant.business.name}” to confirm").fill(tenant.business.name)
        page.get_by_role("button", name="Delete this business").click()
        expect(page.get_by_role("heading", name="This business is scheduled for deletion")).to_be_visible()
        for viewport in (DESKTOP, PHONE):
            page.set_viewport_size(viewport)
            page.screenshot(path=str(SCREENSHOTS / f"business-{viewport['width']}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
        page.set_viewport_size(DESKTOP)
        page.get_by_role("button", name="Cancel the deletion").click()
        expect(page.get_by_role("button", name="Delete this business")).to_be_visible()

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages.run(delete_then_cancel, "owner")
    business = Business.objects.get(pk=tenant.business.pk)
    assert business.deletion_scheduled_for is None and business.retention_days == 90
