"""Analytics: the report of one assistant over a year, read from the daily rollup.

    .venv/bin/python bench/analytics.py [--quick] [--runs 200]

Data, in its own database (``frontdesk_bench_analytics`` on the embedded server, dropped at
the end unless ``--keep``): 1,000 businesses and a year of their traffic, about 1 M messages'
worth. 900 of them (90 with ``--quick``) get rollup rows made directly (two channels a day,
counts of about 1,000 messages a business a year); 99 get raw conversations and messages
(about 1,000 messages each) that the rollup reads; the measured business has a busy year of raw
messages (about 40,000 on three channels) rolled up by ``analytics_rollup``, as a backfill
would.

Timed, ``--runs`` times each after a warm-up: the selector ``analytics_report`` for a year by day
and by week, ``GET /api/v1/analytics`` through DRF (in process: key, validation, serializer), and
two references on the same data: a trivial indexed query over the same rollup rows (the floor),
and the same year's customer messages, answers by grounding and hours aggregated from the raw
messages (what the rollup saves). Then the rollup itself: one business's year (backfill) and
yesterday + today of each of the 100 raw businesses (what beat does). Target: p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONVERSATION_SQL = """
INSERT INTO assistants_conversation (id, business_id, created_at, updated_at, assistant_id, channel, external_id,
                                     state, customer_token_hash, metadata, handed_off_at)
SELECT gen_random_uuid(), a.business_id, t.at, t.at, a.id,
       (ARRAY['widget', 'whatsapp', 'api'])[1 + floor(random() * 3)::int], '', 'bot', '', '{}',
       CASE WHEN random() < 0.1 THEN t.at + interval '3 seconds' END
FROM assistants_assistant a, generate_series(1, %(per_business)s) g,
     LATERAL (SELECT %(start)s::timestamptz + (random() + g * 0) * interval '365 days' AS at) t
WHERE a.business_id = ANY(%(businesses)s::uuid[])
"""

# Each conversation: one or two questions, each answered a second later; a handed-off one gets
# a person's reply some minutes later.
MESSAGE_SQL = """
INSERT INTO assistants_message (id, business_id, created_at, updated_at, conversation_id, role, content, citations,
                                status, error, backend, model, grounding, tokens_in, tokens_out, latency_ms,
                                rating, rating_comment, rated_at)
SELECT gen_random_uuid(), c.business_id, m.at, m.at, c.id, m.role, 'text', '[]', 'complete', '', '', '',
       CASE WHEN m.role = 'assistant' THEN
           (ARRAY['catalog', 'hours', 'passages', 'passages', 'none'])[1 + floor(random() * 5)::int] ELSE '' END,
       0, 0, CASE WHEN m.role = 'assistant' THEN 300 + floor(random() * 3000)::int END,
       CASE WHEN m.role = 'assistant' AND random() < 0.3 THEN (ARRAY['up', 'up', 'down'])[1 + floor(random() * 3)::int]
            ELSE '' END, '', NULL
FROM assistants_conversation c
CROSS JOIN LATERAL (
    SELECT c.created_at + i * interval '1 minute'
           + CASE WHEN i %% 2 = 1 THEN interval '1 second' ELSE interval '0' END AS at,
           CASE WHEN i %% 2 = 0 THEN 'customer' ELSE 'assistant' END AS role
    FROM generate_series(0, CASE WHEN abs(hashtext(c.id::text)) %% 4 = 0 THEN 3 ELSE 1 END) i
    UNION ALL
    SELECT c.handed_off_at + (1 + random() * 30) * interval '1 minute', 'staff' WHERE c.handed_off_at IS NOT NULL
) m
WHERE c.business_id = ANY(%(businesses)s::uuid[])
"""

RATED_SQL = "UPDATE assistants_message SET rated_at = created_at + interval '2 minutes' WHERE rating <> ''"

# Rollup rows made directly: every day of the year on two channels, 0.8 questions and answers a row.
SYNTHETIC_SQL = """
INSERT INTO assistants_analyticsday (id, business_id, created_at, updated_at, assistant_id, day, channel,
    conversations, customer_messages, answers_catalog, answers_hours, answers_passages, answers_none, handoffs,
    thumbs_up, thumbs_down, staff_replies, first_answer_buckets, staff_reply_buckets, hours)
