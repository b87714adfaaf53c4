"""The daily rollup: ``AnalyticsDay`` rows recomputed from the messages, in SQL.

What each counter means (docs/analytics.md):

- a day is a date in the business's time zone; playground conversations (the owner trying
  questions) are left out;
- ``conversations``, and the time to first answer, by the day the conversation started: seconds
  from its first customer message to the first answer, the assistant's (complete: its row's
  creation plus its generation latency) or a person's, whichever came first;
- customer messages, answers by grounding and staff messages by the day they were sent;
  customer messages also by hour of the day;
- ``handoffs``: conversations a person took over for the first time that day
  (``Conversation.handed_off_at``); thumbs by the day the rating was given;
- staff reply time, for each staff message that starts a reply (the message before it, system
  notices aside, is not a staff message): seconds from when the customer began waiting (the
  first customer message since the last answer or reply, or the last customer message when the
  assistant's answer came in between) or the handoff, whichever is later, to the reply.

A run replaces a business's rows of the days it covers in one short transaction (delete, then
insert what the messages say now), so running it twice leaves the same rows and a day that lost
its messages (a conversation erased) loses its rows. Runs for one business take turns on an
advisory lock; other businesses never wait.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from assistants.analytics import buckets
from assistants.models import AnalyticsDay, Conversation, Message
from businesses.models import Business

logger = logging.getLogger(__name__)

MAX_ROLLUP_DAYS = 800  # one run's range: a backfill of two years is a few runs

_DAY = AnalyticsDay._meta.db_table
_MESSAGE = Message._meta.db_table
_CONVERSATION = Conversation._meta.db_table


def _bucket_array(column: str) -> str:
    return "ARRAY[" + ", ".join(f"count(*) FILTER (WHERE {column} = {i})" for i in range(buckets.COUNT)) + "]::int[]"


_HOURS_ARRAY = "ARRAY[" + ", ".join(
    f"count(*) FILTER (WHERE role = 'customer' AND hour = {h})" for h in range(24)) + "]::int[]"

_WAIT_BUCKET = buckets.BUCKET_SQL.format(s="wait")

# Parameters: business, tz, first, last (dates, inclusive). Every table is read by business_id
# (a bound parameter) and a time range of the index the table has for it.
_ROLLUP_SQL = f"""
WITH bounds AS (
    SELECT (%(first)s::date::timestamp AT TIME ZONE %(tz)s) AS lo,
           ((%(last)s::date + 1)::timestamp AT TIME ZONE %(tz)s) AS hi
),
msg AS (
    SELECT c.assistant_id, c.channel, (m.created_at AT TIME ZONE %(tz)s)::date AS day,
           extract(hour FROM m.created_at AT TIME ZONE %(tz)s)::int AS hour, m.role, m.status, m.grounding
    FROM {_MESSAGE} m JOIN {_CONVERSATION} c ON c.id = m.conversation_id, bounds
    WHERE m.business_id = %(business)s AND c.business_id = %(business)s
      AND m.created_at >= bounds.lo AND m.created_at < bounds.hi
      AND m.role IN ('customer', 'assistant', 'staff') AND c.channel <> 'playground'
),
msg_day AS (
    SELECT assistant_id, channel, day,
           count(*) FILTER (WHERE role = 'customer') AS customer_messages,
           count(*) FILTER (WHERE role = 'assistant' AND status = 'complete' AND grounding = 'catalog') AS catalog,
           count(*) FILTER (WHERE role = 'assistant' AND status = 'complete' AND grounding = 'hours') AS hours_,
           count(*) FILTER (WHERE role = 'assistant' AND status = 'complete' AND grounding = 'passages') AS passages,
           count(*) FILTER (WHERE role = 'assistant' AND status = 'complete' AND grounding = 'none') AS none_,
           count(*) FILTER (WHERE role = 'staff') AS staff,
           {_HOURS_ARRAY} AS by_hour
    FROM msg GROUP BY 1, 2, 3
),
conv AS (
    SELECT c.assistant_id, c.channel, (c.created_at AT TIME ZONE %(tz)s)::date AS day,
           extract(epoch FROM first.answer - first.question)::float8 AS wait
    FROM {_CONVERSATION} c CROSS JOIN bounds
    LEFT JOIN LATERAL (
        SELECT min(m.created_at) FILTER (WHERE m.role = 'customer') AS question,
               min(CASE WHEN m.role = 'assistant' AND m.status = 'complete'
                        THEN m.created_at + coalesce(m.latency_ms, 0) * interval '1 millisecond'
                        WHEN m.role = 'staff' THEN m.created_at END) AS answer
        FROM {_MESSAGE} m WHERE m.conversation_id = c.id AND m.business_id = %(business)s
    ) first ON true
    WHERE c.business_id = %(business)s AND c.created_at >= bounds.lo AND c.created_at < bounds.hi
      AND c.channel <> 'playground'
),
conv_day AS (
    SELECT assistant_id, channel, day, count(*) AS conversations,
           {_bucket_array("bucket")} AS first_answer
    FROM (SELECT *, CASE WHEN wait IS NOT NULL THEN {buckets.BUCKET_SQL.format(s="GREATEST(wait, 0)")} END AS bucket
          FROM conv) c
    GROUP BY 1, 2, 3
),
handoff_day AS (
    SELECT c.assistant_id, c.channel, (c.handed_off_at AT TIME ZONE %(tz)s)::date AS day, count(*) AS handoffs
    FROM {_CONVERSATION} c, bounds
    WHERE c.business_id = %(business)s AND c.handed_off_at >= bounds.lo AND c.handed_off_at < bounds.hi
      AND c.channel <> 'playground'
    GROUP BY 1, 2, 3
),
rating_day AS (
    SELECT c.assistant_id, c.channel, (m.rated_at AT TIME ZONE %(tz)s)::date AS day,
           count(*) FILTER (WHERE m.rating = 'up') AS up, count(*) FILTER (WHERE m.rating = 'down') AS down
    FROM {_MESSAGE} m JOIN {_CONVERSATION} c ON c.id = m.conversation_id, bounds
    WHERE m.business_id = %(business)s AND m.rated_at >= bounds.lo AND m.rated_at < bounds.hi
      AND m.rating IN ('up', 'down') AND c.channel <> 'playground'
    GROUP BY 1, 2, 3
),
staff AS (
    SELECT c.assistant_id, c.channel, (s.created_at AT TIME ZONE %(tz)s)::date AS day,
           GREATEST(extract(epoch FROM s.created_at - GREATEST(
               coalesce(waiting.first_waiting, waiting.last_customer), c.handed_off_at))::float8, 0) AS wait
    FROM {_MESSAGE} s JOIN {_CONVERSATION} c ON c.id = s.conversation_id CROSS JOIN bounds
    CROSS JOIN LATERAL (
        SELECT p.role FROM {_MESSAGE} p
        WHERE p.conversation_id = s.conversation_id AND p.created_at < s.created_at
          AND p.role IN ('customer', 'assistant', 'staff')
        ORDER BY p.created_at DESC LIMIT 1
    ) previous
    LEFT JOIN LATERAL (
        SELECT max(r.created_at) AS at FROM {_MESSAGE} r
        WHERE r.conversation_id = s.conversation_id AND r.created_at < s.created_at
          AND r.role IN ('assistant', 'staff')
    ) last_reply ON true
    LEFT JOIN LATERAL (
        SELECT min(q.created_at) FILTER (WHERE q.created_at > coalesce(last_reply.at, '-infinity')) AS first_waiting,
               max(q.created_at) AS last_customer
        FROM {_MESSAGE} q
        WHERE q.conversation_id = s.conversation_id AND q.created_at < s.created_at AND q.role = 'customer'
    ) waiting ON true
    WHERE s.business_id = %(business)s AND s.role = 'staff' AND s.created_at >= bounds.lo
      AND s.created_at < bounds.hi AND c.channel <> 'playground' AND previous.role <> 'staff'
),
staff_day AS (
    SELECT assistant_id, channel, day, {_bucket_array("bucket")} AS staff_reply
    FROM (SELECT *, {_WAIT_BUCKET} AS bucket FROM staff WHERE wait IS NOT NULL) s
    GROUP BY 1, 2, 3
),
keys AS (
    SELECT assistant_id, channel, day FROM msg_day UNION SELECT assistant_id, channel, day FROM conv_day
    UNION SELECT assistant_id, channel, day FROM handoff_day
    UNION SELECT assistant_id, channel, day FROM rating_day
)
INSERT INTO {_DAY} (id, business_id, created_at, updated_at, assistant_id, day, channel, conversations,
                    customer_messages, answers_catalog, answers_hours, answers_passages, answers_none, handoffs,
                    thumbs_up, thumbs_down, staff_replies, first_answer_buckets, staff_reply_buckets, hours)
