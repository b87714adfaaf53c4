"""Ingestion end to end: the API commits the source, a real Celery worker (a separate
process, reading Redis) processes it, the API reports it ready and search finds it."""

from __future__ import annotations

import os
import signal
import time

import pytest

from assistants.models import KnowledgeSource
from tests.assistants import kb
from tests.assistants.conftest import search, upload
from tests.assistants.ingestion.helpers import html, loopback_server, make_pdf
from tests.conftest import make_tenant, start_worker, stop_worker

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def wait_for(api, source_id: str, *, statuses=("ready", "failed"), timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api.get(f"/api/v1/sources/{source_id}").json()
        if body["status"] in statuses:
            return body
        time.sleep(0.2)
    raise AssertionError(f"source {source_id} still {body['status']} after {timeout} s: {body}")


def test_every_kind_ingests_through_the_api_and_a_real_worker(celery_worker_process, settings):
    settings.INGEST_ALLOW_PRIVATE_URLS = True
    tenant = make_tenant("Golden Dragon")
    api = tenant.client()
    path = f"/api/v1/assistants/{tenant.assistant.pk}/sources"
    with loopback_server() as site:
        site.routes["/"] = html("<h1>Terrace</h1><p>Our terrace seats 40 guests and has heaters in winter.</p>")
        created = [
            api.post(path, {"kind": "text", "title": "About", "text": kb.RESTAURANT_TEXT}, format="json"),
            api.post(path, {"kind": "faq", "title": "FAQ", "pairs": kb.RESTAURANT_FAQ}, format="json"),
            api.post(path, {"kind": "file", "file": upload("menu.csv", kb.MENU_CSV.encode(), "text/csv")},
                     format="multipart"),
            api.post(path, {"kind": "file", "file": upload("clinic.pdf", kb.clinic_pdf(), "application/pdf")},
                     format="multipart"),
            api.post(path, {"kind": "url", "url": site.base + "/"}, format="json"),
        ]
        assert all(r.status_code == 202 for r in created), [r.content for r in created]
        done = [wait_for(api, r.json()["id"]) for r in created]
    assert [d["status"] for d in done] == ["ready"] * 5, done
    assert all(d["chunk_count"] > 0 and d["progress"] == 100 for d in done)
    for question, phrase in [("How much is the mapo tofu?", "12.50"), ("Can I bring my dog?", "terrace"),
                             ("你们有素食菜吗？", "素食"), ("How many guests fit on the terrace?", "40 guests"),
                             ("Can I pay with cash?", "cash")]:
        assert any(phrase in " ".join(r["text"].split()) for r in search(api, tenant.assistant.pk, question)), question


def test_bad_input_fails_in_the_worker_with_a_reason(celery_worker_process):
    tenant = make_tenant("Harbour Dental")
    api = tenant.client()
    response = api.post(f"/api/v1/assistants/{tenant.assistant.pk}/sources",
                        {"kind": "file", "file": upload("scan.pdf", make_pdf([None]))}, format="multipart")
    failed = wait_for(api, response.json()["id"])
    assert failed["status"] == "failed" and failed["error_code"] == "scanned_pdf"
    assert "scanned" in failed["error"].lower() or "image" in failed["error"].lower()


def test_worker_killed_mid_ingestion_never_leaves_the_source_stuck(transactional_db, shared_worker):
    """SIGKILL the worker while it embeds a long PDF; a second worker redelivers the task."""
    shared_worker.stop()  # this test's workers must be the only consumers
    tenant = make_tenant("Long Menu Bistro")
    api = tenant.client()
    pages = [f"Page {n}. " + " ".join(f"Dish {n}-{i} is braised with star anise, ginger and soy for {i} hours."
                                      for i in range(40)) for n in range(40)]
    first = start_worker("doomed-worker")
    try:
        response = api.post(f"/api/v1/assistants/{tenant.assistant.pk}/sources",
                            {"kind": "file", "file": upload("long.pdf", make_pdf(pages), "application/pdf")},
                            format="multipart")
        source_id = response.json()["id"]
        wait_for(api, source_id, statuses=("processing",), timeout=120)
        time.sleep(1.0)  # well inside extraction/embedding
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        assert api.get(f"/api/v1/sources/{source_id}").json()["status"] == "processing"
    finally:
        stop_worker(first)

    # The killed worker never acknowledged the message; with a short visibility timeout the
    # next worker restores and runs it again.
    second = start_worker("rescue-worker", CELERY_VISIBILITY_TIMEOUT="3")
    try:
        final = wait_for(api, source_id, timeout=180)
    finally:
        stop_worker(second)
    assert final["status"] == "ready", final
    assert final["chunk_count"] > 0
    source = KnowledgeSource.objects.for_business(tenant.business).get(pk=source_id)
    assert source.attempts == 2


def test_a_dead_workers_source_is_requeued_by_its_heartbeat_and_never_run_twice(transactional_db, shared_worker,
                                                                                   settings):
    """SIGKILL the worker mid-ingestion with the broker's redelivery far off (900 s): the heartbeat
    stops, the sweep re-queues the source within seconds, and a live worker's source is left alone."""
    from assistants.services import sources_sweep

    shared_worker.stop()  # this test's workers must be the only consumers
    settings.INGEST_HEARTBEAT_STALE_SECONDS = 3
    beating = {"INGEST_HEARTBEAT_SECONDS": "0.5"}
    tenant = make_tenant("Heartbeat Bistro")
    api = tenant.client()
    pages = [f"Page {n}. " + " ".join(f"Dish {n}-{i} is braised with star anise, ginger and soy for {i} hours."
                                      for i in range(40)) for n in range(60)]
    first = start_worker("beating-worker", **beating)
    try:
        response = api.post(f"/api/v1/assistants/{tenant.assistant.pk}/sources",
                            {"kind": "file", "file": upload("long.pdf", make_pdf(pages), "application/pdf")},
                            format="multipart")
        source_id = response.json()["id"]
        wait_for(api, source_id, statuses=("processing",), timeout=120)
        source = KnowledgeSource.objects.for_business(tenant.business).get(pk=source_id)
        first_beat = source.heartbeat_at
        deadline = time.monotonic() + 30
        while source.status == "processing" and source.heartbeat_at == first_beat and time.monotonic() < deadline:
            time.sleep(0.2)
            source.refresh_from_db()
        if source.status == "processing":
            assert source.heartbeat_at > first_beat  # it beats
            assert sources_sweep() == 0  # a live worker's source is not re-queued
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
    finally:
        stop_worker(first)
    assert source.status == "processing", "the PDF finished before the worker could be killed"

    requeued, deadline = 0, time.monotonic() + 30
    while not requeued and time.monotonic() < deadline:
        requeued = sources_sweep()
        time.sleep(0.5)
    assert requeued == 1
    second = start_worker("heartbeat-rescue", **beating)  # the default visibility timeout: 900 s
    try:
        final = wait_for(api, source_id, timeout=180)
    finally:
        stop_worker(second)
    assert final["status"] == "ready", final
    assert KnowledgeSource.objects.for_business(tenant.business).get(pk=source_id).attempts == 2