SELECT gen_random_uuid(), a.business_id, now(), now(), a.id, d::date, ch, r.n, r.n, r.n / 3, 0, r.n - r.n / 3,
       0, 0, 0, 0, 0,
       ARRAY(SELECT CASE WHEN i = 6 THEN r.n ELSE 0 END FROM generate_series(1, 41) i),
       array_fill(0, ARRAY[41]),
       ARRAY(SELECT CASE WHEN h = 12 THEN r.n ELSE 0 END FROM generate_series(0, 23) h)
FROM assistants_assistant a, generate_series(%(first)s::date, %(last)s::date, interval '1 day') d,
     unnest(ARRAY['widget', 'whatsapp']) ch,
     LATERAL (SELECT floor(random() * 2.5 + (extract(doy FROM d) * 0))::int AS n) r
WHERE a.business_id = ANY(%(businesses)s::uuid[])
"""

# The reference: the same year's counts straight from the messages of one assistant.
RAW_SQL = """
SELECT (m.created_at AT TIME ZONE 'UTC')::date AS day,
       count(*) FILTER (WHERE m.role = 'customer'),
       count(*) FILTER (WHERE m.role = 'assistant' AND m.grounding = 'catalog'),
       count(*) FILTER (WHERE m.role = 'assistant' AND m.grounding = 'hours'),
       count(*) FILTER (WHERE m.role = 'assistant' AND m.grounding = 'passages'),
       count(*) FILTER (WHERE m.role = 'assistant' AND m.grounding = 'none'),
       count(DISTINCT m.conversation_id)
FROM assistants_message m JOIN assistants_conversation c ON c.id = m.conversation_id
WHERE m.business_id = %(business)s AND c.assistant_id = %(assistant)s
  AND m.created_at >= %(lo)s AND m.created_at < %(hi)s
