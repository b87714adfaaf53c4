"""Answers a customer can trust (issue 17): the answers knowledge base through the real chat endpoint.

    .venv/bin/python bench/answers.py [--backend extractive,liar] [--vllm-url URL [--vllm-model NAME]]
        [--verbose] [--json PATH] [--db NAME] [--keep] [--latency-rounds 3]

The knowledge base is tests/assistants/answers_kb.py: three businesses (a Sichuan restaurant
with a menu CSV and Chinese text, a dental clinic, a bike shop with a product CSV), each with
business hours and dated exceptions, and their questions: answerable ones with the facts the
answer must state and the wrong claims it must not make, and unanswerable ones (a third) that
must get the handoff. The run (tests/assistants/answers_runner.py, shared with the slow test
tests/assistants/test_answers.py) creates the businesses with ``business_signup``, sets hours,
exceptions and handoff message through ``PATCH /api/v1/assistants/{id}``, adds the knowledge
through ``POST /api/v1/assistants/{id}/sources`` and the real ingestion service, marks the
sold-out items ``available=False`` when the CSV became catalog items, then asks each question
in a new conversation through ``POST /api/v1/conversations/{id}/messages`` (DRF's APIClient,
secret key, in this process).

Backends (``--backend``, comma separated, all against the same businesses):

- ``extractive`` (default): the embedded answerer, no model server;
- ``liar``: a loopback OpenAI-compatible stand-in (tests/inference/misbehaving_server.py) that
  answers every question with a confident wrong price and a bogus ``[1]`` marker: what the
  vLLM path's grounding checks must catch;
- ``vllm``: a real vLLM at ``--vllm-url`` (``--vllm-model``: default, the first model it serves).

Per backend: correct (answerable questions answered with the facts, no wrong claim, an allowed
grounding), honest (unanswerable ones answered with the handoff, grounding "none"), forbidden
(answers with a wrong claim: a forbidden string, a number in an answer that should have been
the handoff, a price found nowhere in the knowledge), dumps (record-like answers), and the p50
of the catalog lookup ``assistants.catalog.answers.catalog_answer`` timed directly over the
catalog questions (n/a while it does not exist), with ``assistants.selectors.chunks_search``
over the same questions as the reference in the same run. Targets (issue 17): correct >= 0.95,
honest = 1.0, forbidden = 0, dumps = 0, lookup <= 5 ms p50.

Database: ``--db NAME`` (default ``frontdesk_bench_answers``) on the embedded server, created
and migrated for the run and dropped at the end unless ``--keep``. A benchmark, not a test:
it is not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LIAR_REPLY = "Certainly! It costs 99.99 euros and it is available every day [1]."


def _use_backend(name: str, *, base_url: str = "", model: str = "") -> None:
    from django.conf import settings

    from inference.chat import clear_chat_backend_cache

    if name == "extractive":
        settings.INFERENCE_BASE_URL = []
    else:
        settings.INFERENCE_BASE_URL = [base_url]
        settings.INFERENCE_MODEL = model
        settings.INFERENCE_MAX_RETRIES = 1
        settings.INFERENCE_READ_TIMEOUT = 60.0
        settings.INFERENCE_TOTAL_TIMEOUT = 180.0
    clear_chat_backend_cache()


def _served_model(url: str) -> str:
    import httpx

    models = httpx.get(url.rstrip("/") + "/models", timeout=10).json()
    return models["data"][0]["id"]


def _similarities(tenants) -> None:
    """The calibration of CHAT_RELEVANCE_FLOOR (docs/answers.md): the best passage's cosine
    similarity per question, for the answerable and the unanswerable ones."""
    from assistants.models import Assistant
    from assistants.selectors import chunks_search
    from tests.assistants.answers_kb import QUESTIONS

    best: dict[str, list[float]] = {"answer": [], "handoff": []}
    for question in QUESTIONS:
        tenant = tenants[question.business]
        assistant = Assistant.objects.unscoped().select_related("business").get(pk=tenant.assistant.pk)
        found = chunks_search(assistant=assistant, query=question.text, k=5)
        top = max((p.similarity or 0.0 for p in found), default=0.0)
        kind = question.expect.kind
        best[kind].append(top)
        print(f"  {top:5.2f} {kind:7} {question.text}")
    for kind, values in best.items():
        values.sort()
        print(f"best-passage similarity, {kind}: min {values[0]:.2f}, median {values[len(values) // 2]:.2f}, "
              f"max {values[-1]:.2f} ({len(values)} questions)")


def _run_backends(args) -> list:
    from tests.assistants.answers_kb import counts
    from tests.assistants.answers_runner import kb_run, kb_setup
    from tests.inference.misbehaving_server import misbehaving_server

    started = time.perf_counter()
    tenants = kb_setup()
    print(f"set-up: 3 businesses, knowledge ingested in {time.perf_counter() - started:.1f} s", flush=True)
    for key, tenant in tenants.items():
        for note in tenant.notes:
            print(f"  note [{key}]: {note}")
    kb_counts = counts()
    if args.similarity:
        _similarities(tenants)
    reports = []
    for backend in args.backend:
        started = time.perf_counter()
        if backend == "liar":
            with misbehaving_server(reply=LIAR_REPLY, tokens_per_second=5000.0, model="liar") as server:
                _use_backend("liar", base_url=server.base_url, model="liar")
                report = kb_run("liar", tenants=tenants, latency_rounds=args.latency_rounds)
        elif backend == "vllm":
            if not args.vllm_url:
                raise SystemExit("--backend vllm needs --vllm-url http://host:port/v1")
            _use_backend("vllm", base_url=args.vllm_url, model=args.vllm_model or _served_model(args.vllm_url))
            report = kb_run("vllm", tenants=tenants, latency_rounds=args.latency_rounds)
        else:
            _use_backend("extractive")
            report = kb_run("extractive", tenants=tenants, latency_rounds=args.latency_rounds)
        report.latency["wall_s"] = round(time.perf_counter() - started, 1)
        reports.append(report)
        s = report.summary()
        print(f"{backend}: {s['questions']} questions in {report.latency['wall_s']} s; grounding field on "
              f"{s['grounding_reported']}/{s['questions']} answers; lookup: "
              f"{report.latency.get('lookup_note') or 'timed'}", flush=True)
        if args.verbose:
            print(f"misses ({len(report.misses())}):\n{report.misses_text()}\n")
    if args.json:
        Path(args.json).write_text(json.dumps({"counts": kb_counts, "reports": [r.to_json() for r in reports]},
                                              ensure_ascii=False, indent=1, default=str))
    return reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="extractive",
                        help="comma separated: extractive, liar, vllm (default: extractive)")
    parser.add_argument("--vllm-url", default="", help="a vLLM OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--vllm-model", default="", help="the model name to ask for (default: the first it serves)")
    parser.add_argument("--verbose", action="store_true",
                        help="print every miss: question, expected, answer and grounding")
    parser.add_argument("--json", help="write the summary and every outcome to this file")
    parser.add_argument("--db", default="frontdesk_bench_answers",
                        help="database on the embedded server: created, migrated, dropped at the end")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--similarity", action="store_true",
                        help="print each question's best-passage similarity (the relevance floor's calibration)")
    parser.add_argument("--latency-rounds", type=int, default=3)
    args = parser.parse_args()
    args.backend = [b.strip() for b in args.backend.split(",") if b.strip()]
    unknown = set(args.backend) - {"extractive", "liar", "vllm"}
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")

    from config.embedded_db.server import embedded_server_address

    host, port = embedded_server_address(pgdata=str(ROOT / ".data" / "pg"), name=args.db)
    os.environ["DATABASE_URL"] = f"postgres://postgres@/{args.db}?host={host}&port={port}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    os.environ.update({"DEBUG": "false", "RATELIMIT_ENABLED": "false", "HF_HUB_OFFLINE": "1"})
    os.environ.pop("REDIS_URL", None)  # tasks run in this process; nothing queued for absent workers
    os.environ.pop("INFERENCE_BASE_URL", None)  # each backend is chosen below

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from tests.assistants.answers_kb import counts
    from tests.assistants.answers_runner import table

    call_command("migrate", verbosity=0)
    try:
        reports = _run_backends(args)
    finally:
        if not args.keep:
            import psycopg

            connections.close_all()
            with psycopg.connect(host=host, port=port, dbname="postgres", user="postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    c = counts()
    print(f"\nquestions: {c['total']} ({c['answer']} answerable, {c['handoff']} unanswerable); "
          + ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if k not in ("total", "answer", "handoff")))
    print("targets: correct >= 0.95, honest = 1.00, forbidden = 0, dumps = 0, lookup p50 <= 5 ms\n")
    print(table(reports))


if __name__ == "__main__":
    main()
