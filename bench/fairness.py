"""Fair sharing of the model server: one business floods, another's customers still get answers.

Business A sends ``--flood`` streaming messages at once (200: a customer base hitting a campaign
link, or an abuser); business B sends one message a second. Measured: B's time to first token
(first SSE ``delta``) p50 and p95 while A floods, against B alone in the same run (the reference),
and whether every one of A's messages completes (none lost, none failed; checked on the streams
and in the database).

The real stack: gunicorn with ``--workers`` uvicorn workers (two web processes by default, so the
admission runs across processes on Redis), the stand-in model server
(``tests/inference/misbehaving_server.py``) in its own process with a capacity of ``--capacity``
concurrent streams (vLLM's ``--max-num-seqs``: the server is "full"), ``--reply-tokens`` tokens at
``--tokens-per-second`` per stream, and Frontdesk set to the same capacity
(``INFERENCE_REPLICA_CAPACITY``). Both businesses are on one bench plan; per scenario:

- ``capped``: the plan lets a business hold half of the capacity (``answers_in_flight``): A's flood
  waits in its own queue, B always finds a free place. The configuration the seeded plans follow
  (a plan's cap below the servers' capacity).
- ``turns``: the plan's cap is the whole capacity: A fills the servers and B waits for a turn in
  the fair queue (the next place that frees goes to B, not to A's next message).
- ``fcfs``: ``INFERENCE_FAIR_SHARING=false``: only the per-process semaphore
  (``INFERENCE_MAX_CONCURRENCY`` = capacity / workers), first come, first served: what the queue
  replaces.

Also per scenario: the CPU seconds of the web workers, the model server and PostgreSQL over the
flood, per message. ``RATELIMIT_ENABLED=false``: the per-minute limits are not what is measured.

    .venv/bin/python bench/fairness.py [--quick] [--json FILE] [--scenarios capped,turns,fcfs]
        [--flood 200] [--capacity 16] [--workers 2] [--b-alone 30] [--tokens-per-second 20]
        [--reply-tokens 20]

``--quick``: the same measurement with 10-token replies and 8 reference messages (under two
minutes). ``--json FILE``: ``b_ttft_p50_ratio`` (the ``capped`` scenario, or the first one run),
``a_lost`` (A's messages that did not complete, all scenarios that share fairly) and per scenario
the figures of the table. It creates two businesses in the development database (``make demo``'s)
and deletes them at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._cpu import cpu_seconds, postmaster_pid  # noqa: E402
from bench.chat import (  # noqa: E402
    FAQ,
    QUESTIONS,
    REPLY_WORDS,
    Sample,
    _Closed,
    _free_port,
    _http_post,
    _read_response,
    _serve_frontdesk,
    _source_ready,
    django_env,
)

LOG_DIR = ROOT / ".cache" / "bench"
SCENARIOS = ("capped", "turns", "fcfs")
TARGET_RATIO = 1.2


def _django_env(*, base_url: str = "", redis: bool = True, **extra: str) -> dict[str, str]:
    return django_env(base_url=base_url, model="stand-in" if base_url else "", redis=redis,
                      INFERENCE_QUEUE_TIMEOUT="300", **extra)


def _child(args: list[str], env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({out.returncode}):\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- child processes


def _setup_main(conversations_a: int, conversations_b: int) -> None:
    """Child: businesses A and B on one bench plan, each with an FAQ source and conversations."""
    import uuid

    import django

    django.setup()
    from assistants.chat import services as chat
    from assistants.services import business_signup, source_create
    from billing.models import Plan, Subscription
    from businesses.authentication import api_key_resolve

    plan = Plan.objects.create(code=f"bench-fair-{uuid.uuid4().hex[:8]}", name="Bench fairness",
                               messages_per_month=10_000_000, max_assistants=10, max_sources=100,
                               max_knowledge_bytes=10**9, overage_allowed=True, is_public=False,
                               messages_per_minute=0)
    out: dict = {"plan": plan.code}
    for name, count in (("a", conversations_a), ("b", conversations_b)):
        signup = business_signup(email=f"bench-fair-{name}-{uuid.uuid4().hex}@example.com",
                                 password="a sturdy passphrase 42", business_name=f"Bench Fair {name.upper()}")
        Subscription.objects.unscoped().update_or_create(
            business_id=signup.business.pk, defaults={"plan": plan, "status": Subscription.Status.ACTIVE})
        _source_ready(source_create(assistant=signup.assistant, kind="faq", title="FAQ", pairs=FAQ))
        key = api_key_resolve(signup.secret_key)
        out[name] = {"key": signup.secret_key, "business_id": str(signup.business.pk),
                     "conversations": [str(chat.conversation_start(assistant=signup.assistant, key=key)[0].pk)
                                       for _ in range(count)]}
    print(json.dumps(out))


def _plan_main(code: str, answers_in_flight: int, business_ids: list[str]) -> None:
    """Child: set the bench plan's cap and forget the web processes' cached plan values."""
    import django

    django.setup()
    from assistants.chat.fairness import plan_share, plan_share_forget
    from billing.models import Plan

    Plan.objects.filter(code=code).update(answers_in_flight=answers_in_flight)
    for business_id in business_ids:
        plan_share_forget(business_id=business_id)
        assert plan_share(business_id=business_id).answers_in_flight == answers_in_flight
    print(json.dumps({"answers_in_flight": answers_in_flight}))


def _answers_main(business_id: str, since: str) -> None:
    """Child: A's answers since ``since`` by status (every one must be complete)."""
    import django

    django.setup()
    from django.db.models import Count

    from assistants.models import Message

    rows = (Message.objects.for_business(business_id).filter(role=Message.Role.ASSISTANT, created_at__gte=since)
            .values("status").annotate(n=Count("id")))
    customers = Message.objects.for_business(business_id).filter(role=Message.Role.CUSTOMER,
                                                                 created_at__gte=since).count()
    print(json.dumps({"customers": customers, **{row["status"]: row["n"] for row in rows}}))


