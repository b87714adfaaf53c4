"""Analytics (assistants/analytics/, docs/analytics.md): the daily rollup computed from hand-made
conversations with known times, the report read from it over GET /api/v1/analytics."""

from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from assistants.analytics import buckets
from assistants.analytics.services import analytics_rollup, analytics_rollup_recent, local_today
from assistants.analytics.tasks import analytics_rollup_batch_task
from assistants.models import AnalyticsDay, Conversation, Message, UnansweredQuestion, UnansweredTopic
from tests.conftest import make_tenant

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")  # UTC+8 all year: a local day is not the UTC day
DAY = date(2026, 3, 10)  # a Tuesday
COUNTED = ("conversations", "customer_messages", "answers_catalog", "answers_hours", "answers_passages",
           "answers_none", "handoffs", "thumbs_up", "thumbs_down", "staff_replies", "first_answer_buckets",
           "staff_reply_buckets", "hours")


def at(day: date, hh: int, mm: int = 0, ss: float = 0) -> datetime:
    """A moment in Shanghai."""
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=SHANGHAI) + timedelta(seconds=ss)


def conversation(tenant, channel: str, started: datetime, *, handed_off_at: datetime | None = None) -> Conversation:
    conv = Conversation.objects.unscoped().create(business=tenant.business, assistant=tenant.assistant,
                                                  channel=channel)
    Conversation.objects.unscoped().filter(pk=conv.pk).update(created_at=started, handed_off_at=handed_off_at)
    return conv


def message(conv: Conversation, role: str, when: datetime, **fields) -> Message:
    msg = Message.objects.unscoped().create(business_id=conv.business_id, conversation=conv, role=role,
                                            content=fields.pop("content", f"{role} at {when:%H:%M}"), **fields)
    Message.objects.unscoped().filter(pk=msg.pk).update(created_at=when)
    return msg


def answer(conv, when, grounding, latency_ms, **fields) -> Message:
    return message(conv, "assistant", when, grounding=grounding, latency_ms=latency_ms, **fields)


def shanghai_tenant(name="Golden Dragon"):
    tenant = make_tenant(name)
    tenant.business.timezone = "Asia/Shanghai"
    tenant.business.save(update_fields=["timezone"])
    return tenant


@pytest.fixture
def day_of_traffic():
    """One Shanghai day on three channels, plus a playground conversation and another business."""
    tenant = shanghai_tenant()
    # Widget: a catalog answer rated up, an answer the knowledge could not give (handoff), two
    # staff replies after the customer waited, and a second staff message in a row.
    widget = conversation(tenant, "widget", at(DAY, 9), handed_off_at=at(DAY, 9, 10, 2))
    message(widget, "customer", at(DAY, 9))
    answer(widget, at(DAY, 9, 0, 1), "catalog", 1000, rating="up", rated_at=at(DAY, 9, 5))  # ready at +2 s
    message(widget, "customer", at(DAY, 9, 10))
    answer(widget, at(DAY, 9, 10, 1), "none", 500)
    message(widget, "system", at(DAY, 9, 10, 3))  # the handoff notice: not a reply
    message(widget, "staff", at(DAY, 9, 15, 2))  # 300 s after the handoff
    message(widget, "customer", at(DAY, 9, 20))
    message(widget, "customer", at(DAY, 9, 21))
    message(widget, "staff", at(DAY, 9, 30))  # 600 s after the first unanswered message
    message(widget, "staff", at(DAY, 9, 31))  # follows a staff message: no waiting
    # WhatsApp at 00:30 Shanghai, which is the day before in UTC; rated down the next morning.
    whatsapp = conversation(tenant, "whatsapp", at(DAY, 0, 30))
    message(whatsapp, "customer", at(DAY, 0, 30))
    answer(whatsapp, at(DAY, 0, 30), "hours", 3000, rating="down", rated_at=at(DAY + timedelta(days=1), 8))
    message(whatsapp, "customer", at(DAY, 0, 40))
    answer(whatsapp, at(DAY, 0, 40, 1), "passages", 800)
    # API: the model server failed; the failed answer is no answer.
    api = conversation(tenant, "api", at(DAY, 10))
    message(api, "customer", at(DAY, 10))
    answer(api, at(DAY, 10, 0, 1), "", None, status="failed")
    # The owner trying questions: never counted.
    playground = conversation(tenant, "playground", at(DAY, 11))
    message(playground, "customer", at(DAY, 11))
    answer(playground, at(DAY, 11, 0, 1), "passages", 100)
    # Another business, same day.
    other = shanghai_tenant("Rival Noodles")
    rival = conversation(other, "widget", at(DAY, 9))
    message(rival, "customer", at(DAY, 9))
    answer(rival, at(DAY, 9, 0, 1), "catalog", 100)
    return tenant, other