GROUP BY 1
"""

FLOOR_SQL = """
SELECT count(*), sum(conversations) FROM assistants_analyticsday
WHERE business_id = %(business)s AND assistant_id = %(assistant)s AND day BETWEEN %(first)s AND %(last)s
"""


def timed(fn, runs: int) -> tuple[float, float]:
    for _ in range(max(3, runs // 20)):
        fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 businesses, a lighter busy year, 50 runs")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--db", default="frontdesk_bench_analytics")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    runs = args.runs or (50 if args.quick else 200)
    businesses_n = 100 if args.quick else 1000
    raw_n = 10 if args.quick else 99  # besides the measured one
    busy_conversations = 4000 if args.quick else 16000

    import psycopg

    from config.embedded_db.server import embedded_server_address

    host, port = embedded_server_address(pgdata=str(ROOT / ".data" / "pg"), name="")
    with psycopg.connect(host=host, port=port, dbname="postgres", user="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')  # a kept one from an earlier run
    host, port = embedded_server_address(pgdata=str(ROOT / ".data" / "pg"), name=args.db)
    os.environ["DATABASE_URL"] = f"postgres://postgres@/{args.db}?host={host}&port={port}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    os.environ.update({"DEBUG": "false", "RATELIMIT_ENABLED": "false", "HF_HUB_OFFLINE": "1"})
    os.environ.pop("REDIS_URL", None)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    call_command("migrate", verbosity=0)
    try:
        rows = _run(args, runs=runs, businesses_n=businesses_n, raw_n=raw_n, busy_conversations=busy_conversations,
                    connection=connection)
    finally:
        if not args.keep:
            connections.close_all()
            with psycopg.connect(host=host, port=port, dbname="postgres", user="postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    print()
    print(f"{'what':<58} {'p50 ms':>9} {'p95 ms':>9} {'x floor':>8}")
    floor_p50 = rows[0][1]
    for what, p50, p95 in rows:
        ratio = f"{p50 / floor_p50:8.1f}" if floor_p50 else ""
        print(f"{what:<58} {p50:9.2f} {p95:9.2f} {ratio}")
    report_p95 = next(p95 for what, _, p95 in rows if what.startswith("analytics_report, a year by day"))
    print(f"\ntarget: report p95 <= 50 ms: {'met' if report_p95 <= 50 else 'NOT met'} ({report_p95:.1f} ms)")


def _run(args, *, runs, businesses_n, raw_n, busy_conversations, connection) -> list[tuple[str, float, float]]:
    from django.utils import timezone
    from rest_framework.test import APIClient

    from assistants.analytics.selectors import analytics_report
    from assistants.analytics.services import analytics_rollup, analytics_rollup_recent
    from assistants.models import AnalyticsDay, Assistant, Message
    from assistants.services import business_signup
    from bench._tenant import unlimited_plan
    from businesses.models import Business

    t0 = time.perf_counter()
    signup = business_signup(email="bench@example.com", password="a sturdy passphrase 42",
                             business_name="Busy Bistro")
    busy, assistant = signup.business, signup.assistant
    unlimited_plan(busy.pk)
    others = Business.objects.bulk_create([Business(name=f"Bench {n}", slug=f"bench-{n}-{uuid.uuid4().hex[:6]}")
                                           for n in range(businesses_n - 1)])
    Assistant.objects.unscoped().bulk_create([Assistant(business=b, name="Assistant", slug="assistant")
                                              for b in others])
    raw = [str(busy.pk)] + [str(b.pk) for b in others[:raw_n]]
    synthetic = [str(b.pk) for b in others[raw_n:]]
    today = timezone.now().date()
    first, last = today - timedelta(days=364), today
    start = timezone.now() - timedelta(days=365)
    with connection.cursor() as cursor:
        cursor.execute(CONVERSATION_SQL, {"per_business": busy_conversations, "start": start,
                                          "businesses": [str(busy.pk)]})
        cursor.execute(CONVERSATION_SQL, {"per_business": 400, "start": start, "businesses": raw[1:]})
        cursor.execute(MESSAGE_SQL, {"businesses": raw})
        cursor.execute(RATED_SQL)
        cursor.execute(SYNTHETIC_SQL, {"first": first, "last": last, "businesses": synthetic})
        cursor.execute("ANALYZE")
    raw_messages = Message.objects.unscoped().count()
    busy_messages = Message.objects.for_business(busy).count()
    synthetic_worth = sum(AnalyticsDay.objects.unscoped().values_list("customer_messages", flat=True)) * 2
    print(f"data: {businesses_n} businesses; {raw_messages:,} raw messages ({busy_messages:,} of the measured one), "
          f"rollup rows worth about {synthetic_worth:,} more; made in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    written = analytics_rollup(business_id=busy.pk, start=first, end=last)
    backfill_ms = (time.perf_counter() - t0) * 1000
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE assistants_analyticsday")
    print(f"rollup rows: {AnalyticsDay.objects.unscoped().count():,} ({written:,} of the measured assistant)")

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {signup.secret_key}")
    query = {"assistant": str(assistant.pk), "from": str(first), "to": str(last)}
    check = api.get("/api/v1/analytics", query)
    assert check.status_code == 200, check.content
    totals = check.json()["totals"]
    assert totals["customer_messages"] > 0, totals

    def run_sql(sql, params):
        def go():
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                cursor.fetchall()
        return go

    tz_lo = timezone.now() - timedelta(days=365)
    results = [
        ("floor: count(*) over the same rollup rows",
         *timed(run_sql(FLOOR_SQL, {"business": str(busy.pk), "assistant": str(assistant.pk), "first": first,
                                    "last": last}), runs)),
        ("analytics_report, a year by day (selector)",
         *timed(lambda: analytics_report(business=busy, assistant=assistant, start=first, end=last), runs)),
        ("analytics_report, a year by week (selector)",
         *timed(lambda: analytics_report(business=busy, assistant=assistant, start=first, end=last,
                                         interval="week"), runs)),
        ("GET /api/v1/analytics, a year by day (DRF in process)",
         *timed(lambda: api.get("/api/v1/analytics", query), runs)),
        ("reference: counts by day from the raw messages",
         *timed(run_sql(RAW_SQL, {"business": str(busy.pk), "assistant": str(assistant.pk), "lo": tz_lo,
                                  "hi": timezone.now()}), max(10, runs // 5))),
    ]
    results.append(("rollup: the measured business's year (backfill, once)", backfill_ms, backfill_ms))
    samples = []
    for business_id in raw:
        t = time.perf_counter()
        analytics_rollup_recent(business_id=business_id)
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    results.append((f"rollup: yesterday + today, per business ({len(raw)})", statistics.median(samples),
                    samples[min(len(samples) - 1, int(len(samples) * 0.95))]))
    return results


if __name__ == "__main__":
    main()
