"""Streaming chat through Frontdesk against the same model server called directly.

N concurrent conversations (``--concurrency 1,32,256``), each sending one streaming message
(``POST /api/v1/conversations/{id}/messages`` with ``Accept: text/event-stream``) to the real
server (gunicorn + uvicorn workers, ``config.asgi:application``), and in the same run the same
N streams straight to the model server (``POST /v1/chat/completions``, ``stream: true``, the
prompt Frontdesk builds for the benchmark's tenant). Model servers:

- the stand-in (default): ``tests/inference/misbehaving_server.py`` in mode ``normal`` in its
  own process, streaming ``--reply-tokens`` tokens at ``--tokens-per-second`` per request with
  no capacity limit (a thread per connection);
- ``--vllm``: a genuine vLLM on the CPU with the tests' random-weight tiny Llama
  (``tests/inference/vllm_support.py``, ~35 s startup), ``--max-num-seqs`` sequences per batch,
  ``--vllm-max-tokens`` tokens per answer.

Frontdesk runs with ``INFERENCE_MAX_CONCURRENCY`` = the model server's capacity,
``RATELIMIT_ENABLED=false`` and a tenant whose assistant has a four-question FAQ source, so
every message runs retrieval (query embedding + hybrid search), prompt building and the
database writes of the real flow. The load generator is raw asyncio streams in this process
(N clients, each sending its messages one after another, a new connection per message); each
stream records the time to its first
content delta (SSE ``event: delta``; a chunk with non-empty ``delta.content``) and to its end.

Per (server, N, path): messages/s (completed answers over the wall time of the measured
rounds, after one unmeasured warm-up round), time to first token p50/p99, total p50/p99 and the
CPU each process spent per message (web workers, model server, PostgreSQL, load generator; read
from /proc). Ratios: Frontdesk/direct throughput and Frontdesk - direct TTFT. ``--profile``
then times one request's steps in-process (Django set up as the server's workers are), with
SQL timing and cProfile.

``--quotas on,off`` (default ``on``: quotas enforced, as in production) runs the stand-in's
Frontdesk rows once per setting in the same run: one Frontdesk server per setting
(``BILLING_ENFORCE_QUOTAS=true`` / ``false``), both up for the whole run, the same tenant, and per N
the settings measured in turn ``--quota-repeats`` times (on, off, off, on, ...) and pooled; then
the added TTFT p50 and total p50 of quotas on against off per N. End-to-end latency on a small
shared machine is noisy next to a millisecond, so ``--quota-micro`` (on by default with both
settings) also times the quota path in-process: ``message_quota_reserve`` and
``usage_record_answer`` for one business, ``--quota-calls`` times each, interleaved with a
``SELECT 1`` round trip and the chat flow's conversation lookup as references (p50/p99 ms).

    .venv/bin/python bench/chat.py [--concurrency 1,32,256] [--vllm] [--no-standin] [--profile]
        [--workers 2] [--tokens-per-second 50] [--reply-tokens 40] [--rounds 2] [--min-messages 20]
        [--quotas on,off] [--quota-repeats 3] [--quota-micro] [--quota-calls 2000]

A benchmark, not a test: it is not part of the test run. It creates a business (and one per
``--profile``) in the development database and deletes them at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._cpu import cpu_seconds, loop_thread_seconds, postmaster_pid  # noqa: E402
from bench._tenant import unlimited_plan  # noqa: E402

LOG_DIR = ROOT / ".cache" / "bench"
QUESTIONS = ["Can I bring my dog?", "Do you have parking?", "Do you deliver?", "Can I book a table for a big group?"]
FAQ = [
    {"question": "Can I bring my dog?", "answer": "Dogs are welcome on our terrace, but not inside the dining room."},
    {"question": "Do you have parking?", "answer": "Yes, there is free parking for guests behind the restaurant, "
                                                   "entrance on Mill Lane."},
    {"question": "Do you deliver?", "answer": "We deliver within 5 km on Friday and Saturday evenings; order by "
                                              "phone at +31 20 555 0188."},
    {"question": "Can I book a table for a big group?", "answer": "Groups of up to 8 can book online. For more "
                                                                 "than 8 people please call us."},
]
REPLY_WORDS = ("Dogs are welcome on our terrace but not inside the dining room and there is free parking for guests "
               "behind the restaurant with the entrance on Mill Lane").split()
SENTENCE_WORDS = 10  # the stand-in's sentences
# vLLM's tiny model has a 1,024-token context (tests/inference/vllm_support.py); the tests use 560.
VLLM_CONTEXT_TOKENS = 560


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- child processes


def django_env(*, base_url: str = "", model: str = "", redis: bool = True, **extra: str) -> dict[str, str]:
    """The environment of a Frontdesk process the benches start (web server or set-up child):
    the dev settings without debug or rate limits, the model server at ``base_url``, and Redis
    unless ``redis`` is off (set-up: ingestion runs in-process right after commit, no worker
    needed). ``extra`` goes on top."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("BENCH_SETTINGS", "config.settings.dev"),
           "DEBUG": "false", "RATELIMIT_ENABLED": "false", "HF_HUB_OFFLINE": "1",
           "INFERENCE_BASE_URL": base_url, "INFERENCE_MODEL": model,
           "INFERENCE_READ_TIMEOUT": "120", "INFERENCE_TOTAL_TIMEOUT": "600", **extra}
    if redis:
        env["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    else:
        env.pop("REDIS_URL", None)
    return env


def _django_env(*, base_url: str, model: str, capacity: int, context_tokens: int | None,
                redis: bool = True) -> dict[str, str]:
    extra = {"INFERENCE_MAX_CONCURRENCY": str(capacity)}
    if context_tokens:
        extra["INFERENCE_MAX_CONTEXT_TOKENS"] = str(context_tokens)
    return django_env(base_url=base_url, model=model, redis=redis, **extra)


def _child(args: list[str], env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({out.returncode}):\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _source_ready(source) -> None:
    """Wait for the in-process ingestion (no REDIS_URL: a background thread after commit)."""
    from assistants.models import KnowledgeSource

    for _ in range(600):
        source.refresh_from_db()
        if source.status in (KnowledgeSource.Status.READY, KnowledgeSource.Status.FAILED):
            break
        time.sleep(0.1)
    if source.status != KnowledgeSource.Status.READY:
        raise SystemExit(f"the FAQ source is {source.status}: {source.error}")


def _setup_main(conversations: int, max_answer_tokens: int | None) -> None:
    """Child: a tenant with an FAQ source, ``conversations`` conversations and the prompt it builds."""
    import uuid

    import django

    django.setup()
    from assistants.chat import services as chat
    from assistants.services import business_signup, source_create
    from businesses.authentication import api_key_resolve

    signup = business_signup(email=f"bench-chat-{uuid.uuid4().hex}@example.com", password="a sturdy passphrase 42",
                             business_name="Bench Chat Bistro")
    assistant = signup.assistant
    unlimited_plan(signup.business.pk)
    if max_answer_tokens:
        assistant.max_answer_tokens = max_answer_tokens
        assistant.save(update_fields=["max_answer_tokens"])
    _source_ready(source_create(assistant=assistant, kind="faq", title="FAQ", pairs=FAQ))
    key = api_key_resolve(signup.secret_key)
    ids = [str(chat.conversation_start(assistant=assistant, key=key)[0].pk) for _ in range(conversations)]
    # The prompt Frontdesk sends for the first question, for the direct requests.
    probe, _ = chat.conversation_start(assistant=assistant, key=key)
    sent = chat.message_send(conversation=probe, content=QUESTIONS[0], idempotency_key=None)
    prepared = chat.answer_prepare(conversation=sent.conversation, customer=sent.customer, first_answer=True)
    messages = [{"role": m.role, "content": m.content} for m in prepared.request.messages]
    print(json.dumps({"key": signup.secret_key, "business_id": str(signup.business.pk), "conversations": ids,
                      "messages": messages, "max_tokens": prepared.request.max_tokens,
                      "temperature": prepared.request.temperature,
                      "passages": len(prepared.request.passages)}))


def _cleanup_main(business_ids: list[str]) -> None:
    import django

    django.setup()
    from businesses.models import Business

    try:
        deleted = Business.objects.filter(pk__in=business_ids).delete()[0]
    except Exception as exc:  # a model without its migration yet (work in progress): leave the rows
        print(f"bench businesses {business_ids} not deleted: {exc}", file=sys.stderr)
        deleted = 0
    print(json.dumps({"deleted": deleted}))


def _standin_main(tokens_per_second: float, reply_tokens: int) -> None:
    """Child: the loopback stand-in until the parent closes our stdin."""
    from http.server import ThreadingHTTPServer

    from tests.inference.misbehaving_server import MisbehavingServer

    # socketserver's listen backlog is 5: a burst of 256 connects would overflow it and
    # wait for SYN retransmits (1 s and more), which is not the model server's latency.
    ThreadingHTTPServer.request_queue_size = 1024
    # A grounded answer, as a working model gives: sentences that cite passage 1 (the grounding
    # gate streams each one as it ends), so the rows measure the usual path, not the fallback.
    words = [REPLY_WORDS[i % len(REPLY_WORDS)] for i in range(reply_tokens)]
    for i in range(SENTENCE_WORDS - 1, len(words), SENTENCE_WORDS):
        words[i] += " [1]."
    if not words[-1].endswith("."):
        words[-1] += " [1]."
    reply = " ".join(words)
    server = MisbehavingServer(mode="normal", reply=reply, tokens_per_second=tokens_per_second,
                               model="stand-in").start()
    print(server.base_url, flush=True)
    sys.stdin.read()
    server.stop()


# --------------------------------------------------------------------------- load generator


@dataclass
class Sample:
    ok: bool
    ttft: float | None
    total: float
    deltas: int
    status: int = 200
    why: str = ""  # for a failed sample: "error event", "no end", "no text" or "HTTP <status>"


@dataclass
class Result:
    server: str
    path: str  # "direct" or "Frontdesk"
    concurrency: int
    seconds: float
    samples: list[Sample]
    cpu: dict[str, float] = field(default_factory=dict)  # process -> CPU seconds in the measured rounds
    quotas: str = ""  # Frontdesk rows: "on" / "off" (BILLING_ENFORCE_QUOTAS)
    parts: list[Result] = field(default_factory=list)  # the repeats pooled into this row

    @property
    def label(self) -> str:
        return f"{self.path} q={self.quotas}" if self.quotas else self.path

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.ok]

    @property
    def errors(self) -> int:
        return len(self.samples) - len(self.ok)

    @property
    def rate(self) -> float:
        return len(self.ok) / self.seconds

    def pct(self, values: list[float], p: float) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)] * 1000

    def ttft(self, p: float) -> float:
        return self.pct([s.ttft for s in self.ok if s.ttft is not None], p)

    def total(self, p: float) -> float:
        return self.pct([s.total for s in self.ok], p)

    def cpu_ms(self, name: str) -> float:
        return self.cpu.get(name, 0.0) / max(1, len(self.ok)) * 1000


