"""The web widget in a real browser: headless Chromium from Debian driven by Playwright
(tests/browser.py).

The app is the real ASGI server (``live_api``), the answers come from the extractive backend
over the restaurant's knowledge, staff replies are posted with the secret key. Screenshots
land in test-artifacts/ (gitignored) for a person to look at.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from assistants.models import Conversation, Message
from tests.assistants import kb
from tests.assistants.conftest import add_source, upload
from tests.browser import BrowserThread, browser_thread
from tests.conftest import ROOT, make_tenant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ARTIFACTS = ROOT / "test-artifacts"
GREETING = "Hi, I'm Mei from Golden Dragon! Ask me about our menu."
HANDOFF = "I'll ask our manager, Li Wei, to reply here."
STAFF_REPLY = "Hello, this is Li Wei. Yes, we can seat 12 people on Saturday at 19:00."


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserThread]:
    yield from browser_thread()


@pytest.fixture
def browser_page(browser) -> BrowserThread:
    browser.new_page()
    return browser


def _restaurant():
    tenant = make_tenant("Golden Dragon")
    add_source(tenant, kind="file", title="Menu", file=upload("menu.csv", kb.MENU_CSV.encode(), "text/csv"))
    add_source(tenant, kind="faq", title="FAQ", pairs=kb.RESTAURANT_FAQ)
    add_source(tenant, kind="text", title="About us", text=kb.RESTAURANT_TEXT)
    response = tenant.client().patch(f"/api/v1/assistants/{tenant.assistant.pk}",
                                     {"name": "Mei", "greeting": GREETING, "handoff_message": HANDOFF}, format="json")
    assert response.status_code == 200, response.content
    return tenant


def _shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    return path


def _ask(page, question: str):
    """Type a question, press Enter, return the streamed POST's response."""
    box = page.get_by_label("Your message")
    box.fill(question)
    with page.expect_response(lambda r: r.url.endswith("/messages") and r.request.method == "POST") as sent:
        box.press("Enter")
    return sent.value