def _cleanup_main(plan: str, business_ids: list[str]) -> None:
    import django

    django.setup()
    from billing.models import Plan
    from businesses.models import Business

    deleted = Business.objects.filter(pk__in=business_ids).delete()[0]
    Plan.objects.filter(code=plan).delete()
    print(json.dumps({"deleted": deleted}))


def _standin_main(tokens_per_second: float, reply_tokens: int, capacity: int) -> None:
    from http.server import ThreadingHTTPServer

    from tests.inference.misbehaving_server import MisbehavingServer

    ThreadingHTTPServer.request_queue_size = 1024  # a burst of 200 connects fits the backlog
    reply = " ".join(REPLY_WORDS[i % len(REPLY_WORDS)] for i in range(reply_tokens))
    server = MisbehavingServer(mode="normal", reply=reply, tokens_per_second=tokens_per_second,
                               model="stand-in", max_streams=capacity).start()
    print(server.base_url, flush=True)
    sys.stdin.read()
    server.stop()


# --------------------------------------------------------------------------- load


async def _one(port: int, request: bytes) -> Sample:
    started = time.perf_counter()
    writer = None
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        return await _read_response(reader, True, started)
    except _Closed as closed:
        return closed.sample
    except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
        return Sample(ok=False, ttft=None, total=time.perf_counter() - started, deltas=0, status=0,
                      why=type(exc).__name__)
    finally:
        if writer is not None:
            writer.close()


async def _b_alone(port: int, requests: list[bytes]) -> list[Sample]:
    """B's messages one a second, nothing else running."""
    tasks = []
    for request in requests:
        tasks.append(asyncio.create_task(_one(port, request)))
        await asyncio.sleep(1.0)
    return list(await asyncio.gather(*tasks))