SELECT gen_random_uuid(), %(business)s, now(), now(), k.assistant_id, k.day, k.channel,
       coalesce(cd.conversations, 0), coalesce(md.customer_messages, 0), coalesce(md.catalog, 0),
       coalesce(md.hours_, 0), coalesce(md.passages, 0), coalesce(md.none_, 0), coalesce(hd.handoffs, 0),
       coalesce(rd.up, 0), coalesce(rd.down, 0), coalesce(md.staff, 0),
       coalesce(cd.first_answer, array_fill(0, ARRAY[{buckets.COUNT}])),
       coalesce(sd.staff_reply, array_fill(0, ARRAY[{buckets.COUNT}])),
       coalesce(md.by_hour, array_fill(0, ARRAY[24]))
FROM keys k
LEFT JOIN msg_day md USING (assistant_id, channel, day)
LEFT JOIN conv_day cd USING (assistant_id, channel, day)
LEFT JOIN handoff_day hd USING (assistant_id, channel, day)
LEFT JOIN rating_day rd USING (assistant_id, channel, day)
LEFT JOIN staff_day sd USING (assistant_id, channel, day)
WHERE k.day BETWEEN %(first)s AND %(last)s
"""  # noqa: S608 - table names are ours; every value is bound


def local_today(tz_name: str, *, now=None) -> date:
    return (now or timezone.now()).astimezone(ZoneInfo(tz_name)).date()


def analytics_rollup(*, business_id: uuid.UUID | str, start: date, end: date | None = None) -> int:
    """Recompute the business's ``AnalyticsDay`` rows of the days ``start`` to ``end``
    (inclusive; one day when ``end`` is None), in its time zone. Returns the rows written."""
    end = end or start
    if end < start or (end - start).days >= MAX_ROLLUP_DAYS:
        raise ValueError(f"analytics_rollup: {start}..{end} is not a range of 1 to {MAX_ROLLUP_DAYS} days")
    tz = Business.objects.filter(pk=business_id).values_list("timezone", flat=True).first()
    if tz is None:
        return 0  # deleted meanwhile
    params = {"business": str(business_id), "tz": tz, "first": start, "last": end}
    with transaction.atomic(), connection.cursor() as cursor:
        # Two runs for one business (beat and a backfill) would both delete, then both insert.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('analytics_rollup'), hashtext(%s))",
                       [str(business_id)])
        cursor.execute(f"DELETE FROM {_DAY} WHERE business_id = %s AND day BETWEEN %s AND %s",  # noqa: S608
                       [str(business_id), start, end])
        cursor.execute(_ROLLUP_SQL, params)
        return cursor.rowcount


def analytics_rollup_recent(*, business_id: uuid.UUID | str, now=None) -> int:
    """Yesterday and today in the business's time zone: what celery beat keeps fresh. Yesterday
    too, so that the last minutes of a day, and answers rated after midnight, are counted."""
    tz = Business.objects.filter(pk=business_id).values_list("timezone", flat=True).first()
    if tz is None:
        return 0
    today = local_today(tz, now=now)
    return analytics_rollup(business_id=business_id, start=today - timedelta(days=1), end=today)
