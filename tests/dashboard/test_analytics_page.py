"""The analytics page /app/analytics/ (dashboard/views/analytics.py): the current assistant's
report from the rollup, a range form, and the data its charts draw."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from assistants.analytics.services import analytics_rollup, local_today
from dashboard.access import SESSION_ASSISTANT
from tests.assistants.test_analytics import answer, conversation, message
from tests.dashboard.conftest import member, signed_in

pytestmark = pytest.mark.django_db


def _traffic(tenant, day):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(tenant.business.timezone)
    for n, grounding in enumerate(("catalog", "passages", "none")):
        start = datetime(day.year, day.month, day.day, 12, n, tzinfo=tz)
        conv = conversation(tenant, "widget", start, handed_off_at=start if grounding == "none" else None)
        message(conv, "customer", start)
        answer(conv, start + timedelta(seconds=1), grounding, 1000)
    analytics_rollup(business_id=tenant.business.pk, start=day)


def _chart_data(response) -> dict:
    match = re.search(rb'<script id="analytics-data" type="application/json">(.*?)</script>', response.content)
    return json.loads(match.group(1))


def test_owner_sees_the_assistants_numbers_and_the_charts_data(tenant, owner):
    today = local_today(tenant.business.timezone)
    _traffic(tenant, today)
    response = owner.get("/app/analytics/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Analytics" in text and "33.3 %" in text  # 1 handoff in 3 conversations
    data = _chart_data(response)
    assert data["report"]["totals"]["conversations"] == 3
    assert len(data["report"]["series"]) == 30 and data["report"]["series"][-1]["start"] == str(today)
    assert data["labels"]["none"] == "Handed to a person"
    assert 'src="/static/vendor/chart.js/chart.umd.min.js"' in text


def test_range_form_picks_days_and_weeks(tenant, owner):
    today = local_today(tenant.business.timezone)
    _traffic(tenant, today - timedelta(days=40))
    start, end = today - timedelta(days=60), today
    data = _chart_data(owner.get("/app/analytics/", {"start": str(start), "end": str(end), "interval": "week"}))
    assert data["report"]["interval"] == "week" and data["report"]["totals"]["conversations"] == 3
    assert all(p["start"] <= str(end) for p in data["report"]["series"])
    assert _chart_data(owner.get("/app/analytics/"))["report"]["totals"]["conversations"] == 0  # last 30 days


def test_a_bad_range_says_why_and_shows_the_last_30_days(tenant, owner):
    response = owner.get("/app/analytics/", {"start": "2026-03-10", "end": "2026-03-01"})
    assert response.status_code == 200
    assert "The first day must be on or before the last day." in response.content.decode()
    assert len(_chart_data(response)["report"]["series"]) == 30
    response = owner.get("/app/analytics/", {"start": "2020-01-01", "end": "2026-03-01"})
    assert "A report covers at most 366 days." in response.content.decode()


def test_staff_may_not_open_analytics(tenant):
    response = signed_in(member(tenant, "staff")).get("/app/analytics/")
    assert response.status_code == 403


def test_other_business_never_sees_the_first_ones_numbers(tenant, rival):
    _traffic(tenant, local_today(tenant.business.timezone))
    client = signed_in(rival.user)
    session = client.session
    session[SESSION_ASSISTANT] = str(tenant.assistant.pk)  # another business's assistant, chosen by hand
    session.save()
    response = client.get("/app/analytics/")
    assert response.status_code == 200
    data = _chart_data(response)
    assert data["report"]["assistant_id"] == str(rival.assistant.pk)
    assert data["report"]["totals"]["conversations"] == 0


def test_page_is_in_chinese_for_a_chinese_browser(tenant, owner):
    response = owner.get("/app/analytics/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    text = response.content.decode()
    assert "数据分析" in text and "转交人工" in text
    assert _chart_data(response)["labels"]["conversations"] == "对话"