async def _flood(port: int, a_requests: list[bytes], b_requests: list[bytes], min_b: int) -> tuple[
        list[Sample], list[Sample], float]:
    """A's messages all at once; B's one a second from 0.5 s in, while A's last ones are still
    running (and at least ``min_b``). Returns A's samples, B's samples and the flood's seconds."""
    started = time.perf_counter()
    a_tasks = [asyncio.create_task(_one(port, request)) for request in a_requests]
    await asyncio.sleep(0.5)
    b_tasks = []
    while b_requests and (len(b_tasks) < min_b or not all(t.done() for t in a_tasks)):
        # Stop one second before the end of A's flood at the latest: B's last message must still
        # meet it. The count of A's unfinished messages says how far along it is.
        if len(b_tasks) >= min_b and sum(not t.done() for t in a_tasks) < len(a_tasks) * 0.05:
            break
        b_tasks.append(asyncio.create_task(_one(port, b_requests.pop())))
        await asyncio.sleep(1.0)
    a = list(await asyncio.gather(*a_tasks))
    seconds = time.perf_counter() - started
    b = list(await asyncio.gather(*b_tasks))
    return a, b, seconds


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, -(-len(ordered) * p // 100) - 1))] * 1000


@dataclass
class Row:
    scenario: str
    cap: int
    b_alone: list[Sample]
    b_flood: list[Sample]
    a: list[Sample]
    a_db: dict
    seconds: float
    cpu: dict[str, float] = field(default_factory=dict)

    @staticmethod
    def ttfts(samples: list[Sample]) -> list[float]:
        return [s.ttft for s in samples if s.ok and s.ttft is not None]

    def b(self, which: str, p: float) -> float:
        return _pct(self.ttfts(self.b_alone if which == "alone" else self.b_flood), p)

    @property
    def ratio(self) -> float:
        return self.b("flood", 50) / self.b("alone", 50)

    @property
    def a_ok(self) -> int:
        return sum(s.ok for s in self.a)

    @property
    def a_lost(self) -> int:
        """A's messages that did not complete: on the stream, or (whichever is more) in the database."""
        return max(len(self.a) - self.a_ok, len(self.a) - self.a_db.get("complete", 0))

    def summary(self) -> dict:
        return {
            "answers_in_flight": self.cap,
            "b_alone_ttft_p50_ms": round(self.b("alone", 50), 1), "b_alone_ttft_p95_ms": round(self.b("alone", 95), 1),
            "b_flood_ttft_p50_ms": round(self.b("flood", 50), 1), "b_flood_ttft_p95_ms": round(self.b("flood", 95), 1),
            "b_ttft_p50_ratio": round(self.ratio, 3),
            "b_ttft_p95_ratio": round(self.b("flood", 95) / self.b("alone", 95), 3),
            "b_messages": [len(self.b_alone), len(self.b_flood)],
            "b_failed": sum(not s.ok for s in self.b_alone + self.b_flood),
            "a_messages": len(self.a), "a_complete": self.a_ok, "a_lost": self.a_lost, "a_db": self.a_db,
            "a_ttft_p50_ms": round(_pct(self.ttfts(self.a), 50), 1),
            "a_total_max_s": round(max((s.total for s in self.a), default=0.0), 2),
            "flood_seconds": round(self.seconds, 2),
            "cpu_ms_per_message": {name: round(sec / max(1, len(self.a) + len(self.b_flood)) * 1000, 2)
                                   for name, sec in self.cpu.items()},
        }


def _scenario(name: str, args: argparse.Namespace, setup: dict, standin_url: str, standin_pid: int,
              conversations: dict[str, list[str]]) -> Row:
    cap = args.capacity // 2 if name == "capped" else args.capacity
    _child(["_plan", setup["plan"], str(cap), setup["a"]["business_id"], setup["b"]["business_id"]], _django_env())
    port = _free_port()
    env = _django_env(base_url=standin_url, INFERENCE_REPLICA_CAPACITY=str(args.capacity),
                      INFERENCE_FAIR_SHARING="false" if name == "fcfs" else "true",
                      # Fair sharing: the admission caps; the per-process semaphore only has to let
                      # every place through. FCFS: the semaphores are the only cap.
                      INFERENCE_MAX_CONCURRENCY=str(max(1, args.capacity // args.workers) if name == "fcfs"
                                                    else args.capacity))
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    web = _serve_frontdesk(port, args.workers, env, LOG_DIR / f"fairness-{name}.log")
    try:
        def request(business: str, i: int) -> bytes:
            cid = conversations[business].pop()
            return _http_post("127.0.0.1", port, f"/api/v1/conversations/{cid}/messages",
                              {"content": QUESTIONS[i % len(QUESTIONS)]},
                              {"Authorization": f"Bearer {setup[business]['key']}"})

        # Warm-up: both businesses' first answers (connections, lazy imports, the query embedder).
        asyncio.run(_b_alone(port, [request("a", 0), request("b", 0)]))
        b_alone = asyncio.run(_b_alone(port, [request("b", i) for i in range(args.b_alone)]))
        a_requests = [request("a", i) for i in range(args.flood)]
        b_requests = [request("b", i) for i in range(args.b_alone * 4)]
        since = datetime.now(UTC).isoformat()
        pids = {"web": web.pid, "model server": standin_pid, "postgres": postmaster_pid()}
        before = {k: cpu_seconds(pid) for k, pid in pids.items()}
        a, b_flood, seconds = asyncio.run(_flood(port, a_requests, b_requests, args.min_b))
        cpu = {k: cpu_seconds(pid) - before[k] for k, pid in pids.items()}
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)
    a_db = _child(["_answers", setup["a"]["business_id"], since], _django_env(redis=False))
    row = Row(name, cap, b_alone, b_flood, a, a_db, seconds, cpu)
    s = row.summary()
    print(f"  {name:<7} cap {cap:>3}: B alone p50 {s['b_alone_ttft_p50_ms']:7.1f} ms, during A's flood p50 "
          f"{s['b_flood_ttft_p50_ms']:7.1f} ms (x{s['b_ttft_p50_ratio']:.2f}), p95 {s['b_flood_ttft_p95_ms']:7.1f} ms; "
          f"A {s['a_complete']}/{s['a_messages']} complete in {s['flood_seconds']:.1f} s", flush=True)
    return row


def _table(rows: list[Row], args: argparse.Namespace) -> None:
    print(f"\nA: {args.flood} streams at once; B: 1 message/s. Stand-in: {args.capacity} concurrent streams, "
          f"{args.reply_tokens} tokens at {args.tokens_per_second:g}/s each; {args.workers} web processes.")
    head = (f"{'scenario':<8} {'cap':>4} {'B alone p50':>12} {'p95':>8} {'B flood p50':>12} {'p95':>8} "
            f"{'p50 x':>6} {'p95 x':>6} {'B n':>7} {'A done':>8} {'A lost':>7} {'flood s':>8} "
            f"{'web ms':>7} {'model ms':>9} {'pg ms':>6}")
    print(head)
    print("-" * len(head))
    for row in rows:
        s = row.summary()
        cpu = s["cpu_ms_per_message"]
        print(f"{row.scenario:<8} {row.cap:>4} {s['b_alone_ttft_p50_ms']:>12.1f} {s['b_alone_ttft_p95_ms']:>8.1f} "
              f"{s['b_flood_ttft_p50_ms']:>12.1f} {s['b_flood_ttft_p95_ms']:>8.1f} {s['b_ttft_p50_ratio']:>6.2f} "
              f"{s['b_ttft_p95_ratio']:>6.2f} {'/'.join(map(str, s['b_messages'])):>7} "
              f"{s['a_complete']:>4}/{s['a_messages']:<3} {s['a_lost']:>7} {s['flood_seconds']:>8.1f} "
              f"{cpu.get('web', 0):>7.2f} {cpu.get('model server', 0):>9.2f} {cpu.get('postgres', 0):>6.2f}")
    print("TTFT in ms (to the first delta); x: during the flood / alone; B n: messages alone / during the flood; "
          "CPU per message of the flood (A's and B's).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter replies and reference (under two minutes)")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--scenarios", type=lambda s: [x.strip() for x in s.split(",") if x.strip()],
                        default=list(SCENARIOS))
    parser.add_argument("--flood", type=int, default=200, help="A's messages at once")
    parser.add_argument("--capacity", type=int, default=16, help="the model server's concurrent streams")
    parser.add_argument("--workers", type=int, default=2, help="Frontdesk web processes")
    parser.add_argument("--b-alone", type=int, default=30, help="B's reference messages (one a second)")
    parser.add_argument("--min-b", type=int, default=8, help="B's messages during the flood, at least")
    parser.add_argument("--tokens-per-second", type=float, default=20.0, help="stand-in: per stream")
    parser.add_argument("--reply-tokens", type=int, default=20, help="stand-in: tokens per answer")
    args = parser.parse_args()
    if set(args.scenarios) - set(SCENARIOS) or not args.scenarios:
        parser.error(f"--scenarios takes some of {','.join(SCENARIOS)}")
    if args.quick:
        args.b_alone, args.reply_tokens, args.min_b = 8, 10, 6

    print(f"bench/fairness.py {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True,
                   env=_django_env(redis=False))
    per_scenario_b = 2 + args.b_alone * 5
    per_scenario_a = 1 + args.flood
    n = len(args.scenarios)
    setup = _child(["_setup", str(per_scenario_a * n), str(per_scenario_b * n)], _django_env(redis=False))
    conversations = {"a": list(setup["a"]["conversations"]), "b": list(setup["b"]["conversations"])}
    standin = subprocess.Popen([sys.executable, __file__, "_standin", str(args.tokens_per_second),
                                str(args.reply_tokens), str(args.capacity)], cwd=ROOT, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    rows: list[Row] = []
    try:
        url = standin.stdout.readline().strip()
        for name in args.scenarios:
            rows.append(_scenario(name, args, setup, url, standin.pid, conversations))
    finally:
        standin.stdin.close()
        try:
            standin.wait(timeout=10)
        except subprocess.TimeoutExpired:
            standin.kill()
        _child(["_cleanup", setup["plan"], setup["a"]["business_id"], setup["b"]["business_id"]],
               _django_env(redis=False))
    _table(rows, args)
    headline = next((r for r in rows if r.scenario == "capped"), rows[0])
    fair = [r for r in rows if r.scenario != "fcfs"] or rows
    verdict = "met" if headline.ratio <= TARGET_RATIO and all(r.a_lost == 0 for r in fair) else "NOT met"
    print(f"\nTarget (B's p50 rises by at most {TARGET_RATIO - 1:.0%}, none of A's lost): {verdict} "
          f"({headline.scenario}: x{headline.ratio:.2f}, A lost {sum(r.a_lost for r in fair)})")
    if args.json:
        args.json.write_text(json.dumps({
            "b_ttft_p50_ratio": round(headline.ratio, 3),
            "a_lost": sum(r.a_lost for r in fair),
            "headline_scenario": headline.scenario,
            "target_met": verdict == "met",
            "settings": {"flood": args.flood, "capacity": args.capacity, "workers": args.workers,
                         "b_alone": args.b_alone, "tokens_per_second": args.tokens_per_second,
                         "reply_tokens": args.reply_tokens, "quick": args.quick},
            "scenarios": {r.scenario: r.summary() for r in rows},
        }, indent=2) + "\n")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "_setup":
        _setup_main(int(sys.argv[2]), int(sys.argv[3]))
    elif command == "_plan":
        _plan_main(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
    elif command == "_answers":
        _answers_main(sys.argv[2], sys.argv[3])
    elif command == "_cleanup":
        _cleanup_main(sys.argv[2], sys.argv[3:])
    elif command == "_standin":
        _standin_main(float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