@dataclass
class Target:
    """Where one path's requests go and how to read its stream."""

    host: str
    port: int
    frontdesk: bool
    requests: list[bytes]  # one per message, in order of use


async def _read_response(reader: asyncio.StreamReader, frontdesk: bool, started: float) -> Sample:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed before the response")
    status = int(status_line.split()[1])
    length, chunked, close = None, False, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            close = True
    ttft, deltas, done, failed = None, 0, False, status != 200
    buf = b""

    def feed(data: bytes) -> None:
        nonlocal buf, ttft, deltas, done, failed
        buf += data
        while b"\n\n" in buf:
            event, buf = buf.split(b"\n\n", 1)
            if frontdesk:
                if event.startswith(b"event: delta"):
                    deltas += 1
                elif event.startswith(b"event: done"):
                    done = True
                elif event.startswith(b"event: error"):
                    failed = True
                else:
                    continue
                if deltas == 1 and ttft is None:
                    ttft = time.perf_counter() - started
                continue
            for line in event.split(b"\n"):
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    done = True
                    continue
                chunk = json.loads(payload)
                if "error" in chunk:
                    failed = True
                for choice in chunk.get("choices") or []:
                    if (choice.get("delta") or {}).get("content"):
                        deltas += 1
                        if ttft is None:
                            ttft = time.perf_counter() - started

    if chunked:
        while True:
            size = int((await reader.readline()).split(b";")[0].strip(), 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                break
            feed(data[:-2])
    elif length is not None:
        feed(await reader.readexactly(length))
    else:
        feed(await reader.read())
        close = True
    why = (f"HTTP {status}" if status != 200 else "error event" if failed else "no end" if not done
           else "no text" if not deltas else "")
    sample = Sample(ok=not why, ttft=ttft, total=time.perf_counter() - started, deltas=deltas, status=status, why=why)
    if close:
        raise _Closed(sample)
    return sample


class _Closed(Exception):  # the server closes the connection after this response
    def __init__(self, sample: Sample) -> None:
        self.sample = sample


async def _client(target: Target, requests: list[bytes], out: list[Sample]) -> None:
    """One client after another: each message is a new customer on a new connection (the time
    to connect is part of the time to first token), as a widget or API client would be; reused
    keep-alive connections would also pin every client to whichever worker accepted it first."""
    for request in requests:
        started = time.perf_counter()
        writer = None
        try:
            reader, writer = await asyncio.open_connection(target.host, target.port)
            writer.write(request)
            out.append(await _read_response(reader, target.frontdesk, started))
        except _Closed as closed:
            out.append(closed.sample)
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            out.append(Sample(ok=False, ttft=None, total=time.perf_counter() - started, deltas=0, status=0,
                              why=type(exc).__name__))
            print(f"  stream failed: {exc!r}", file=sys.stderr)
        finally:
            if writer is not None:
                writer.close()


async def _wave(target: Target, concurrency: int, per_client: int) -> tuple[list[Sample], float]:
    """``concurrency`` clients, each sending ``per_client`` messages in turn; returns samples, seconds."""
    take = [target.requests.pop() for _ in range(concurrency * per_client)]
    samples: list[Sample] = []
    started = time.perf_counter()
    await asyncio.gather(*(_client(target, take[i::concurrency], samples) for i in range(concurrency)))
    return samples, time.perf_counter() - started


def _measure(server: str, path: str, target: Target, concurrency: int, per_client: int,
             pids: dict[str, int | None], quotas: str = "", flame: Path | None = None) -> Result:
    asyncio.run(_wave(target, concurrency, 1))  # warm-up: connections, lazy loading, caches
    spy = _flame_start(pids["web"], flame) if flame else None
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    loop_before = loop_thread_seconds(pids["web"])
    load_before = time.process_time()
    samples, seconds = asyncio.run(_wave(target, concurrency, per_client))
    cpu = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
    if pids["web"]:
        cpu["web event loop"] = loop_thread_seconds(pids["web"]) - loop_before
    if spy is not None:
        _flame_stop(spy, flame)
    cpu["load generator"] = time.process_time() - load_before
    result = Result(server, path, concurrency, seconds, samples, cpu, quotas)
    statuses: dict[str, int] = {}
    for s in samples:
        if not s.ok:
            statuses[s.why] = statuses.get(s.why, 0) + 1
    print(f"  {server:<8} N={concurrency:<4} {result.label:<14} {len(result.ok):>5} ok in {seconds:6.2f} s  "
          f"{result.rate:7.1f} msg/s  ttft p50 {result.ttft(50):7.1f} ms  p99 {result.ttft(99):7.1f} ms"
          + (f"  failed: {statuses}" if statuses else ""), flush=True)
    return result


def _flame_start(pid: int, out: Path) -> subprocess.Popen:
    """py-spy sampling the web workers (the gunicorn master's children) while the rows run."""
    spy = ROOT / ".venv/bin/py-spy"
    if not spy.exists():
        raise SystemExit("--flame needs py-spy (requirements-dev.txt: make install-dev)")
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([str(spy), "record", "--pid", str(pid), "--subprocesses", "--rate", "250",
                             "--format", "raw" if out.suffix == ".txt" else "flamegraph", "--output", str(out),
                             "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # attached before the first request
    return proc


def _flame_stop(proc: subprocess.Popen, out: Path) -> None:
    proc.send_signal(signal.SIGINT)  # py-spy writes the graph on SIGINT
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        err = "timed out"
    print(f"  flame graph of the web workers: {out}" if out.exists() else f"  py-spy failed: {err[-500:]}",
          flush=True)


def _pooled(parts: list[Result]) -> Result:
    """One row from repeated measurements of the same (server, path, N, quotas)."""
    first = parts[0]
    cpu: dict[str, float] = {}
    for part in parts:
        for name, seconds in part.cpu.items():
            cpu[name] = cpu.get(name, 0.0) + seconds
    return Result(first.server, first.path, first.concurrency, sum(p.seconds for p in parts),
                  [s for p in parts for s in p.samples], cpu, first.quotas, list(parts))


def _http_post(host: str, port: int, path: str, body: dict, headers: dict[str, str]) -> bytes:
    data = json.dumps(body).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Accept: text/event-stream\r\nContent-Length: {len(data)}\r\n{head}\r\n").encode() + data


# --------------------------------------------------------------------------- one model server


def _serve_frontdesk(port: int, workers: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    cmd = [str(ROOT / ".venv/bin/gunicorn"), "config.asgi:application",
           "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            return proc
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"Frontdesk did not start; see {log}")


def _plan(concurrency: int, rounds: int, min_messages: int) -> int:
    """Messages per client in the measured rounds."""
    return max(rounds, math.ceil(min_messages / concurrency))


def _bench_server(name: str, base_url: str, model: str, capacity: int, context_tokens: int | None,
                  max_answer_tokens: int | None, model_pid: int | None, args: argparse.Namespace,
                  business_ids: list[str], quotas: list[str] | None = None) -> tuple[list[Result], dict]:
    """Direct and Frontdesk rows per N; with more than one quota setting, one Frontdesk server per
    setting (BILLING_ENFORCE_QUOTAS), the settings measured in turn per N and pooled per setting."""
    levels = args.concurrency
    quotas = quotas or ["on"]
    labelled = len(quotas) > 1 or quotas != ["on"]
    repeats = args.quota_repeats if len(quotas) > 1 else 1
    needed = sum(n * (_plan(n, args.rounds, args.min_messages) + 1) for n in levels) * len(quotas) * repeats
    setup = _child(["_setup", str(needed), str(max_answer_tokens or 0)],
                   _django_env(base_url=base_url, model=model, capacity=capacity, context_tokens=context_tokens,
                               redis=False))
    business_ids.append(setup["business_id"])
    print(f"{name}: tenant ready ({needed} conversations, prompt of {len(setup['messages'])} messages, "
          f"{sum(len(m['content']) for m in setup['messages'])} chars, {setup['passages']} passages, "
          f"max_tokens {setup['max_tokens']})", flush=True)

    LOG_DIR.mkdir(parents=True, exist_ok=True)
    webs: dict[str, tuple[int, subprocess.Popen]] = {}
    try:
        for setting in quotas:
            port = _free_port()
            log = LOG_DIR / (f"chat-frontdesk-{name}-quotas-{setting}.log" if labelled
                             else f"chat-frontdesk-{name}.log")
            env = _django_env(base_url=base_url, model=model, capacity=capacity, context_tokens=context_tokens)
            env["BILLING_ENFORCE_QUOTAS"] = "true" if setting == "on" else "false"
            webs[setting] = (port, _serve_frontdesk(port, args.workers, env, log))
        auth = {"Authorization": f"Bearer {setup['key']}"}
        conversations = list(setup["conversations"])
        # Each setting's server gets its own conversations (requests are popped from the end).
        share = len(conversations) // len(quotas)
        fd_requests = {setting: [_http_post("127.0.0.1", webs[setting][0], f"/api/v1/conversations/{cid}/messages",
                                            {"content": QUESTIONS[i % len(QUESTIONS)]}, auth)
                                 for i, cid in enumerate(conversations[k * share:(k + 1) * share])]
                       for k, setting in enumerate(quotas)}
        url = urlsplit(base_url)
        direct_body = {"model": model, "messages": setup["messages"], "max_tokens": setup["max_tokens"],
                       "temperature": setup["temperature"], "stream": True,
                       "stream_options": {"include_usage": True}}
        direct_request = _http_post(url.hostname, url.port, url.path.rstrip("/") + "/chat/completions",
                                    direct_body, {})
        floor_request = None
        if args.floor:
            port = _free_port()
            env = _django_env(base_url=base_url, model=model, capacity=capacity, context_tokens=context_tokens)
            env["DJANGO_SETTINGS_MODULE"] = "bench.floor_settings"
            webs["floor"] = (port, _serve_frontdesk(port, args.workers, env, LOG_DIR / f"chat-floor-{name}.log"))
            floor_request = _http_post("127.0.0.1", port, "/bench/relay", {
                "messages": setup["messages"], "max_tokens": setup["max_tokens"],
                "temperature": setup["temperature"]}, {})
        results = []
        for n in levels:
            per_client = _plan(n, args.rounds, args.min_messages)
            pids = {"web": None, "model server": model_pid, "postgres": postmaster_pid()}
            direct = Target(url.hostname, url.port, False, [direct_request] * (n * (per_client + 1)))
            results.append(_measure(name, "direct", direct, n, per_client, pids))
            if floor_request is not None:
                port, floor = webs["floor"]
                relay = Target("127.0.0.1", port, True, [floor_request] * (n * (per_client + 1)))
                results.append(_measure(name, "floor", relay, n, per_client, {**pids, "web": floor.pid}))
            parts: dict[str, list[Result]] = {setting: [] for setting in quotas}
            for r in range(repeats):
                for setting in (quotas if r % 2 == 0 else quotas[::-1]):  # on, off, off, on, ...
                    port, web = webs[setting]
                    frontdesk = Target("127.0.0.1", port, True, fd_requests[setting])
                    flame = (args.flame if args.flame and n == max(levels) and r == 0 and setting == quotas[0]
                             else None)
                    parts[setting].append(_measure(name, "Frontdesk", frontdesk, n, per_client,
                                                   {**pids, "web": web.pid}, setting if labelled else "",
                                                   flame=flame))
            results += [_pooled(parts[setting]) for setting in quotas]
    finally:
        for _, web in webs.values():
            web.terminate()
        for _, web in webs.values():
            web.wait(timeout=30)
    return results, setup


# --------------------------------------------------------------------------- in-process profile


def _profile_main(requests: int) -> None:
    """Child: one request's steps, timed in-process (Django set up like a web worker)."""
    import cProfile
    import io
    import pstats
    import uuid

    import django

    django.setup()
    from asgiref.sync import sync_to_async
    from django.db import connection

    from assistants import selectors
    from assistants.chat import services as chat
    from assistants.services import business_signup, source_create
    from businesses.authentication import api_key_resolve
    from businesses.models import Business
    from inference import providers
    from inference.types import ChatDelta

    signup = business_signup(email=f"bench-chat-{uuid.uuid4().hex}@example.com", password="a sturdy passphrase 42",
                             business_name="Bench Chat Profile")
    unlimited_plan(signup.business.pk)
    _source_ready(source_create(assistant=signup.assistant, kind="faq", title="FAQ", pairs=FAQ))
    key = api_key_resolve(signup.secret_key)
    total = requests + 3
    ids = [chat.conversation_start(assistant=signup.assistant, key=key)[0].pk
           for _ in range(total * 2 + requests + 2 * (requests + 3))]

    steps: dict[str, list[float]] = {}
    step_cpu: dict[str, list[float]] = {}
    sql: dict[str, list[tuple[int, float]]] = {}
    current: list[str] = []

    def record(name: str, seconds: float) -> None:
        steps.setdefault(name, []).append(seconds)

    def timed(name: str, fn):
        def wrapper(*a, **kw):
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                record(name, time.perf_counter() - t)
        return wrapper

    def sql_timer(execute, query, params, many, context):
        t = time.perf_counter()
        try:
            return execute(query, params, many, context)
        finally:
            bucket = sql.setdefault(current[-1] if current else "?", [])
            bucket.append((1, time.perf_counter() - t))

    def step(name: str, fn):
        """Run sync ORM code as the view does (db(): the loop's executor), timed inside the thread."""
        def run(*a, **kw):
            current.append(name)
            t, cpu = time.perf_counter(), time.process_time()  # one request at a time: the process's CPU is its
            try:
                with connection.execute_wrapper(sql_timer):
                    return fn(*a, **kw)
            finally:
                record(name, time.perf_counter() - t)
                step_cpu.setdefault(name, []).append(time.process_time() - cpu)
                current.pop()
        return sync_to_async(run, thread_sensitive=False)

    embedder = providers.embedder()
    embed_cpu: list[float] = []
    embed_query = embedder.embed_query

    def embed_timed(text):
        t = time.process_time()  # ONNX Runtime may compute on its own threads
        try:
            return embed_query(text)
        finally:
            embed_cpu.append(time.process_time() - t)

    embedder.embed_query = timed("  embed the query (MiniLM, ONNX int8)", embed_timed)
    embedder.count_tokens = timed("  count tokens (prompt budget)", embedder.count_tokens)
    selectors.assistant_chunk_count = timed("  count the assistant's chunks (SQL)", selectors.assistant_chunk_count)
    selectors.hybrid_search = timed("  hybrid search (SQL)", selectors.hybrid_search)
    chat.chunks_search = timed("  chunks_search (embed + count + search)", chat.chunks_search)
    chat.build_prompt = timed("  build_prompt", chat.build_prompt)

    async def one(cid, question: str) -> None:
        t0 = time.perf_counter()
        conversation = await step("look up the conversation", chat.conversation_for_caller)(
            business=key.business, conversation_id=cid, key=key, customer_token=None)
        _, prepared = await step("save the message, prepare the answer", chat.message_answer_begin)(
            conversation=conversation, content=question, idempotency_key=None)
        t1 = time.perf_counter()
        record("total before the model request", t1 - t0)
        first = None
        async for item in chat.answer_events(prepared):
            if first is None and isinstance(item, ChatDelta):
                first = time.perf_counter()
                record("model server: first token (client + server)", first - t1)
        record("model server: rest of the stream + save the answer", time.perf_counter() - (first or t1))

    async def run_all() -> None:
        for i in range(total):
            await one(ids[i], QUESTIONS[i % len(QUESTIONS)])
            if i == 2:  # warm-ups done
                steps.clear()
                step_cpu.clear()
                sql.clear()

    asyncio.run(run_all())
    embed_cpu_ms = statistics.median(embed_cpu[3:] or embed_cpu) * 1000
    rows = []
    for name, values in steps.items():
        queries = sql.get(name.strip(), [])
        rows.append({"step": name, "p50_ms": statistics.median(values) * 1000,
                     "mean_ms": statistics.fmean(values) * 1000, "n": len(values),
                     "sql_per_call": len(queries) / len(values) if queries else 0,
                     "sql_ms_per_call": sum(q[1] for q in queries) / len(values) * 1000 if queries else 0,
                     "cpu_ms": statistics.median(step_cpu[name]) * 1000 if name in step_cpu else None})

    # The whole request through the ASGI app in-process (no HTTP server): wall time to the first
    # delta and to the end, CPU of the event-loop thread and of the whole process per message.
    from config.asgi import application

    async def asgi_one(cid, question: str) -> dict:
        body = json.dumps({"content": question}).encode()
        path = f"/api/v1/conversations/{cid}/messages"
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {signup.secret_key}".encode()),
                             (b"content-type", b"application/json"), (b"accept", b"text/event-stream"),
                             (b"content-length", str(len(body)).encode())],
                 "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000)}
        finished = asyncio.Event()
        first, sends, received = None, 0, False

        async def receive():
            nonlocal received
            if not received:
                received = True
                return {"type": "http.request", "body": body, "more_body": False}
            await finished.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            nonlocal first, sends
            sends += 1
            if message["type"] == "http.response.body":
                if first is None and b"event: delta" in message.get("body", b""):
                    first = time.perf_counter()
                if not message.get("more_body"):
                    finished.set()

        t0, cpu0, loop0 = time.perf_counter(), time.process_time(), time.thread_time()
        await application(scope, receive, send)
        return {"ttft": (first or t0) - t0, "total": time.perf_counter() - t0, "sends": sends,
                "cpu": time.process_time() - cpu0, "loop_cpu": time.thread_time() - loop0}

    asgi_ids = ids[total * 2 + requests:]

    async def asgi_all(profile: cProfile.Profile | None, offset: int) -> list[dict]:
        out = []
        for i in range(requests + 3):
            if profile is not None and i >= 3:
                profile.enable()
            out.append(await asgi_one(asgi_ids[offset + i], QUESTIONS[i % len(QUESTIONS)]))
            if profile is not None:
                profile.disable()
            await asyncio.sleep(0.05)  # let the answer's save finish, as between customers
        return out[3:]

    asgi = asyncio.run(asgi_all(None, 0))
    loop_profile = cProfile.Profile(time.thread_time)  # CPU of the event-loop thread only, not its idle waits
    asyncio.run(asgi_all(loop_profile, requests + 3))
    loop_text = io.StringIO()
    # By cumulative time, the event loop's own frames (and its idle epoll wait) left out.
    pstats.Stats(loop_profile, stream=loop_text).sort_stats("tottime").print_stats(
        r"^(?!.*(base_events|selectors|events\.py|runners|\{method 'poll'|\{method 'run' of '_contextvars)).*$", 22)
    in_process = {name: statistics.median(r[name] for r in asgi) * 1000 for name in ("ttft", "total", "cpu",
                                                                                    "loop_cpu")}
    in_process["sends"] = statistics.median(r["sends"] for r in asgi)

    # cProfile of answer_prepare alone (sync, this thread), over fresh conversations.
    profiler = cProfile.Profile()
    for i in range(total, total + requests):
        conversation = chat.conversation_for_caller(business=key.business, conversation_id=ids[i], key=key,
                                                    customer_token=None)
        sent = chat.message_send(conversation=conversation, content=QUESTIONS[i % len(QUESTIONS)],
                                 idempotency_key=None)
        profiler.enable()
        chat.answer_prepare(conversation=sent.conversation, customer=sent.customer, first_answer=True)
        profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(14)
    try:
        Business.objects.filter(pk=signup.business.pk).delete()
    except Exception as exc:  # see _cleanup_main
        print(f"bench business {signup.business.pk} not deleted: {exc}", file=sys.stderr)
    print(json.dumps({"steps": rows, "cprofile": text.getvalue(), "asgi": in_process, "embed_cpu_ms": embed_cpu_ms,
                      "loop_cprofile": loop_text.getvalue()}))


# --------------------------------------------------------------------------- main


def _table(results: list[Result], args: argparse.Namespace, meta: list[str]) -> None:
    print(f"\n{args.workers} Frontdesk worker processes, {os.cpu_count()} cores; "
          + "; ".join(meta))
    print("CPU ms per message: web = gunicorn + uvicorn workers, model = the model server, "
          "pg = PostgreSQL backends of the frontdesk database, load = this process")
    head = (f"{'server':<8} {'N':>4} {'path':<14} {'msgs':>5} {'err':>4} {'msg/s':>7} {'ttft p50':>9} "
            f"{'ttft p99':>9} {'total p50':>9} {'total p99':>9} {'tok':>4} {'web':>5} {'model':>5} {'pg':>5} "
            f"{'load':>5} {'msg/s F/D':>9} {'+ttft p50':>9}")
    print(head)
    direct: dict[tuple[str, int], Result] = {}
    for r in results:
        toks = statistics.median([s.deltas for s in r.ok]) if r.ok else 0
        line = (f"{r.server:<8} {r.concurrency:>4} {r.label:<14} {len(r.ok):>5} {r.errors:>4} {r.rate:>7.1f} "
                f"{r.ttft(50):>9.1f} {r.ttft(99):>9.1f} {r.total(50):>9.1f} {r.total(99):>9.1f} {toks:>4.0f} "
                f"{r.cpu_ms('web'):>5.1f} {r.cpu_ms('model server'):>5.1f} {r.cpu_ms('postgres'):>5.1f} "
                f"{r.cpu_ms('load generator'):>5.1f}")
        if r.path == "direct":
            direct[(r.server, r.concurrency)] = r
        else:
            d = direct.get((r.server, r.concurrency))
            if d is not None:
                line += f" {r.rate / d.rate:>9.2f} {r.ttft(50) - d.ttft(50):>9.1f}"
        print(line)


def _quota_table(results: list[Result]) -> None:
    """Quotas on against off, per (server, N): the pooled p50s and the spread between repeats."""
    rows = {(r.server, r.concurrency, r.quotas): r for r in results if r.path == "Frontdesk" and r.quotas}
    pairs = [(server, n) for (server, n, q) in rows if q == "on" and (server, n, "off") in rows]
    if not pairs:
        return
    print("\nQuotas on against off (Frontdesk rows, the same run and tenant; p50 of the pooled repeats, "
          "[min-max of the repeats' own p50s]):")
    print(f"{'server':<8} {'N':>4} {'msgs on/off':>11} {'ttft p50 on':>22} {'ttft p50 off':>22} {'+ttft p50':>9} "
          f"{'total p50 on':>22} {'total p50 off':>22} {'+total p50':>10} {'web CPU/msg on/off':>18}")

    def spread(r: Result, what) -> str:
        values = [what(part) for part in r.parts] or [what(r)]
        return f"{what(r):7.1f} [{min(values):.1f}-{max(values):.1f}]"

    for server, n in pairs:
        on, off = rows[(server, n, "on")], rows[(server, n, "off")]
        print(f"{server:<8} {n:>4} {len(on.ok):>5}/{len(off.ok):<5} {spread(on, lambda r: r.ttft(50)):>22} "
              f"{spread(off, lambda r: r.ttft(50)):>22} {on.ttft(50) - off.ttft(50):>+9.1f} "
              f"{spread(on, lambda r: r.total(50)):>22} {spread(off, lambda r: r.total(50)):>22} "
              f"{on.total(50) - off.total(50):>+10.1f} {on.cpu_ms('web'):>8.1f}/{off.cpu_ms('web'):<9.1f}")


# --------------------------------------------------------------------------- prefix cache

# A fuller FAQ for the prefix-cache measurement: 20 customers, 20 different questions.
PREFIX_FAQ = [
    ("Can I bring my dog?", "Dogs are welcome on our terrace, but not inside the dining room."),
    ("Do you have parking?", "There is free parking for guests behind the restaurant, entrance on Mill Lane."),
    ("Do you deliver?", "We deliver within 5 km on Friday and Saturday evenings; order by phone."),
    ("Can I book a table for a big group?", "Groups of up to 8 can book online; for more please call us."),
    ("Do you have vegan dishes?", "Our garden curry and the tofu noodles are vegan."),
    ("Is there a children's menu?", "Children get smaller portions of the noodles and the rice dishes."),
    ("Can I pay by card?", "We take debit and credit cards, and contactless payments."),
    ("Is the restaurant wheelchair accessible?", "The dining room and the toilets are step-free."),
    ("Do you serve gluten-free food?", "Ask for the rice noodles; the soy sauce can be gluten-free tamari."),
    ("Can I bring my own wine?", "You may bring your own wine; we open it for a corkage fee."),
    ("Do you cater for parties?", "We cater for birthday and office parties with set menus."),
    ("Is there wifi?", "Guests can use our free wifi; the password is on the menu."),
    ("Do you sell gift vouchers?", "Gift vouchers are sold at the counter in any amount."),
    ("Are there high chairs?", "We have high chairs for babies and toddlers."),
    ("Do you take reservations by email?", "Reservations are taken by phone or on our website, not by email."),
    ("Is there outdoor seating?", "The terrace seats guests outside from spring to autumn."),
    ("Do you have halal meat?", "Our chicken and lamb are halal certified."),
    ("Can I order takeaway?", "Takeaway orders are collected at the counter; call ahead."),
    ("Do you have a lunch special?", "On weekdays the lunch special is a soup with a main dish."),
    ("Is there a dress code?", "There is no dress code; come as you are."),
]


def _prefix_main(base_url: str, model: str, order: str, customers: int) -> None:
    """Child: one business (its own name: its own prompt head), ``customers`` customers asking
    different questions one after another through the real chat flow, with the vLLM server's
    prefix-cache counters read before and after."""
    import uuid

    import django

    django.setup()
    from django.conf import settings

    from assistants.chat import services as chat
    from assistants.services import business_signup, source_create
    from businesses.authentication import api_key_resolve
    from businesses.models import Business
    from tests.inference.vllm_support import parse_metrics

    settings.CHAT_PASSAGE_ORDER = order
    signup = business_signup(email=f"bench-prefix-{uuid.uuid4().hex}@example.com", password="a sturdy passphrase 42",
                             business_name=f"Bench Prefix Bistro {order} {uuid.uuid4().hex[:6]}")
    unlimited_plan(signup.business.pk)
    assistant = signup.assistant
    assistant.instructions = ("Greet the guest warmly. Mention the terrace when the weather is asked about. "
                              "Never promise a table: offer to book one. Keep answers to two sentences.")
    assistant.max_answer_tokens = 8
    assistant.save(update_fields=["instructions", "max_answer_tokens"])
    _source_ready(source_create(assistant=assistant, kind="faq", title="FAQ",
                                pairs=[{"question": q, "answer": a} for q, a in PREFIX_FAQ]))
    key = api_key_resolve(signup.secret_key)

    def counters() -> dict[str, float]:
        metrics = parse_metrics(urlopen(base_url.rsplit("/v1", 1)[0] + "/metrics", timeout=10).read().decode())
        return {name: metrics.get(f"vllm:{name}_total", metrics.get(f"vllm:{name}", 0.0))
                for name in ("prefix_cache_queries", "prefix_cache_hits", "prompt_tokens")}

    before = counters()
    prompt_tokens, answered = [], 0
    for i in range(customers):
        conversation, _ = chat.conversation_start(assistant=assistant, key=key)
        question = PREFIX_FAQ[i % len(PREFIX_FAQ)][0]
        _, prepared = chat.message_answer_begin(conversation=conversation, content=question, idempotency_key=None)
        if prepared is None or prepared.composed is not None:
            continue
        outcome = chat.answer_run(prepared)
        if isinstance(outcome, chat.Done):
            answered += 1
            prompt_tokens.append(outcome.answer.tokens_in)
    after = counters()
    Business.objects.filter(pk=signup.business.pk).delete()
    delta = {name: after[name] - before[name] for name in before}
    print(json.dumps({"order": order, "answered": answered, "customers": customers, **delta,
                      "prompt_tokens_mean": statistics.fmean(prompt_tokens) if prompt_tokens else 0}))


def _prefix_cache(args: argparse.Namespace) -> dict:
    """The prefix-cache hit rate of the genuine vLLM on the CPU, per passage order, same run."""
    from tests.inference.vllm_support import VLLMServer, build_tiny_model, ensure_vllm_venv

    ensure_vllm_venv()
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_tiny_model(Path(tmp) / "tiny-llama")
        # Blocks of 32 tokens (the CPU backend's default is 128; GPUs use 16): a cached prefix
        # counts in whole blocks.
        server = VLLMServer(model_dir, max_num_seqs=8, extra_args=("--enable-prefix-caching", "--block-size", "32"))
        server.start()
        try:
            print(f"\nPrefix cache (vLLM {server.model} on the CPU, --block-size 32): one business per row, "
                  f"{args.prefix_customers} customers asking different questions, one after another")
            print(f"{'passage order':<14} {'answered':>8} {'prompt tok':>10} {'queried':>8} {'hits':>7} "
                  f"{'hit rate':>8}")
            for order in ("rank", "document"):
                row = _child(["_prefix", server.base_url, server.model, order, str(args.prefix_customers)],
                             _django_env(base_url=server.base_url, model=server.model, capacity=8,
                                         context_tokens=VLLM_CONTEXT_TOKENS, redis=False))
                rate = row["prefix_cache_hits"] / row["prefix_cache_queries"] if row["prefix_cache_queries"] else 0.0
                print(f"{order:<14} {row['answered']:>8} {row['prompt_tokens_mean']:>10.0f} "
                      f"{row['prefix_cache_queries']:>8.0f} {row['prefix_cache_hits']:>7.0f} {rate:>8.1%}")
                out[f"prefix_hit_rate_{order}"] = round(rate, 3)
        finally:
            server.stop()
    return out


def _cpu_summary(results: list[Result]) -> dict:
    """CPU per streamed message at the largest N (the stand-in): Frontdesk's web workers and
    PostgreSQL against the direct client (the load generator reading the same stream)."""
    rows = [r for r in results if r.server == "stand-in" and r.quotas in ("", "on")]
    if not rows:
        return {}
    n = max(r.concurrency for r in rows)
    direct = next((r for r in rows if r.path == "direct" and r.concurrency == n), None)
    fd = next((r for r in rows if r.path == "Frontdesk" and r.concurrency == n), None)
    if direct is None or fd is None:
        return {}
    web, pg, client = fd.cpu_ms("web"), fd.cpu_ms("postgres"), direct.cpu_ms("load generator")
    loop = fd.cpu_ms("web event loop")
    print(f"\nCPU per streamed message at N={n} (stand-in): web {web:.1f} ms + PostgreSQL {pg:.1f} ms = "
          f"{web + pg:.1f} ms (target <= 10); the direct client reading the same stream: {client:.1f} ms")
    print(f"  web: event-loop threads {loop:.1f} ms (request, stream, SSE), other threads {web - loop:.1f} ms "
          "(database work, embedding: the executor)")
    floor = next((r for r in rows if r.path == "floor" and r.concurrency == n), None)
    extra = {}
    if floor is not None:
        extra["floor_cpu_ms_per_msg"] = round(floor.cpu_ms("web"), 2)
        print(f"  floor (the same stream relayed by a bare async Django view: uvicorn, Django's ASGI handler, "
              f"the vLLM client, SSE; no key, database or embedding): web {floor.cpu_ms('web'):.1f} ms")
    return {"concurrency": n, "web_cpu_ms_per_msg": round(web, 2), "pg_cpu_ms_per_msg": round(pg, 2), **extra,
            "web_loop_cpu_ms_per_msg": round(loop, 2), "web_threads_cpu_ms_per_msg": round(web - loop, 2),
            "web_pg_cpu_ms_per_msg": round(web + pg, 2), "direct_cpu_ms_per_msg": round(client, 2),
            "frontdesk_msgs_per_s": round(fd.rate, 1), "direct_msgs_per_s": round(direct.rate, 1)}


def _quota_micro_main(calls: int) -> None:
    """Child: the quota path timed in-process for one throwaway business on the largest plan,
    interleaved with reference round trips (the same connection, the same moment)."""
    import uuid

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from assistants.chat import services as chat
    from assistants.services import business_signup
    from billing.selectors import quota_context
    from billing.services import message_quota_reserve, usage_record_answer
    from businesses.authentication import api_key_resolve
    from businesses.models import Business

    signup = business_signup(email=f"bench-quota-{uuid.uuid4().hex}@example.com", password="a sturdy passphrase 42",
                             business_name="Bench Quota Micro")
    bid = signup.business.pk
    try:
        unlimited_plan(bid)
        key = api_key_resolve(signup.secret_key)
        cid = chat.conversation_start(assistant=signup.assistant, key=key)[0].pk
        plan = quota_context(business_id=bid).plan

        def select_1() -> None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()

        def lookup() -> None:
            chat.conversation_for_caller(business=key.business, conversation_id=cid, key=key, customer_token=None)

        def context() -> None:
            quota_context(business_id=bid)

        def reserve_on() -> None:
            message_quota_reserve(business_id=bid)

        def record() -> None:
            usage_record_answer(business_id=bid, tokens_in=600, tokens_out=40)

        def reserve_and_record() -> None:
            message_quota_reserve(business_id=bid)
            usage_record_answer(business_id=bid, tokens_in=600, tokens_out=40)

        def reserve_off() -> None:
            settings.BILLING_ENFORCE_QUOTAS = False
            try:
                message_quota_reserve(business_id=bid)
            finally:
                settings.BILLING_ENFORCE_QUOTAS = True

        ops = {
            "SELECT 1 (reference: one round trip)": select_1,
            "conversation lookup (reference: the chat flow's)": lookup,
            "  quota_context (subscription + plan)": context,
            "message_quota_reserve, quotas on": reserve_on,
            "usage_record_answer": record,
            "reserve + record, quotas on": reserve_and_record,
            "message_quota_reserve, quotas off": reserve_off,
        }
        settings.BILLING_ENFORCE_QUOTAS = True
        queries = {}
        for name, fn in ops.items():
            with CaptureQueriesContext(connection) as captured:
                fn()
            queries[name] = len(captured.captured_queries)
        wall: dict[str, list[float]] = {name: [] for name in ops}
        cpu: dict[str, list[float]] = {name: [] for name in ops}
        names = list(ops)
        warm_up = 50
        for i in range(warm_up + calls):
            order = names[i % len(names):] + names[:i % len(names)]  # rotate: no op always first
            for name in order:
                t, c = time.perf_counter(), time.thread_time()
                ops[name]()
                elapsed, used = time.perf_counter() - t, time.thread_time() - c
                if i >= warm_up:
                    wall[name].append(elapsed)
                    cpu[name].append(used)

        def pct(values: list[float], p: float) -> float:
            ordered = sorted(values)
            return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)] * 1000

        rows = [{"op": name, "queries": queries[name], "p50_ms": pct(wall[name], 50), "p99_ms": pct(wall[name], 99),
                 "mean_ms": statistics.fmean(wall[name]) * 1000, "cpu_p50_ms": pct(cpu[name], 50)}
                for name in names]
        print(json.dumps({"calls": calls, "plan": plan.code, "messages_per_month": plan.messages_per_month,
                          "overage_allowed": plan.overage_allowed, "rows": rows}))
    finally:
        try:
            Business.objects.filter(pk=bid).delete()
        except Exception as exc:  # see _cleanup_main
            print(f"bench business {bid} not deleted: {exc}", file=sys.stderr)


def _quota_micro(args: argparse.Namespace) -> None:
    started = time.monotonic()
    report = _child(["_quota_micro", str(args.quota_calls)],
                    _django_env(base_url="", model="", capacity=1, context_tokens=None, redis=False))
    rows = {row["op"]: row for row in report["rows"]}
    print(f"\nThe quota path in-process ({report['calls']} calls of each, interleaved, one business on the "
          f"{report['plan']} plan: {report['messages_per_month']} messages/month, overage "
          f"{'allowed' if report['overage_allowed'] else 'not allowed'}; {time.monotonic() - started:.0f} s):")
    print(f"{'operation':<52} {'SQL':>4} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'CPU p50 ms':>10}")
    for row in report["rows"]:
        print(f"{row['op']:<52} {row['queries']:>4} {row['p50_ms']:>8.3f} {row['p99_ms']:>8.3f} "
              f"{row['mean_ms']:>8.3f} {row['cpu_p50_ms']:>10.3f}")
    on, off = rows["message_quota_reserve, quotas on"], rows["message_quota_reserve, quotas off"]
    both = rows["reserve + record, quotas on"]
    print(f"added by enforcement (reserve on - off; usage_record_answer runs either way): "
          f"p50 {on['p50_ms'] - off['p50_ms']:.3f} ms, p99 {on['p99_ms'] - off['p99_ms']:.3f} ms; "
          f"the whole quota path (reserve + record): p50 {both['p50_ms']:.3f} ms, p99 {both['p99_ms']:.3f} ms "
          f"(target: added p50 under 2 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 32, 256])
    parser.add_argument("--workers", type=int, default=2, help="Frontdesk worker processes")
    parser.add_argument("--rounds", type=int, default=2, help="measured messages per client (at least)")
    parser.add_argument("--min-messages", type=int, default=20, help="measured messages per row (at least)")
    parser.add_argument("--tokens-per-second", type=float, default=50.0, help="stand-in: per request")
    parser.add_argument("--reply-tokens", type=int, default=40, help="stand-in: tokens per answer")
    parser.add_argument("--no-standin", action="store_true", help="skip the stand-in")
    parser.add_argument("--vllm", action="store_true", help="also the genuine vLLM on the CPU (~35 s startup)")
    parser.add_argument("--max-num-seqs", type=int, default=256, help="vLLM: sequences per batch")
    parser.add_argument("--vllm-max-tokens", type=int, default=16, help="vLLM: tokens per answer")
    parser.add_argument("--profile", action="store_true", help="time one request's steps in-process")
    parser.add_argument("--profile-requests", type=int, default=30)
    parser.add_argument("--flame", type=Path, default=None,
                        help="py-spy flame graph of the web workers during the largest N's Frontdesk row (.svg; .txt: "
                             "collapsed stacks)")
    parser.add_argument("--quotas", type=lambda s: [x.strip() for x in s.split(",") if x.strip()], default=["on"],
                        help="stand-in: Frontdesk rows per BILLING_ENFORCE_QUOTAS setting, e.g. on,off")
    parser.add_argument("--quota-repeats", type=int, default=3,
                        help="with several --quotas: measurements per setting and N, alternating")
    parser.add_argument("--quota-micro", action="store_true",
                        help="time the quota path in-process (default with several --quotas)")
    parser.add_argument("--quota-calls", type=int, default=2000, help="--quota-micro: calls of each operation")
    parser.add_argument("--prefix-cache", action="store_true",
                        help="the genuine vLLM on the CPU: its prefix-cache hit rate per passage order")
    parser.add_argument("--prefix-customers", type=int, default=20)
    parser.add_argument("--no-floor", action="store_false", dest="floor",
                        help="skip the floor row (bench/floor_urls.py: the stream relayed by a bare Django view)")
    parser.add_argument("--quick", action="store_true",
                        help="the same measurement, shorter (N=256 only, fewer messages; under two minutes)")
    parser.add_argument("--json", type=Path, default=None, dest="json_out",
                        help="write web_cpu_ms_per_msg, pg_cpu_ms_per_msg, direct_cpu_ms_per_msg, ... to FILE")
    args = parser.parse_args()
    if args.quick:
        args.concurrency, args.rounds, args.min_messages = [256], 1, 20
        args.profile_requests = min(args.profile_requests, 10)
    if not args.quotas or set(args.quotas) - {"on", "off"} or len(set(args.quotas)) != len(args.quotas):
        parser.error("--quotas takes on, off or on,off")

    print(f"bench/chat.py {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True,
                   env=_django_env(base_url="", model="", capacity=1, context_tokens=None, redis=False))
    results: list[Result] = []
    meta: list[str] = []
    business_ids: list[str] = []
    profile_url = None
    standin = None
    try:
        if not args.no_standin:
            standin = subprocess.Popen([sys.executable, __file__, "_standin", str(args.tokens_per_second),
                                        str(args.reply_tokens)], cwd=ROOT, stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True)
            base_url = standin.stdout.readline().strip()
            profile_url = base_url
            meta.append(f"stand-in: {args.reply_tokens} tokens at {args.tokens_per_second:g} tokens/s per request, "
                        "unlimited concurrency (INFERENCE_MAX_CONCURRENCY=256)")
            rows, _ = _bench_server("stand-in", base_url, "stand-in", 256, None, None, standin.pid, args,
                                    business_ids, args.quotas)
            results += rows
        if args.vllm:
            from tests.inference.vllm_support import build_tiny_model, ensure_vllm_venv, start_vllm_server

            ensure_vllm_venv()
            with tempfile.TemporaryDirectory() as tmp:
                model_dir = build_tiny_model(Path(tmp) / "tiny-llama")
                started = time.monotonic()
                server = start_vllm_server(model_dir, max_num_seqs=args.max_num_seqs)
                try:
                    print(f"vLLM ready in {time.monotonic() - started:.0f} s (--max-num-seqs {args.max_num_seqs})",
                          flush=True)
                    meta.append(f"vLLM {server.model}: --max-num-seqs {args.max_num_seqs}, 1 OMP thread, "
                                f"max_tokens {args.vllm_max_tokens} (INFERENCE_MAX_CONCURRENCY={args.max_num_seqs})")
                    rows, _ = _bench_server("vLLM", server.base_url, server.model, args.max_num_seqs,
                                            VLLM_CONTEXT_TOKENS, args.vllm_max_tokens, server.proc.pid, args,
                                            business_ids)
                    results += rows
                finally:
                    server.stop()
        _table(results, args, meta)
        _quota_table(results)
        summary = _cpu_summary(results)
        if args.quota_micro or len(args.quotas) > 1:
            _quota_micro(args)
        if args.profile and profile_url:
            report = _child(["_profile", str(args.profile_requests)],
                            _django_env(base_url=profile_url, model="stand-in", capacity=256, context_tokens=None,
                                        redis=False))
            print(f"\nOne request, in-process ({args.profile_requests} requests after 3 warm-ups, one at a time; "
                  f"the stand-in waits 1/{args.tokens_per_second:g} s before each token):")
            print(f"{'step':<52} {'p50 ms':>8} {'mean ms':>8} {'SQL/call':>9} {'SQL ms':>7} {'CPU ms':>7}")
            for row in report["steps"]:
                print(f"{row['step']:<52} {row['p50_ms']:>8.2f} {row['mean_ms']:>8.2f} "
                      f"{row['sql_per_call']:>9.1f} {row['sql_ms_per_call']:>7.2f} "
                      + (f"{row['cpu_ms']:>7.2f}" if row.get("cpu_ms") is not None else f"{'':>7}"))
            a = report["asgi"]
            print(f"\nThe whole request through config.asgi.application in-process (no HTTP server, "
                  f"{args.profile_requests} requests one at a time): first delta {a['ttft']:.1f} ms, end "
                  f"{a['total']:.1f} ms, {a['sends']:.0f} ASGI sends; CPU per message: event-loop thread "
                  f"{a['loop_cpu']:.1f} ms, whole process {a['cpu']:.1f} ms (p50)")
            if summary:
                summary["embed_cpu_ms_per_msg"] = round(report["embed_cpu_ms"], 2)
                print(f"  of which the local embedding model (MiniLM, ONNX, in the web process): "
                      f"{report['embed_cpu_ms']:.1f} ms per message (in-process, one at a time)")
            print("\ncProfile of answer_prepare (tottime):")
            print(report["cprofile"])
            print("cProfile of the event-loop thread over whole requests (its CPU time, by own time; cProfile's "
                  "own overhead inflates the many small calls):")
            print(report["loop_cprofile"])
        if args.prefix_cache:
            summary.update(_prefix_cache(args))
        if args.json_out and summary:
            args.json_out.write_text(json.dumps(summary, indent=2) + "\n")
            print(f"\nwrote {args.json_out}")
    finally:
        if standin is not None:
            standin.stdin.close()
            try:
                standin.wait(timeout=10)
            except subprocess.TimeoutExpired:
                standin.send_signal(signal.SIGKILL)
        if business_ids:
            _child(["_cleanup", *business_ids],
                   _django_env(base_url="", model="", capacity=1, context_tokens=None, redis=False))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_setup":
        _setup_main(int(sys.argv[2]), int(sys.argv[3]) or None)
    elif len(sys.argv) > 1 and sys.argv[1] == "_standin":
        _standin_main(float(sys.argv[2]), int(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "_profile":
        _profile_main(int(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "_quota_micro":
        _quota_micro_main(int(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "_prefix":
        _prefix_main(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "_cleanup":
        _cleanup_main(sys.argv[2:])
    else:
        main()