def test_customer_chats_on_the_demo_site_and_reaches_a_person(live_api, browser_page):
    tenant = _restaurant()
    run = browser_page.run

    def ask_on_the_demo_site(page):
        page.goto(f"{live_api.url}/demo/?assistant={tenant.assistant.pk}&key={tenant.publishable_key}")
        expect(page.get_by_role("heading", name="金龍 Golden Dragon")).to_be_visible()
        # The bubble opens the panel with the assistant's name and greeting, focus in the message box.
        page.get_by_role("button", name="Chat with Mei").click()
        dialog = page.get_by_role("dialog", name="Mei")
        expect(dialog).to_be_visible()
        expect(dialog.locator(".greeting")).to_have_text(GREETING)
        expect(page.get_by_label("Your message")).to_be_focused()
        log = page.get_by_role("log")
        expect(log).to_have_attribute("aria-live", "polite")
        # Enter sends; the answer streams in as server-sent events and carries its source.
        response = _ask(page, "How much is the mapo tofu?")
        assert response.request.headers["accept"] == "text/event-stream"
        assert response.headers["content-type"].startswith("text/event-stream")
        expect(log.locator(".msg.customer")).to_have_text("How much is the mapo tofu?")
        answer = log.locator(".msg.assistant[data-id]").last
        expect(answer).to_contain_text("12.50")
        expect(answer.locator(".cite")).to_contain_text(["Menu"])
        _shot(page, "widget-desktop.png")
        return page.evaluate(f"JSON.parse(localStorage.getItem('frontdesk:{tenant.assistant.pk}'))")

    stored = run(ask_on_the_demo_site)
    conversation = Conversation.objects.for_business(tenant.business).get(pk=stored["id"])
    assert conversation.channel == "widget" and stored["token"].startswith("ct_")
    saved = Message.objects.for_business(tenant.business).get(conversation=conversation, role="assistant")
    assert "12.50" in saved.content and saved.citations

    def reload_then_ask_for_a_person(page):
        # A reload keeps the conversation: the history comes back from the API.
        page.reload()
        page.get_by_role("button", name="Chat with Mei").click()
        log = page.get_by_role("log")
        expect(log.locator(".msg.customer")).to_have_text(["How much is the mapo tofu?"])
        expect(log.locator(".msg.assistant[data-id]")).to_contain_text(["12.50"])
        expect(log.locator(".msg.assistant[data-id] .cite").first).to_have_text("Menu")
        # "Talk to a person": the conversation goes to the staff inbox, the assistant goes quiet.
        page.get_by_role("button", name="Talk to a person").click()
        expect(log.locator(".msg.note")).to_have_text(HANDOFF)
        expect(page.get_by_role("button", name="A person will reply here")).to_be_disabled()
        _ask(page, "Can you seat 12 people on Saturday?")
        expect(log.locator(".msg.customer")).to_have_count(2)

    run(reload_then_ask_for_a_person)
    conversation.refresh_from_db()
    assert conversation.state == "handoff"
    # Staff answer with the secret key; the widget polls and shows the reply.
    staff = httpx.post(f"{live_api.url}/api/v1/conversations/{conversation.pk}/messages",
                       json={"content": STAFF_REPLY, "role": "staff"},
                       headers={"Authorization": f"Bearer {tenant.secret_key}"})
    assert staff.status_code == 201, staff.text

    def staff_reply_arrives_then_phone(page):
        log = page.get_by_role("log")
        expect(log.locator(".msg.staff")).to_contain_text(STAFF_REPLY)
        expect(log.locator(".msg.staff .who")).to_have_text("Golden Dragon team")
        expect(log.locator(".msg.assistant[data-id]")).to_have_count(1)  # no bot answer during the handoff
        _shot(page, "widget-desktop-handoff.png")
        # Escape closes the panel and gives focus back to the bubble.
        page.keyboard.press("Escape")
        bubble = page.get_by_role("button", name="Chat with Mei")
        expect(page.get_by_role("dialog", name="Mei")).to_be_hidden()
        expect(bubble).to_be_focused()
        expect(bubble).to_have_attribute("aria-expanded", "false")
        # On a phone the panel takes the whole screen; the history (with the staff reply) is there.
        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        page.get_by_role("button", name="Chat with Mei").click()
        expect(log.locator(".msg.staff")).to_contain_text(STAFF_REPLY)
        box = page.get_by_role("dialog", name="Mei").bounding_box()
        assert box == {"x": 0, "y": 0, "width": 390, "height": 844}, box
        _shot(page, "widget-phone.png")

    run(staff_reply_arrives_then_phone)
    assert browser_page.errors == []
    roles = list(Message.objects.for_business(tenant.business).filter(conversation=conversation)
                 .order_by("created_at").values_list("role", flat=True))
    # The question, its answer, the handoff notice ("someone will reply"), the question asked
    # during the handoff (no bot answer to it) and the staff reply.
    assert roles == ["customer", "assistant", "system", "customer", "staff"], roles


class _SiteHandler(BaseHTTPRequestHandler):
    html = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.html)))
        self.end_headers()
        self.wfile.write(self.html)

    def log_message(self, *args):
        pass