def rows(tenant) -> dict[tuple, dict]:
    return {(row["day"], row["channel"]): row for row in AnalyticsDay.objects.for_business(tenant.business)
            .values("day", "channel", *COUNTED)}


def only(n_at: dict[int, int], size: int) -> list[int]:
    counts = [0] * size
    for index, n in n_at.items():
        counts[index] += n
    return counts


def test_rollup_counts_each_channel_of_a_day_in_the_business_time_zone(day_of_traffic):
    tenant, _ = day_of_traffic
    analytics_rollup(business_id=tenant.business.pk, start=DAY, end=DAY + timedelta(days=1))
    got = rows(tenant)
    assert set(got) == {(DAY, "widget"), (DAY, "whatsapp"), (DAY, "api"), (DAY + timedelta(days=1), "whatsapp")}

    widget = got[(DAY, "widget")]
    assert {k: widget[k] for k in COUNTED[:10]} == {
        "conversations": 1, "customer_messages": 4, "answers_catalog": 1, "answers_hours": 0, "answers_passages": 0,
        "answers_none": 1, "handoffs": 1, "thumbs_up": 1, "thumbs_down": 0, "staff_replies": 3}
    assert widget["first_answer_buckets"] == only({buckets.bucket_of(2.0): 1}, buckets.COUNT)
    assert widget["staff_reply_buckets"] == only({buckets.bucket_of(300): 1, buckets.bucket_of(600): 1},
                                                 buckets.COUNT)
    assert widget["hours"] == only({9: 4}, 24)

    whatsapp = got[(DAY, "whatsapp")]
    assert (whatsapp["conversations"], whatsapp["customer_messages"], whatsapp["answers_hours"],
            whatsapp["answers_passages"], whatsapp["thumbs_down"]) == (1, 2, 1, 1, 0)
    assert whatsapp["hours"] == only({0: 2}, 24)  # 00:30 and 00:40 Shanghai, not 16:xx UTC
    assert whatsapp["first_answer_buckets"] == only({buckets.bucket_of(3.0): 1}, buckets.COUNT)
    # The rating counts on the day it was given.
    assert got[(DAY + timedelta(days=1), "whatsapp")]["thumbs_down"] == 1
    assert got[(DAY + timedelta(days=1), "whatsapp")]["conversations"] == 0

    api = got[(DAY, "api")]
    assert (api["conversations"], api["customer_messages"], sum(api["first_answer_buckets"])) == (1, 1, 0)
    assert api["answers_catalog"] + api["answers_hours"] + api["answers_passages"] + api["answers_none"] == 0


def test_rollup_twice_gives_the_same_rows_and_drops_days_that_lost_their_messages(day_of_traffic):
    tenant, other = day_of_traffic
    analytics_rollup(business_id=tenant.business.pk, start=DAY, end=DAY + timedelta(days=1))
    first = rows(tenant)
    analytics_rollup(business_id=tenant.business.pk, start=DAY, end=DAY + timedelta(days=1))
    assert rows(tenant) == first
    assert AnalyticsDay.objects.for_business(tenant.business).count() == 4
    assert not AnalyticsDay.objects.for_business(other.business).exists()  # its own run, its own rows

    Conversation.objects.for_business(tenant.business).filter(channel="api").delete()  # a customer erased
    analytics_rollup(business_id=tenant.business.pk, start=DAY)
    assert (DAY, "api") not in rows(tenant)
    assert rows(tenant)[(DAY, "widget")] == first[(DAY, "widget")]


def test_batch_task_rolls_up_yesterday_and_today_of_each_business():
    tenant = shanghai_tenant()
    other = shanghai_tenant("Rival Noodles")
    today = local_today("Asia/Shanghai")
    for t in (tenant, other):
        conv = conversation(t, "widget", at(today, 0, 5))
        message(conv, "customer", at(today, 0, 5))
        older = conversation(t, "widget", at(today - timedelta(days=3), 12))
        message(older, "customer", at(today - timedelta(days=3), 12))
    analytics_rollup_batch_task.apply(args=[[str(tenant.business.pk), str(other.business.pk)]]).get()
    for t in (tenant, other):
        assert {day: row["conversations"] for (day, _), row in rows(t).items()} == {today: 1}  # not 3 days ago
    assert settings.CELERY_BEAT_SCHEDULE["analytics-rollup"]["task"] == "assistants.tasks.analytics_rollup_task"


