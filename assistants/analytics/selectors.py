"""The analytics report, read from the daily rollup (``AnalyticsDay``): one aggregate query over
one index range (business, assistant, day), plus the top unanswered topics of the range."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, Max

from assistants.analytics import buckets
from assistants.models import AnalyticsDay, Assistant, UnansweredQuestion, UnansweredTopic
from assistants.unanswered.selectors import topic_examples_attach
from businesses.models import Business

INTERVALS = ("day", "week")
TOP_TOPICS = 5
BUSIEST_HOURS = 3

_COUNTERS = ("conversations", "customer_messages", "answers_catalog", "answers_hours", "answers_passages",
             "answers_none", "handoffs", "thumbs_up", "thumbs_down", "staff_replies")
_SUMS = ", ".join(f"sum({name})::bigint" for name in _COUNTERS)

def _array_sum(column: str, size: int) -> str:
    """The element-wise sum of an int[] column, as one sum() per element: plain aggregates in the
    same pass as the counters (an unnest would make 41 rows of every row, and then group them)."""
    return "ARRAY[" + ", ".join(f"sum({column}[{i}])" for i in range(1, size + 1)) + "]::bigint[]"


# One pass over one index range: the counters and the element-wise sums of the bucket and hour
# arrays per period, per channel and in all (GROUPING SETS).
_REPORT_SQL = f"""
SELECT GROUPING(period), GROUPING(channel), period, channel, max(updated_at), {_SUMS},
       {_array_sum("first_answer_buckets", buckets.COUNT)}, {_array_sum("staff_reply_buckets", buckets.COUNT)},
       {_array_sum("hours", 24)}
FROM (
    SELECT CASE WHEN %(week)s THEN date_trunc('week', day::timestamp)::date ELSE day END AS period, *
    FROM {AnalyticsDay._meta.db_table}
    WHERE business_id = %(business)s AND {{assistant}} AND day BETWEEN %(start)s AND %(end)s
) d
GROUP BY GROUPING SETS ((period), (channel), ())
"""  # noqa: S608 - the table name is ours; every value is bound


def _empty() -> dict[str, Any]:
    return {"counts": dict.fromkeys(_COUNTERS, 0), "first_answer": buckets.zeros(), "staff_reply": buckets.zeros(),
            "hours": buckets.hour_zeros()}


def _figures(acc: dict[str, Any]) -> dict[str, Any]:
    c = acc["counts"]
    rated = c["thumbs_up"] + c["thumbs_down"]
    return {
        "conversations": c["conversations"],
        "customer_messages": c["customer_messages"],
        "answers": {"catalog": c["answers_catalog"], "hours": c["answers_hours"],
                    "passages": c["answers_passages"], "none": c["answers_none"]},
        "handoffs": c["handoffs"],
        "handoff_rate": round(c["handoffs"] / c["conversations"], 4) if c["conversations"] else None,
        "thumbs_up": c["thumbs_up"],
        "thumbs_down": c["thumbs_down"],
        "thumbs_up_rate": round(c["thumbs_up"] / rated, 4) if rated else None,
        "staff_replies": c["staff_replies"],
        "median_first_answer_seconds": buckets.median(acc["first_answer"]),
        "median_staff_reply_seconds": buckets.median(acc["staff_reply"]),
    }


def periods(*, start: date, end: date, interval: str) -> list[date]:
    """Every period of the range, empty ones included: days, or the Mondays of its ISO weeks."""
    if interval == "week":
        first = start - timedelta(days=start.weekday())
        return [first + timedelta(weeks=n) for n in range((end - first).days // 7 + 1)]
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def analytics_report(*, business: Business, assistant: Assistant | None, start: date, end: date,
                     interval: str = "day") -> dict[str, Any]:
    """The report of ``start`` to ``end`` (dates in the business's time zone, inclusive) for one
    assistant, or every assistant of the business when ``assistant`` is None."""
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}")
    params = {"business": str(business.pk), "start": start, "end": end, "week": interval == "week"}
    where_assistant = "TRUE"
    if assistant is not None:
        where_assistant, params["assistant"] = "assistant_id = %(assistant)s", str(assistant.pk)
    by_period: dict[date, dict[str, Any]] = {p: _empty() for p in periods(start=start, end=end, interval=interval)}
    by_channel: dict[str, dict[str, Any]] = {}
    total = _empty()
    fresh_as_of = None
    with connection.cursor() as cursor:
        cursor.execute(_REPORT_SQL.format(assistant=where_assistant), params)
        for all_periods, all_channels, period, channel, updated, *values in cursor.fetchall():
            if all_periods and all_channels:
                target, fresh_as_of = total, updated
            elif all_periods:
                target = by_channel[channel] = _empty()
            else:
                target = by_period[period] = _empty()
            # The () set answers one row of NULL sums even when no day matched.
            target["counts"] = {name: v or 0 for name, v in zip(_COUNTERS, values, strict=False)}
            first_answer, staff_reply, hours = values[len(_COUNTERS):]
            if updated is not None:
                target["first_answer"], target["staff_reply"], target["hours"] = first_answer, staff_reply, hours
    hours = total["hours"]
    busiest = sorted((h for h in range(24) if hours[h]), key=lambda h: (-hours[h], h))[:BUSIEST_HOURS]
    return {
        "assistant_id": str(assistant.pk) if assistant is not None else None,
        "from": start, "to": end, "interval": interval, "timezone": business.timezone,
        "fresh_as_of": fresh_as_of,
        "totals": _figures(total),
        "series": [{"start": p, **_figures(acc)} for p, acc in sorted(by_period.items())],
        "channels": [{"channel": channel, **_figures(acc)}
                     for channel, acc in sorted(by_channel.items(), key=lambda kv: -kv[1]["counts"]["conversations"])],
        "hours": hours,
        "busiest_hours": [{"hour": h, "customer_messages": hours[h]} for h in busiest],
        "top_topics": top_topics(business=business, assistant=assistant, start=start, end=end),
    }


def top_topics(*, business: Business, assistant: Assistant | None, start: date, end: date,
               limit: int = TOP_TOPICS) -> list[dict[str, Any]]:
    """The unanswered topics asked most in the range (assistants/unanswered/): how often, with
    the newest wording of the question."""
    tz = ZoneInfo(business.timezone)
    lo = datetime.combine(start, time.min, tzinfo=tz)
    hi = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz)
    questions = UnansweredQuestion.objects.for_business(business).filter(
        asked_at__gte=lo, asked_at__lt=hi, topic__isnull=False)
    if assistant is not None:
        questions = questions.filter(assistant=assistant)
    rows = list(questions.values("topic_id").annotate(n=Count("id"), last=Max("asked_at"))
                .order_by("-n", "-last", "topic_id")[:limit])
    topics = {t.pk: t for t in UnansweredTopic.objects.for_business(business).filter(
        pk__in=[row["topic_id"] for row in rows])}
    topic_examples_attach(list(topics.values()), limit=1)
    return [{"id": str(row["topic_id"]), "question": (topics[row["topic_id"]].examples or [None])[0],
             "status": topics[row["topic_id"]].status, "count": row["n"]}
            for row in rows if row["topic_id"] in topics]