@pytest.fixture
def customer_site() -> Iterator:
    """Another origin: a restaurant's own website on a second loopback server."""
    handler = type("Site", (_SiteHandler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.origin = f"http://127.0.0.1:{server.server_address[1]}"
    server.handler = handler
    yield server
    server.shutdown()


def test_a_catalog_answer_and_an_honest_handoff_in_the_widget(live_api, browser_page):
    """A question about a dish is answered from the typed menu; one the knowledge cannot answer
    gets the handoff answer, no source, and a person is brought in."""
    tenant = _restaurant()

    def ask_both(page):
        page.goto(f"{live_api.url}/demo/?assistant={tenant.assistant.pk}&key={tenant.publishable_key}")
        page.get_by_role("button", name="Chat with Mei").click()
        log = page.get_by_role("log")
        _ask(page, "Do the dan dan noodles contain peanuts?")
        answer = log.locator(".msg.assistant[data-id]").last
        expect(answer).to_contain_text("Yes, the Dan dan noodles contain peanuts, so they are not suitable for a "
                                       "peanut allergy.")
        expect(answer.locator(".cite")).to_contain_text(["Menu"])
        _ask(page, "Do you deliver flowers?")
        expect(log.locator(".msg.assistant[data-id]")).to_have_count(2)
        unanswered = log.locator(".msg.assistant[data-id]").last
        expect(unanswered).to_contain_text("I'm sorry, I don't have that information.")
        expect(unanswered).to_contain_text(HANDOFF)
        expect(unanswered.locator(".cite")).to_have_count(0)
        _shot(page, "widget-handoff-answer.png")

    browser_page.run(ask_both)
    answers = list(Message.objects.for_business(tenant.business).filter(role="assistant").order_by("created_at"))
    assert [a.grounding for a in answers] == ["catalog", "none"]
    assert Conversation.objects.for_business(tenant.business).get().state == "handoff"


def test_widget_works_cross_origin_only_from_allowed_sites(live_api, browser_page, customer_site):
    tenant = _restaurant()
    customer_site.handler.html = (
        f'<!doctype html><html lang="en"><title>Our site</title><h1>Our own website</h1>'
        f'<script src="{live_api.url}/widget.js" data-key="{tenant.publishable_key}" '
        f'data-assistant="{tenant.assistant.pk}" async></script></html>').encode()
    allow = tenant.client().patch(f"/api/v1/assistants/{tenant.assistant.pk}",
                                  {"allowed_origins": [customer_site.origin]}, format="json")
    assert allow.status_code == 200

    def chat_from_the_listed_site(page):
        page.goto(customer_site.origin + "/")
        page.get_by_role("button", name="Chat with Mei").click()
        response = _ask(page, "Can I bring my dog?")
        assert response.headers["access-control-allow-origin"] == customer_site.origin
        answer = page.get_by_role("log").locator(".msg.assistant[data-id]")
        expect(answer).to_contain_text("terrace")
        # Thumbs under the answer: the customer presses one, then changes their mind.
        helpful = answer.get_by_role("button", name="Helpful", exact=True)
        not_helpful = answer.get_by_role("button", name="Not helpful", exact=True)
        expect(helpful).to_have_attribute("aria-pressed", "false")
        with page.expect_response(lambda r: r.url.endswith("/feedback") and r.request.method == "POST") as rated:
            helpful.click()
        assert rated.value.status == 200 and rated.value.headers["access-control-allow-origin"] == customer_site.origin
        expect(helpful).to_have_attribute("aria-pressed", "true")
        with page.expect_response(lambda r: r.url.endswith("/feedback") and r.request.method == "POST") as rated:
            not_helpful.click()
        assert rated.value.status == 200 and rated.value.json()["rating"] == "down"
        expect(not_helpful).to_have_attribute("aria-pressed", "true")
        expect(helpful).to_have_attribute("aria-pressed", "false")
        expect(answer.get_by_role("status")).to_have_text("Thanks for your feedback")
        _shot(page, "widget-feedback.png")
        # After a reload the history shows the rating the customer left.
        page.reload()
        page.get_by_role("button", name="Chat with Mei").click()
        expect(page.get_by_role("log").locator(".msg.assistant[data-id]").get_by_role(
            "button", name="Not helpful", exact=True)).to_have_attribute("aria-pressed", "true")

    browser_page.run(chat_from_the_listed_site)
    answer = Message.objects.for_business(tenant.business).get(role="assistant")
    assert answer.rating == "down" and answer.rated_at is not None
    # Once the site is no longer listed, a visitor's browser gets nothing: no bubble, a console warning.
    # (A returning visitor may keep the cached config for its max-age of a minute.)
    tenant.client().patch(f"/api/v1/assistants/{tenant.assistant.pk}",
                          {"allowed_origins": ["https://somewhere-else.example"]}, format="json")
    browser_page.new_page()

    def refused_after_unlisting(page):
        with page.expect_console_message(lambda message: "Frontdesk widget" in message.text) as warning:
            page.goto(customer_site.origin + "/")
        assert "allowed_origins" in warning.value.text
        expect(page.get_by_role("heading", name="Our own website")).to_be_visible()
        expect(page.get_by_role("button", name="Chat with Mei")).to_have_count(0)

    browser_page.run(refused_after_unlisting)


def test_widget_takes_its_look_and_language_from_the_assistant(live_api, browser_page, customer_site):
    """A Chinese assistant with a light accent, on the left, with a text launcher; then the tag's
    attributes restyle the widget on screen (what a live preview does)."""
    tenant = make_tenant("Golden Dragon")
    response = tenant.client().patch(f"/api/v1/assistants/{tenant.assistant.pk}", {
        "name": "Mei", "language": "zh", "widget_color": "#fde047", "widget_position": "left",
        "widget_launcher_text": "问问Mei"}, format="json")
    assert response.status_code == 200, response.content
    customer_site.handler.html = (
        f'<!doctype html><html lang="zh-Hans"><title>Our site</title><h1>Our own website</h1>'
        f'<script src="{live_api.url}/widget.js" data-key="{tenant.publishable_key}" '
        f'data-assistant="{tenant.assistant.pk}" async></script></html>').encode()

    def look(page):
        page.goto(customer_site.origin + "/")
        # The pill is named by its text; the accent is light, so the text on it is dark.
        launcher = page.get_by_role("button", name="问问Mei")
        expect(launcher).to_be_visible()
        expect(launcher).to_have_css("background-color", "rgb(253, 224, 71)")
        expect(launcher).to_have_css("color", "rgb(17, 24, 39)")
        box = launcher.bounding_box()
        assert abs(box["x"] - 20) < 1 and abs(box["height"] - 52) < 1, box
        launcher.click()
        expect(launcher).to_have_attribute("aria-expanded", "true")
        dialog = page.get_by_role("dialog", name="Mei")
        expect(dialog).to_be_visible()
        assert abs(dialog.bounding_box()["x"] - 20) < 1
        expect(page.get_by_label("您的消息")).to_be_focused()
        for name in ("发送", "联系人工客服", "关闭聊天"):
            expect(page.get_by_role("button", name=name)).to_be_visible()
        expect(page.get_by_role("log", name="对话")).to_be_visible()
        _shot(page, "widget-left-pill-zh.png")
        page.keyboard.press("Escape")
        page.evaluate("""() => {
            const tag = document.querySelector('script[data-assistant]');
            tag.setAttribute('data-position', 'right');
            tag.setAttribute('data-launcher-text', '');
            tag.setAttribute('data-color', '#0f766e');
        }""")
        bubble = page.get_by_role("button", name="与Mei聊天")
        expect(bubble).to_be_visible()
        expect(bubble).to_have_css("background-color", "rgb(15, 118, 110)")
        expect(bubble).to_have_css("color", "rgb(255, 255, 255)")
        box = bubble.bounding_box()
        assert abs(box["x"] + box["width"] - (1280 - 20)) < 1 and abs(box["width"] - 60) < 1, box
        bubble.click()
        expect(page.get_by_role("button", name="关闭与Mei的聊天")).to_have_attribute("aria-expanded", "true")

    browser_page.run(look)
    assert browser_page.errors == []


def test_customer_deletes_their_data_from_the_widget_menu(live_api, browser_page):
    from businesses.models import AuditEvent
    from tests.privacy_helpers import rows_containing

    tenant = _restaurant()
    question = "Is table 7 free for Ottoline Brackenbury-Szabo tonight?"

    def chat_then_delete(page):
        page.goto(f"{live_api.url}/demo/?assistant={tenant.assistant.pk}&key={tenant.publishable_key}")
        page.get_by_role("button", name="Chat with Mei").click()
        _ask(page, question)
        log = page.get_by_role("log")
        expect(log.locator(".msg.assistant[data-id]")).to_have_count(1)
        page.get_by_role("button", name="More options").click()
        page.get_by_role("button", name="Delete my data").click()
        confirm = page.get_by_role("alertdialog", name="Delete my data")
        expect(confirm).to_contain_text("cannot be undone")
        expect(confirm.get_by_role("button", name="Delete")).to_be_focused()
        # Cancel first: nothing is deleted.
        confirm.get_by_role("button", name="Cancel").click()
        expect(confirm).to_have_count(0)
        page.get_by_role("button", name="More options").click()
        page.get_by_role("button", name="Delete my data").click()
        _shot(page, "widget-delete-confirm.png")
        with page.expect_response(lambda r: r.request.method == "DELETE") as gone:
            page.get_by_role("alertdialog").get_by_role("button", name="Delete").click()
        assert gone.value.status == 200
        expect(log.locator(".msg.note")).to_have_text(
            "Your conversation and everything you wrote in it have been deleted.")
        expect(log.locator(".msg.customer")).to_have_count(0)
        return page.evaluate(f"localStorage.getItem('frontdesk:{tenant.assistant.pk}')")

    stored = browser_page.run(chat_then_delete)
    assert stored is None  # the widget forgot the conversation
    assert not Conversation.objects.for_business(tenant.business).exists()
    assert rows_containing(question) == {}
    assert AuditEvent.objects.for_business(tenant.business).get(action="conversation.erased").actor_kind == "customer"


DOG_REPLY = ("Yes, dogs are welcome on our terrace [1]. They are not allowed inside the dining room [1]. "
             "We keep water bowls outside [1]. Please keep your dog on a lead [1]. See you soon!")


def test_a_customer_waiting_for_a_turn_is_told_so_in_the_widget(live_api, browser_page, settings):
    """The model servers are full (capacity 1, held by another business's answer): the widget
    says at once that the answer is on its way, then shows the answer when its turn comes."""
    from tests.inference.misbehaving_server import misbehaving_server

    busy, tenant = make_tenant("Busy Bistro"), _restaurant()
    add_source(busy, kind="faq", title="FAQ", pairs=kb.RESTAURANT_FAQ)
    with misbehaving_server(reply=DOG_REPLY, tokens_per_second=10) as srv:
        settings.INFERENCE_BASE_URL = [srv.base_url]
        settings.INFERENCE_MODEL = "test-model"
        settings.INFERENCE_READ_TIMEOUT = 10.0
        settings.INFERENCE_TOTAL_TIMEOUT = 60.0
        settings.INFERENCE_REPLICA_CAPACITY = 1
        api = busy.client()
        conversation = api.post(f"/api/v1/assistants/{busy.assistant.pk}/conversations", {}, format="json").json()
        holder = threading.Thread(target=lambda: httpx.post(
            f"{live_api.url}/api/v1/conversations/{conversation['id']}/messages",
            json={"content": "Can I bring my dog?"}, headers={"Authorization": f"Bearer {busy.secret_key}"},
            timeout=60))
        holder.start()
        deadline = time.monotonic() + 20
        while srv.in_flight < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert srv.in_flight == 1

        def ask_while_full(page):
            page.goto(f"{live_api.url}/demo/?assistant={tenant.assistant.pk}&key={tenant.publishable_key}")
            page.get_by_role("button", name="Chat with Mei").click()
            box = page.get_by_label("Your message")
            box.fill("Can I bring my dog?")
            box.press("Enter")
            answer = page.get_by_role("log").locator(".msg.assistant").last
            expect(answer).to_have_text("Many people are asking right now; your answer is on its way")
            expect(answer).to_have_attribute("aria-busy", "true")
            _shot(page, "widget-queued.png")
            expect(answer).to_contain_text("dogs are welcome on our terrace", timeout=30_000)
            expect(answer).not_to_have_attribute("aria-busy", "true", timeout=30_000)
            expect(answer.locator(".cite")).to_have_count(1)  # the canned reply's [1], whichever source it is

        browser_page.run(ask_while_full)
        holder.join()
    saved = Message.objects.for_business(tenant.business).get(role="assistant")
    assert saved.status == "complete" and "terrace" in saved.content