def report(tenant, **params):
    return tenant.client().get("/api/v1/analytics", {"assistant": str(tenant.assistant.pk), **params})


def test_report_adds_up_the_days_of_the_range(day_of_traffic):
    tenant, _ = day_of_traffic
    analytics_rollup(business_id=tenant.business.pk, start=DAY - timedelta(days=1), end=DAY + timedelta(days=1))
    response = report(tenant, **{"from": str(DAY), "to": str(DAY + timedelta(days=1))})
    assert response.status_code == 200, response.content
    body = response.json()
    totals = body["totals"]
    assert (totals["conversations"], totals["customer_messages"], totals["handoffs"]) == (3, 7, 1)
    assert totals["answers"] == {"catalog": 1, "hours": 1, "passages": 1, "none": 1}
    assert totals["handoff_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert (totals["thumbs_up"], totals["thumbs_down"], totals["thumbs_up_rate"]) == (1, 1, 0.5)
    # Time to first answer: 2 s (widget) and 3 s (WhatsApp); none for the failed API answer.
    assert 2.0 * 0.8 <= totals["median_first_answer_seconds"] <= 3.0 * 1.2
    # Staff: 300 s and 600 s.
    assert 300 * 0.8 <= totals["median_staff_reply_seconds"] <= 600 * 1.2
    assert [p["start"] for p in body["series"]] == [str(DAY), str(DAY + timedelta(days=1))]
    assert body["series"][0]["conversations"] == 3 and body["series"][1]["thumbs_down"] == 1
    assert body["series"][1]["median_first_answer_seconds"] is None
    assert {c["channel"]: c["conversations"] for c in body["channels"]} == {"widget": 1, "whatsapp": 1, "api": 1}
    assert body["hours"][9] == 4 and body["hours"][0] == 2 and body["hours"][10] == 1 and sum(body["hours"]) == 7
    assert body["busiest_hours"][0] == {"hour": 9, "customer_messages": 4}
    assert body["timezone"] == "Asia/Shanghai" and body["fresh_as_of"]


def test_week_interval_groups_days_into_iso_weeks(day_of_traffic):
    tenant, _ = day_of_traffic
    analytics_rollup(business_id=tenant.business.pk, start=DAY, end=DAY + timedelta(days=1))
    body = report(tenant, **{"from": "2026-03-01", "to": "2026-03-20", "interval": "week"}).json()
    weeks = {p["start"]: p for p in body["series"]}
    # 1 March 2026 is a Sunday: its week starts on Monday 23 February.
    assert list(weeks) == ["2026-02-23", "2026-03-02", "2026-03-09", "2026-03-16"]
    assert weeks["2026-03-09"]["conversations"] == 3 and weeks["2026-03-09"]["thumbs_down"] == 1
    assert weeks["2026-03-02"]["conversations"] == 0 and weeks["2026-03-02"]["handoff_rate"] is None
    assert body["totals"]["conversations"] == 3


def test_top_topics_are_the_unanswered_topics_asked_most_in_the_range(day_of_traffic):
    tenant, _ = day_of_traffic
    questions = Message.objects.for_business(tenant.business).filter(role="customer").order_by("created_at")
    wifi, parking = (UnansweredTopic.objects.unscoped().create(
        business=tenant.business, assistant=tenant.assistant, centroid=[1.0, 0.0], embedding_model="m",
        embedding_dim=2, count=n, first_seen=at(DAY, 9), last_seen=at(DAY, 9)) for n in (1, 2))
    for question, topic, asked in ((questions[0], wifi, at(DAY, 9)), (questions[1], parking, at(DAY, 9)),
                                   (questions[2], parking, at(DAY, 10)),
                                   (questions[3], wifi, at(DAY - timedelta(days=5), 9))):  # before the range
        UnansweredQuestion.objects.unscoped().create(business=tenant.business, assistant=tenant.assistant,
                                          conversation=question.conversation, message=question, topic=topic,
                                          reason="no_answer", asked_at=asked)
    body = report(tenant, **{"from": str(DAY), "to": str(DAY)}).json()
    assert [(t["id"], t["count"]) for t in body["top_topics"]] == [(str(parking.pk), 2), (str(wifi.pk), 1)]
    assert body["top_topics"][0]["question"] == questions[2].content  # the newest wording


def test_other_business_gets_404_for_the_assistant_and_sees_none_of_its_numbers(day_of_traffic):
    tenant, other = day_of_traffic
    analytics_rollup(business_id=tenant.business.pk, start=DAY)
    analytics_rollup(business_id=other.business.pk, start=DAY)
    response = other.client().get("/api/v1/analytics", {"assistant": str(tenant.assistant.pk), "from": str(DAY),
                                                        "to": str(DAY)})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    # Without an assistant: its whole business, which is one conversation.
    mine = other.client().get("/api/v1/analytics", {"from": str(DAY), "to": str(DAY)}).json()
    assert mine["totals"]["conversations"] == 1 and mine["assistant_id"] is None


@pytest.mark.parametrize(("params", "field"), [
    ({"from": "2026-03-10", "to": "2026-03-09"}, "from"),
    ({"from": "2025-01-01", "to": "2026-03-09"}, "to"),
    ({"interval": "month"}, "interval"),
    ({"from": "10/03/2026"}, "from"),
    ({"assistant": "not-a-uuid"}, "assistant"),
])
def test_bad_parameters_are_a_400_that_names_the_field(tenant, params, field):
    response = tenant.client().get("/api/v1/analytics", params)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]["fields"]


