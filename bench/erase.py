"""Erasure and retention at scale: erase one customer among 1 M messages, and the retention sweep.

    .venv/bin/python bench/erase.py [--quick] [--customers 20]

A business with 1 M messages (100 000 conversations of 10 messages, 5 conversations per customer,
last messages spread over 400 days) is generated with generate_series in SQL, in a database of
its own on the embedded server (created, migrated, dropped at the end). ``--quick``: 20 000.

Erase: ``customer_erase`` (assistants/privacy/services.py) for ``--customers`` customers picked
at random; the latency of each and the longest transaction (the longest any row lock is held).
Reference: the same amount of rows deleted by two bare SQL statements (messages, then
conversations) for other customers, in one transaction.

Retention: ``retention_sweep`` with the default 365 days (about 9 % of the conversations are
older); rows per second (conversations + messages). Reference: one bare SQL DELETE of the same
number of expired rows in a second business.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PER_CONVERSATION = 10
PER_CUSTOMER = 5


def _generate(cursor, business_id, assistant_id, conversations: int, *, prefix: str, days: int) -> None:
    cursor.execute(
        """INSERT INTO assistants_conversation (id, business_id, assistant_id, channel, external_id, state,
               customer_token_hash, metadata, last_message_at, created_at, updated_at)
           SELECT gen_random_uuid(), %s, %s, 'api', %s || (g %% %s), 'bot', '', '{}',
                  now() - (g %% %s) * interval '1 day' - interval '1 hour', now() - (g %% %s) * interval '1 day'
                  - interval '2 hours', now()
           FROM generate_series(1, %s) g""",
        [business_id, assistant_id, prefix, max(1, conversations // PER_CUSTOMER), days, days, conversations])
    cursor.execute(
        """INSERT INTO assistants_message (id, business_id, conversation_id, role, content, citations, status,
               error, backend, model, grounding, tokens_in, tokens_out, rating, rating_comment, created_at,
               updated_at)
           SELECT gen_random_uuid(), c.business_id, c.id, CASE WHEN k %% 2 = 1 THEN 'customer' ELSE 'assistant' END,
                  'Message ' || k || ' from ' || c.external_id || ': do you have a table for four tonight?', '[]',
                  'complete', '', '', '', '', 0, 0, '', '', c.last_message_at - (%s - k) * interval '1 minute', now()
           FROM assistants_conversation c, generate_series(1, %s) k WHERE c.business_id = %s""",
        [PER_CONVERSATION, PER_CONVERSATION, business_id])
    cursor.execute("ANALYZE assistants_conversation; ANALYZE assistants_message")


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(args) -> list[tuple]:
    from django.db import connection, transaction

    from assistants.models import Message
    from assistants.privacy import retention, services
    from assistants.services import business_signup
    from bench._tenant import unlimited_plan

    conversations = 2_000 if args.quick else 100_000
    main = business_signup(email="bench-erase@example.com", password="a sturdy passphrase 42",
                           business_name="Bench Erase")
    ref = business_signup(email="bench-ref@example.com", password="a sturdy passphrase 42",
                          business_name="Bench Reference")
    for tenant in (main, ref):
        unlimited_plan(tenant.business.pk)
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        _generate(cursor, main.business.pk, main.assistant.pk, conversations, prefix="cust-", days=400)
    messages = Message.objects.for_business(main.business).count()
    print(f"generated {messages:,} messages in {conversations:,} conversations ({time.perf_counter() - t0:.0f} s)")

    # Every transaction of the erasure and the sweep, timed: the longest is the longest lock held.
    held: list[float] = []
    inner = services.erase_batch

    def timed(**kwargs):
        start = time.perf_counter()
        try:
            return inner(**kwargs)
        finally:
            held.append(time.perf_counter() - start)

    services.erase_batch = retention.erase_batch = timed

    customers = random.Random(7).sample(range(conversations // PER_CUSTOMER), args.customers * 2)
    ours, bare = [], []
    for n in customers[:args.customers]:
        start = time.perf_counter()
        counts = services.customer_erase(business_id=main.business.pk, external_id=f"cust-{n}", actor=None)
        ours.append(time.perf_counter() - start)
        assert counts["messages"] == PER_CUSTOMER * PER_CONVERSATION, counts
    erase_held = max(held)
    for n in customers[args.customers:]:
        start = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM assistants_message WHERE business_id = %s AND conversation_id IN "
                           "(SELECT id FROM assistants_conversation WHERE business_id = %s AND external_id = %s)",
                           [main.business.pk, main.business.pk, f"cust-{n}"])
            cursor.execute("DELETE FROM assistants_conversation WHERE business_id = %s AND external_id = %s",
                           [main.business.pk, f"cust-{n}"])
        bare.append(time.perf_counter() - start)

    held.clear()
    start = time.perf_counter()
    swept = retention.retention_sweep()
    sweep_s = time.perf_counter() - start
    sweep_rows = swept.conversations + swept.messages
    sweep_held = max(held) if held else 0.0
    with connection.cursor() as cursor:
        # The reference business: as many expired conversations as the sweep found, all old (made
        # after the sweep, which would have swept them too).
        _generate(cursor, ref.business.pk, ref.assistant.pk, swept.conversations, prefix="old-", days=1)
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM assistants_message WHERE business_id = %s", [ref.business.pk])
        ref_rows = cursor.rowcount
        cursor.execute("DELETE FROM assistants_conversation WHERE business_id = %s", [ref.business.pk])
        ref_rows += cursor.rowcount
    ref_s = time.perf_counter() - start
    ms = 1000
    return [
        ("erase one customer (50 messages), p50 ms", f"{statistics.median(ours) * ms:.1f}",
         f"{statistics.median(bare) * ms:.1f}", f"{statistics.median(ours) / statistics.median(bare):.1f}"),
        ("erase one customer, p95 ms", f"{_pct(ours, 95) * ms:.1f}", f"{_pct(bare, 95) * ms:.1f}",
         f"{_pct(ours, 95) / _pct(bare, 95):.1f}"),
        ("erase: longest transaction (lock held) ms", f"{erase_held * ms:.1f}", f"{max(bare) * ms:.1f}",
         f"{erase_held / max(bare):.1f}"),
        (f"retention sweep: rows per second ({sweep_rows:,} rows)", f"{sweep_rows / sweep_s:,.0f}",
         f"{ref_rows / ref_s:,.0f}", f"{(sweep_rows / sweep_s) / (ref_rows / ref_s):.2f}"),
        ("retention sweep: longest transaction ms", f"{sweep_held * ms:.1f}", f"{ref_s * ms:.1f}",
         f"{sweep_held / ref_s:.2f}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20 000 messages instead of 1 000 000")
    parser.add_argument("--customers", type=int, default=20, help="customers erased (and as many for the reference)")
    parser.add_argument("--db", default="frontdesk_bench_erase",
                        help="database on the embedded server: created, migrated, dropped at the end")
    args = parser.parse_args()

    from config.embedded_db.server import embedded_server_address

    host, port = embedded_server_address(pgdata=str(ROOT / ".data" / "pg"), name=args.db)
    os.environ["DATABASE_URL"] = f"postgres://postgres@/{args.db}?host={host}&port={port}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    os.environ.update({"DEBUG": "false", "RATELIMIT_ENABLED": "false", "HF_HUB_OFFLINE": "1"})
    os.environ.pop("REDIS_URL", None)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)
    try:
        rows = run(args)
    finally:
        import psycopg

        connections.close_all()
        with psycopg.connect(host=host, port=port, dbname="postgres", user="postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    width = max(len(r[0]) for r in rows)
    print(f"\n{'measure':<{width}}  {'ours':>10}  {'bare SQL':>10}  {'ratio':>6}")
    for name, ours, ref, ratio in rows:
        print(f"{name:<{width}}  {ours:>10}  {ref:>10}  {ratio:>6}")


if __name__ == "__main__":
    main()
