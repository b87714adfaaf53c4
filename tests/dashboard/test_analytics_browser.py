"""The analytics page in Chromium (tests/browser.py): Chart.js draws the three charts from the
page's data, the range form works by keyboard, nothing scrolls sideways at 390 px, and the
Chinese page is in Chinese. Writes docs/screenshots/analytics-*.png."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from assistants.analytics.services import analytics_rollup, local_today
from assistants.models import UnansweredQuestion, UnansweredTopic
from tests.assistants.test_analytics import answer, conversation, message
from tests.browser import DESKTOP, PHONE, BrowserThread, browser_thread
from tests.conftest import ROOT, make_tenant
from tests.dashboard.test_browser import _UNLABELLED, _sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SCREENSHOTS = ROOT / "docs" / "screenshots"
QUESTIONS = ("Do you have wifi?", "Can I bring my own wine?", "Do you sell gift cards?")


@pytest.fixture(autouse=True)
def _no_shared_worker(shared_worker) -> None:
    shared_worker.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserThread]:
    yield from browser_thread()


def _month_of_traffic(tenant) -> None:
    """30 days of a restaurant's conversations with lunch and dinner peaks, then the rollup."""
    rng = random.Random(19)
    tz = ZoneInfo(tenant.business.timezone)
    today = local_today(tenant.business.timezone)
    topics = [UnansweredTopic.objects.unscoped().create(
        business=tenant.business, assistant=tenant.assistant, centroid=[1.0, 0.0], embedding_model="m",
        embedding_dim=2, count=0, first_seen=datetime.now(tz), last_seen=datetime.now(tz)) for _ in QUESTIONS]
    for back in range(29, -1, -1):
        day = today - timedelta(days=back)
        for _ in range(rng.randint(3, 9)):
            hour = rng.choice((11, 12, 12, 13, 18, 19, 19, 20, 21, 9, 15))
            start = datetime(day.year, day.month, day.day, hour, rng.randint(0, 59), tzinfo=tz)
            if start > datetime.now(tz):
                continue
            grounding = rng.choice(("catalog", "catalog", "hours", "passages", "passages", "none"))
            channel = rng.choice(("widget", "widget", "whatsapp", "api"))
            conv = conversation(tenant, channel, start,
                                handed_off_at=start + timedelta(seconds=2) if grounding == "none" else None)
            asked = message(conv, "customer", start,
                            content=rng.choice(QUESTIONS) if grounding == "none" else "What is on the menu?")
            answer(conv, start + timedelta(seconds=1), grounding, rng.randint(300, 2500),
                   **({"rating": rng.choice(("up", "up", "up", "down")), "rated_at": start + timedelta(minutes=1)}
                      if rng.random() < 0.4 else {}))
            if grounding == "none":
                message(conv, "staff", start + timedelta(minutes=rng.randint(2, 40)))
                topic = topics[QUESTIONS.index(asked.content)]
                UnansweredQuestion.objects.unscoped().create(
                    business=tenant.business, assistant=tenant.assistant, conversation=conv, message=asked,
                    topic=topic, reason="no_answer", asked_at=start)
    analytics_rollup(business_id=tenant.business.pk, start=today - timedelta(days=29), end=today)


def test_analytics_page_draws_its_charts_in_english_and_chinese(live_api, browser):
    tenant = make_tenant("Golden Dragon")
    _month_of_traffic(tenant)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.new_page("owner")

    def owner_reads_analytics(page):
        _sign_in(page, live_api.url, tenant.user.email)
        page.get_by_role("navigation").first.get_by_role("link", name="Analytics", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Analytics")
        expect(page.locator("html")).to_have_attribute("data-charts-drawn", "3")
        for name in ("Conversations and customer messages per period", "Customer messages by hour of the day"):
            canvas = page.get_by_role("img", name=name)
            expect(canvas).to_be_visible()
            assert canvas.bounding_box()["height"] > 100
        expect(page.get_by_role("heading", name="Top unanswered questions")).to_be_visible()
        expect(page.locator("ol.topics li")).to_have_count(3)
        assert page.evaluate(_UNLABELLED) == []
        for viewport in (DESKTOP, PHONE):
            page.set_viewport_size(viewport)
            page.screenshot(path=str(SCREENSHOTS / f"analytics-{viewport['width']}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
        page.set_viewport_size(DESKTOP)
        # The range by keyboard: two weeks, by week.
        today = local_today(tenant.business.timezone)
        page.get_by_label("From", exact=True).fill(str(today - timedelta(days=13)))
        page.get_by_label("Points", exact=True).select_option("week")
        page.get_by_role("button", name="Show").press("Enter")
        page.wait_for_url("**interval=week**")
        expect(page.locator("html")).to_have_attribute("data-charts-drawn", "3")
        weeks = page.evaluate("JSON.parse(document.getElementById('analytics-data').textContent).report.series.length")
        assert weeks in (2, 3)

    browser.run(owner_reads_analytics, "owner")
    browser.new_page("owner-zh", locale="zh-CN")

    def chinese(page):
        _sign_in(page, live_api.url, tenant.user.email)
        page.goto(f"{live_api.url}/app/analytics/")
        expect(page.get_by_role("heading", level=1)).to_contain_text("数据分析")
        expect(page.locator("html")).to_have_attribute("data-charts-drawn", "3")
        expect(page.get_by_role("img", name="一天中每小时的顾客消息")).to_be_visible()
        # A date input takes ISO dates whatever the language (the page's formats are not its value).
        expect(page.get_by_label("结束日期", exact=True)).to_have_value(str(local_today(tenant.business.timezone)))
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(SCREENSHOTS / "analytics-zh-390.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1

    browser.run(chinese, "owner-zh")
    assert browser.all_errors() == {}
    browser.close_pages()