def test_a_full_year_is_allowed_and_defaults_are_the_last_30_days(tenant):
    assert report(tenant, **{"from": "2025-03-11", "to": "2026-03-11"}).status_code == 200  # 366 days
    body = report(tenant).json()
    assert len(body["series"]) == 30 and body["to"] == str(local_today(tenant.business.timezone))


def test_publishable_key_cannot_read_analytics(tenant):
    response = tenant.client(tenant.publishable_key).get("/api/v1/analytics")
    assert response.status_code in (401, 403)


def test_handoffs_keep_the_first_handoff_time(tenant):
    api = tenant.client()
    conv_id = api.post(f"/api/v1/assistants/{tenant.assistant.pk}/conversations", {}, format="json").json()["id"]
    assert api.post(f"/api/v1/conversations/{conv_id}/handoff").status_code == 200
    first = Conversation.objects.for_business(tenant.business).get(pk=conv_id).handed_off_at
    assert first is not None
    assert api.post(f"/api/v1/conversations/{conv_id}/release").status_code == 200
    assert api.post(f"/api/v1/conversations/{conv_id}/handoff").status_code == 200
    assert Conversation.objects.for_business(tenant.business).get(pk=conv_id).handed_off_at == first
    analytics_rollup_recent(business_id=tenant.business.pk)
    assert report(tenant, interval="day").json()["totals"]["handoffs"] == 1


@pytest.mark.django_db(transaction=True)
def test_a_real_conversation_shows_up_after_the_rollup():
    from tests.assistants.conftest import add_source

    tenant = make_tenant("Golden Dragon")
    add_source(tenant, kind="faq", title="FAQ", pairs=[
        {"question": "Can I bring my dog?", "answer": "Dogs are welcome on our terrace, but not inside."}])
    api = tenant.client()
    conv_id = api.post(f"/api/v1/assistants/{tenant.assistant.pk}/conversations", {}, format="json").json()["id"]
    sent = api.post(f"/api/v1/conversations/{conv_id}/messages", {"content": "Can I bring my dog?"}, format="json")
    assert sent.status_code == 201, sent.content
    grounding = sent.json()["answer"]["grounding"]
    assert report(tenant).json()["totals"]["conversations"] == 0  # nothing rolled up yet
    analytics_rollup_recent(business_id=tenant.business.pk)
    totals = report(tenant).json()["totals"]
    assert (totals["conversations"], totals["customer_messages"]) == (1, 1)
    assert totals["answers"][grounding] == 1
    assert totals["median_first_answer_seconds"] is not None


def test_median_of_buckets_is_within_19_percent_of_the_true_median():
    rng = random.Random(7)
    for _ in range(50):
        samples = sorted(math.exp(rng.uniform(math.log(0.6), math.log(200_000))) for _ in range(rng.randint(1, 400)))
        counts = buckets.zeros()
        for s in samples:
            counts[buckets.bucket_of(s)] += 1
        middle = samples[(len(samples) - 1) // 2]
        # The bucket of the lower middle sample, interpolated: within one bucket's √2 of it.
        assert middle / math.sqrt(2) <= buckets.median(counts) <= samples[len(samples) // 2] * math.sqrt(2)
    assert buckets.median(buckets.zeros()) is None


def test_management_command_backfills_the_last_days(day_of_traffic):
    from io import StringIO

    from django.core.management import call_command

    tenant, other = day_of_traffic
    days = (local_today("Asia/Shanghai") - DAY).days + 2
    out = StringIO()
    call_command("analytics_rollup", "--days", str(days), "--business", str(tenant.business.pk), stdout=out)
    assert rows(tenant)[(DAY, "widget")]["conversations"] == 1
    assert not AnalyticsDay.objects.for_business(other.business).exists()
    assert "for 1 businesses" in out.getvalue()
