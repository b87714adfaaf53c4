"""Outgoing webhooks against a real loopback receiver: signatures, retries, disabling, tenancy, API."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection, transaction
from django.utils import timezone

from businesses.models import WebhookDelivery, WebhookEndpoint
from businesses.webhooks import crypto, services, signing
from businesses.webhooks.events import EVENT_TYPES

# --------------------------------------------------------------------------- the receiver


class Receiver:
    """A real HTTP server on loopback that records every POST and answers with the statuses
    queued for its path (200 once the queue is empty)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: dict[str, list[int]] = {}
        self.always: dict[str, int] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    queued = receiver.statuses.get(self.path) or []
                    status = queued.pop(0) if queued else receiver.always.get(self.path, 200)
                self.send_response(status)
                if status in (301, 302, 307, 308):
                    self.send_header("Location", "/redirected")
                answer = b"received" if status < 300 else b"nope"
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def at(self, path: str) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if r["path"] == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()


@pytest.fixture
def loopback_allowed(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    settings.WEBHOOKS_ALLOW_HTTP = True
    return settings


def documented_verify(body: bytes, header: str, secret: str, tolerance: int = 300) -> bool:
    """What docs/webhooks.md tells a receiver to do, written independently of signing.py."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return abs(time.time() - timestamp) <= tolerance and hmac.compare_digest(expected, parts["v1"])


def endpoint_for(tenant, url: str, event_types: list[str] | None = None) -> tuple[WebhookEndpoint, str]:
    return services.webhook_endpoint_create(business=tenant.business, url=url, event_types=event_types)


def deliveries(endpoint: WebhookEndpoint):
    return WebhookDelivery.objects.for_business(endpoint.business_id).filter(endpoint=endpoint).order_by("created_at")


def attempt(delivery: WebhookDelivery):
    return services.delivery_attempt(business_id=delivery.business_id, delivery_id=delivery.pk)


def time_passes(delivery: WebhookDelivery) -> None:
    """Instead of sleeping until the retry is due, make it due now."""
    WebhookDelivery.objects.for_business(delivery.business_id).filter(pk=delivery.pk, status="pending").update(
        next_attempt_at=timezone.now())


def refreshed(obj):
    obj.refresh_from_db()
    return obj


# --------------------------------------------------------------------------- signing


@pytest.mark.django_db
def test_receiver_verifies_the_signature_and_rejects_a_tampered_body(tenant, receiver, loopback_allowed):
    endpoint, secret = endpoint_for(tenant, receiver.base + "/hook")
    services.event_emit(business_id=tenant.business.pk, type="message.created",
                        data={"conversation_id": "c1", "content": "Is the mapo tofu spicy? 辣吗"})
    delivery = deliveries(endpoint).get()
    result = attempt(delivery)
    assert result.outcome.succeeded and refreshed(delivery).status == "succeeded"

    [request] = receiver.at("/hook")
    body, headers = request["body"], request["headers"]
    header = headers["Frontdesk-Signature"]
    assert documented_verify(body, header, secret)
    assert signing.verify(body, header, secret)
    event = json.loads(body)
    assert list(event) == ["id", "type", "created", "data"]
    assert event["type"] == "message.created" and event["data"]["content"].endswith("辣吗")
    assert headers["Frontdesk-Event-Id"] == event["id"] == str(delivery.event_id)
    assert headers["Content-Type"] == "application/json"

    tampered = body.replace(b"spicy", b"sweet")
    assert not documented_verify(tampered, header, secret)
    assert not signing.verify(tampered, header, secret)
    assert not signing.verify(body, header, "whsec_someone-elses-secret")
    assert not signing.verify(body, header, secret, now=time.time() + 301)  # a replay, too late
    for garbage in ["", "t=abc,v1=00", "v1=" + "0" * 64, "nonsense", header.replace("v1=", "v0=")]:
        assert not signing.verify(body, garbage, secret)


def test_signing_supports_several_signatures_during_rotation():
    body = b'{"id":"e"}'
    header = signing.sign(body, "whsec_new", timestamp=int(time.time()))
    old = signing.sign(body, "whsec_old", timestamp=int(time.time())).split(",")[1]
    assert signing.verify(body, f"{header},{old}", "whsec_old")
    assert signing.verify(body, f"{header},{old}", "whsec_new")


@pytest.mark.django_db
def test_secret_is_encrypted_at_rest_and_a_changed_key_fails_without_sending(tenant, receiver, loopback_allowed):
    endpoint, secret = endpoint_for(tenant, receiver.base + "/hook")
    stored = WebhookEndpoint.objects.for_business(tenant.business).get(pk=endpoint.pk)
    assert secret not in stored.secret_encrypted and secret[6:] not in stored.secret_encrypted
    assert crypto.secret_decrypt(stored.secret_encrypted) == secret

    loopback_allowed.WEBHOOKS_ENCRYPTION_KEY = "a-different-key-after-a-careless-rotation"
    services.event_emit(business_id=tenant.business.pk, type="source.ready", data={"source_id": "s1"})
    result = attempt(deliveries(endpoint).get())
    assert result.outcome.error.startswith("secret_unreadable") and receiver.requests == []


# --------------------------------------------------------------------------- retries


@pytest.mark.django_db
def test_500s_are_retried_with_growing_backoff_then_a_200_succeeds(tenant, receiver, loopback_allowed):
    endpoint, secret = endpoint_for(tenant, receiver.base + "/flaky")
    receiver.statuses["/flaky"] = [500, 500, 500, 503]
    services.event_emit(business_id=tenant.business.pk, type="conversation.started", data={"id": "conv-1"})
    delivery = deliveries(endpoint).get()

    delays = []
    for n in range(1, 5):
        before = timezone.now()
        result = attempt(delivery)
        assert result.outcome.status_code in (500, 503) and result.retry_in is not None
        delays.append(result.retry_in)
        row = refreshed(delivery)
        assert row.status == "pending" and row.attempts == n
        assert abs((row.next_attempt_at - before).total_seconds() - result.retry_in) < 2
        assert attempt(delivery) is None  # not due yet: nothing is sent early
        time_passes(delivery)
    assert all(later > earlier for earlier, later in itertools.pairwise(delays)), delays
    for n, delay in enumerate(delays, start=1):
        assert 0.9 * 30 * 2 ** (n - 1) <= delay <= 1.1 * 30 * 2 ** (n - 1)

    result = attempt(delivery)
    assert result.outcome.succeeded and result.retry_in is None
    row = refreshed(delivery)
    assert row.status == "succeeded" and row.attempts == 5 and row.next_attempt_at is None
    assert [a["status_code"] for a in row.attempt_log] == [500, 500, 500, 503, 200]
    assert [a["number"] for a in row.attempt_log] == [1, 2, 3, 4, 5]

    sent = receiver.at("/flaky")
    assert len(sent) == 5
    assert len({r["body"] for r in sent}) == 1  # the same event every time
    assert {r["headers"]["Frontdesk-Event-Id"] for r in sent} == {str(delivery.event_id)}
    assert [r["headers"]["Frontdesk-Attempt"] for r in sent] == ["1", "2", "3", "4", "5"]
    assert all(signing.verify(r["body"], r["headers"]["Frontdesk-Signature"], secret) for r in sent)
    assert refreshed(endpoint).consecutive_failures == 0 and endpoint.failing_since is None


def test_backoff_is_capped_and_spans_about_a_day(settings):
    delays = [services.retry_delay(n, jitter=False) for n in range(1, settings.WEBHOOKS_MAX_ATTEMPTS)]
    assert delays[:4] == [30, 60, 120, 240]
    assert max(delays) == settings.WEBHOOKS_RETRY_MAX_SECONDS
    assert 20 * 3600 <= sum(delays) <= 30 * 3600


@pytest.mark.django_db
def test_after_the_last_attempt_the_delivery_is_failed(tenant, receiver, loopback_allowed):
    loopback_allowed.WEBHOOKS_MAX_ATTEMPTS = 3
    endpoint, _ = endpoint_for(tenant, receiver.base + "/down")
    receiver.always["/down"] = 500
    services.event_emit(business_id=tenant.business.pk, type="source.failed", data={"source_id": "s1"})
    delivery = deliveries(endpoint).get()
    results = []
    for _ in range(3):
        results.append(attempt(delivery))
        time_passes(delivery)
    assert [r.retry_in is None for r in results] == [False, False, True]
    row = refreshed(delivery)
    assert row.status == "failed" and row.attempts == 3 and row.next_attempt_at is None
    assert row.last_status_code == 500 and row.last_error == "HTTP 500" and row.completed_at is not None
    assert attempt(delivery) is None and len(receiver.at("/down")) == 3


@pytest.mark.django_db
def test_redirects_are_not_followed(tenant, receiver, loopback_allowed):
    endpoint, _ = endpoint_for(tenant, receiver.base + "/moved")
    receiver.always["/moved"] = 302
    services.event_emit(business_id=tenant.business.pk, type="source.ready", data={})
    result = attempt(deliveries(endpoint).get())
    assert result.outcome.status_code == 302 and "not followed" in result.outcome.error
    assert result.retry_in is not None and receiver.at("/redirected") == []


@pytest.mark.django_db
def test_the_ssrf_guard_runs_again_at_send_time(tenant, receiver, loopback_allowed):
    endpoint, _ = endpoint_for(tenant, receiver.base + "/hook")
    loopback_allowed.WEBHOOKS_ALLOW_PRIVATE_URLS = False  # as if DNS now pointed somewhere private
    services.event_emit(business_id=tenant.business.pk, type="source.ready", data={})
    result = attempt(deliveries(endpoint).get())
    assert result.outcome.status_code is None and result.outcome.error.startswith("blocked_address")
    assert receiver.requests == []


# --------------------------------------------------------------------------- disabling


@pytest.mark.django_db
def test_endpoint_failing_for_long_is_disabled_and_gets_nothing_more(tenant, receiver, loopback_allowed, caplog):
    loopback_allowed.WEBHOOKS_DISABLE_AFTER_FAILURES = 3
    loopback_allowed.WEBHOOKS_DISABLE_AFTER_SECONDS = 3600
    endpoint, _ = endpoint_for(tenant, receiver.base + "/dead")
    receiver.always["/dead"] = 500
    for n in range(3):
        services.event_emit(business_id=tenant.business.pk, type="message.created", data={"n": n})
    for delivery in deliveries(endpoint):
        assert attempt(delivery).endpoint_disabled is False
    endpoint = refreshed(endpoint)
    # Three failures in a row, but only for seconds: a short outage does not disable.
    assert endpoint.active and endpoint.consecutive_failures == 3 and endpoint.failing_since is not None

    WebhookEndpoint.objects.for_business(tenant.business).filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(hours=2))
    first = deliveries(endpoint).first()
    time_passes(first)
    with caplog.at_level(logging.WARNING, logger="businesses.webhooks.services"):
        assert attempt(first).endpoint_disabled is True
    endpoint = refreshed(endpoint)
    assert not endpoint.active and endpoint.disabled_at is not None
    assert "4 failed attempts" in endpoint.disabled_reason and "HTTP 500" in endpoint.disabled_reason
    assert any(str(endpoint.pk) in r.getMessage() and "disabled" in r.getMessage() for r in caplog.records)
    # Its other pending deliveries end failed without another request; new events skip it.
    assert set(deliveries(endpoint).values_list("status", flat=True)) == {"failed"}
    for delivery in deliveries(endpoint):
        time_passes(delivery)
        assert attempt(delivery) is None
    services.event_emit(business_id=tenant.business.pk, type="message.created", data={"n": 99})
    assert deliveries(endpoint).count() == 3 and len(receiver.at("/dead")) == 4

    listed = tenant.client().get("/api/v1/webhooks").json()["results"][0]
    assert listed["active"] is False and listed["disabled_reason"] == endpoint.disabled_reason


@pytest.mark.django_db
def test_a_success_resets_the_failure_streak(tenant, receiver, loopback_allowed):
    endpoint, _ = endpoint_for(tenant, receiver.base + "/hook")
    receiver.statuses["/hook"] = [500, 500]
    for n in range(3):
        services.event_emit(business_id=tenant.business.pk, type="message.created", data={"n": n})
    outcomes = [attempt(d).outcome.status_code for d in deliveries(endpoint)]
    assert outcomes == [500, 500, 200]
    endpoint = refreshed(endpoint)
    assert endpoint.active and endpoint.consecutive_failures == 0 and endpoint.failing_since is None


# --------------------------------------------------------------------------- emitting


@pytest.mark.django_db
def test_another_business_events_never_reach_this_business(tenant, other_tenant, receiver, loopback_allowed):
    mine, _ = endpoint_for(tenant, receiver.base + "/mine")
    theirs, _ = endpoint_for(other_tenant, receiver.base + "/theirs")
    services.event_emit(business_id=other_tenant.business.pk, type="message.created", data={"secret": "theirs"})
    assert deliveries(mine).count() == 0 and deliveries(theirs).count() == 1
    # The task carries the business id: this business's id cannot send the other's delivery.
    assert services.delivery_attempt(business_id=tenant.business.pk, delivery_id=deliveries(theirs).get().pk) is None
    assert receiver.requests == []
    for delivery in WebhookDelivery.objects.unscoped().filter(endpoint__in=[mine, theirs]):
        attempt(delivery)
    assert receiver.at("/mine") == [] and len(receiver.at("/theirs")) == 1


@pytest.mark.django_db
def test_endpoints_get_only_the_types_they_subscribe_to(tenant, loopback_allowed, receiver,
                                                        django_capture_on_commit_callbacks):
    everything, _ = endpoint_for(tenant, receiver.base + "/all")
    handoffs, _ = endpoint_for(tenant, receiver.base + "/handoffs", ["conversation.handoff"])
    with django_capture_on_commit_callbacks() as callbacks:
        for event_type in EVENT_TYPES:
            services.event_emit(business_id=tenant.business.pk, type=event_type, data={})
    assert sorted(deliveries(everything).values_list("event_type", flat=True)) == sorted(EVENT_TYPES)
    assert list(deliveries(handoffs).values_list("event_type", flat=True)) == ["conversation.handoff"]
    assert len(callbacks) == len(EVENT_TYPES) + 1  # one send per delivery, after commit
    event_ids = set(WebhookDelivery.objects.for_business(tenant.business).filter(event_type="conversation.handoff")
                    .values_list("event_id", flat=True))
    assert len(event_ids) == 1  # one event, the same id at every endpoint


@pytest.mark.django_db
def test_event_emit_never_fails_the_caller(tenant, receiver, loopback_allowed, caplog):
    endpoint, _ = endpoint_for(tenant, receiver.base + "/hook")
    with caplog.at_level(logging.ERROR, logger="businesses.webhooks.services"):
        with transaction.atomic():
            services.event_emit(business_id=tenant.business.pk, type="no.such.event", data={})
            services.event_emit(business_id=tenant.business.pk, type="message.created", data=["not", "a", "dict"])
            # PostgreSQL's jsonb refuses \u0000: a database error inside event_emit.
            services.event_emit(business_id=tenant.business.pk, type="message.created", data={"text": "a\x00b"})
            # The caller's transaction is still usable.
            assert WebhookEndpoint.objects.for_business(tenant.business).count() == 1
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
    assert deliveries(endpoint).count() == 0
    assert len([r for r in caplog.records if "could not emit" in r.getMessage()]) == 3


@pytest.mark.django_db
def test_sweep_requeues_lost_deliveries_and_prunes_old_ones(tenant, receiver, loopback_allowed):
    endpoint, _ = endpoint_for(tenant, receiver.base + "/hook")
    for n in range(2):
        services.event_emit(business_id=tenant.business.pk, type="message.created", data={"n": n})
    lost, finished = deliveries(endpoint)
    WebhookDelivery.objects.for_business(tenant.business).filter(pk=lost.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=30))
    WebhookDelivery.objects.for_business(tenant.business).filter(pk=finished.pk).update(
        status="succeeded", next_attempt_at=None, completed_at=timezone.now() - timedelta(days=90))
    assert services.webhook_sweep() == 1
    assert list(deliveries(endpoint).values_list("pk", flat=True)) == [lost.pk]


# --------------------------------------------------------------------------- the API


@pytest.mark.django_db
def test_api_create_shows_the_secret_once_list_never_and_delete(tenant, receiver, loopback_allowed):
    api = tenant.client()
    created = api.post("/api/v1/webhooks", {"url": receiver.base + "/hook", "description": "CRM sync",
                                            "event_types": ["message.created", "message.created"]}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    secret = body["secret"]
    assert secret.startswith("whsec_") and len(secret) > 30
    assert body["event_types"] == ["message.created"] and body["active"] is True
    assert body["secret_hint"] == f"whsec_…{secret[-4:]}"

    listed = api.get("/api/v1/webhooks")
    assert listed.status_code == 200
    [row] = listed.json()["results"]
    assert row["id"] == body["id"] and "secret" not in row
    assert secret not in listed.content.decode() and secret[6:] not in listed.content.decode()

    assert api.delete(f"/api/v1/webhooks/{body['id']}").status_code == 204
    assert api.get("/api/v1/webhooks").json()["results"] == []
    assert api.delete(f"/api/v1/webhooks/{body['id']}").status_code == 404
    assert api.get(f"/api/v1/webhooks/{body['id']}/deliveries").status_code == 404


@pytest.mark.django_db
def test_api_lists_deliveries_with_their_attempts(tenant, receiver, loopback_allowed):
    api = tenant.client()
    endpoint_id = api.post("/api/v1/webhooks", {"url": receiver.base + "/hook"}, format="json").json()["id"]
    endpoint = WebhookEndpoint.objects.for_business(tenant.business).get(pk=endpoint_id)
    receiver.statuses["/hook"] = [500]
    services.event_emit(business_id=tenant.business.pk, type="conversation.handoff", data={"conversation_id": "c9"})
    services.event_emit(business_id=tenant.business.pk, type="subscription.updated", data={"plan": "pro"})
    first, _second = deliveries(endpoint)
    attempt(first)
    time_passes(first)
    attempt(first)

    response = api.get(f"/api/v1/webhooks/{endpoint_id}/deliveries")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["event_type"] for r in results] == ["subscription.updated", "conversation.handoff"]
    handoff = results[1]
    assert handoff["status"] == "succeeded" and handoff["attempt_count"] == 2
    assert [a["status_code"] for a in handoff["attempts"]] == [500, 200]
    assert handoff["attempts"][0]["error"] == "HTTP 500" and handoff["attempts"][1]["response"] == "received"
    assert handoff["payload"]["data"] == {"conversation_id": "c9"}
    assert results[0]["status"] == "pending" and results[0]["attempts"] == []

    failed_only = api.get(f"/api/v1/webhooks/{endpoint_id}/deliveries?status=succeeded").json()["results"]
    assert [r["id"] for r in failed_only] == [str(first.pk)]
    bad = api.get(f"/api/v1/webhooks/{endpoint_id}/deliveries?status=lost")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_error"


@pytest.mark.django_db
@pytest.mark.parametrize("url", [
    "https://127.0.0.1/hook", "https://localhost:8443/hook", "https://10.1.2.3/hook",
    "https://169.254.169.254/latest/meta-data/", "https://[::1]/hook", "https://192.168.1.10/hook",
])
def test_private_urls_are_refused_at_creation(tenant, settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    response = tenant.client().post("/api/v1/webhooks", {"url": url}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "blocked_address"
    assert WebhookEndpoint.objects.for_business(tenant.business).count() == 0


@pytest.mark.django_db
def test_plain_http_needs_the_setting(tenant, settings):
    settings.WEBHOOKS_ALLOW_HTTP = False
    response = tenant.client().post("/api/v1/webhooks", {"url": "http://hooks.example.com/x"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_url"
    assert "https" in response.json()["error"]["message"]


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "code"), [
    ({}, "validation_error"),
    ({"url": 5}, "validation_error"),
    ({"url": None}, "validation_error"),
    ({"url": "https://hooks.example.com/x", "secret": "whsec_mine"}, "validation_error"),
    ({"url": "https://hooks.example.com/x", "event_types": ["message.deleted"]}, "validation_error"),
    ({"url": "https://hooks.example.com/x", "event_types": "message.created"}, "validation_error"),
    ({"url": "https://hooks.example.com/x", "description": "x" * 201}, "validation_error"),
    ({"url": "https://" + "a" * 2100 + ".com/"}, "validation_error"),
    ({"url": "ftp://hooks.example.com/x"}, "invalid_url"),
    ({"url": "not a url"}, "invalid_url"),
    ({"url": "https://user:pw@hooks.example.com/x"}, "invalid_url"),
    ({"url": "https://:99999/x"}, "invalid_url"),
])
def test_bad_bodies_are_400(tenant, body, code):
    response = tenant.client().post("/api/v1/webhooks", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ['{"url": ', "[]", '"https://x"', "null"])
def test_malformed_json_is_400(tenant, raw):
    response = tenant.client().post("/api/v1/webhooks", data=raw, content_type="application/json")
    assert response.status_code == 400 and "error" in response.json()


@pytest.mark.django_db
def test_endpoints_per_business_are_limited(tenant, receiver, loopback_allowed):
    loopback_allowed.WEBHOOKS_MAX_ENDPOINTS = 2
    api = tenant.client()
    statuses = [api.post("/api/v1/webhooks", {"url": receiver.base + f"/{n}"}, format="json").status_code
                for n in range(3)]
    assert statuses == [201, 201, 409]


def _paths(endpoint_id) -> list[tuple[str, str]]:
    return [("get", "/api/v1/webhooks"), ("post", "/api/v1/webhooks"),
            ("delete", f"/api/v1/webhooks/{endpoint_id}"), ("get", f"/api/v1/webhooks/{endpoint_id}/deliveries")]


@pytest.mark.django_db
def test_no_key_is_401_and_publishable_key_is_403(tenant, anon, receiver, loopback_allowed):
    endpoint, _ = endpoint_for(tenant, receiver.base + "/hook")
    for method, path in _paths(endpoint.pk):
        body = {"url": receiver.base + "/x"} if method == "post" else None
        response = getattr(anon, method)(path, body, format="json")
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "unauthenticated"
        response = getattr(tenant.client(tenant.publishable_key), method)(path, body, format="json")
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["code"] == "permission_denied"
    assert WebhookEndpoint.objects.for_business(tenant.business).count() == 1


@pytest.mark.django_db
def test_other_business_cannot_see_or_delete_an_endpoint(tenant, other_tenant, receiver, loopback_allowed):
    endpoint, _ = endpoint_for(tenant, receiver.base + "/hook")
    intruder = other_tenant.client()
    assert intruder.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries").status_code == 404
    response = intruder.delete(f"/api/v1/webhooks/{endpoint.pk}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert intruder.get("/api/v1/webhooks").json()["results"] == []
    assert WebhookEndpoint.objects.for_business(tenant.business).filter(pk=endpoint.pk).exists()


# --------------------------------------------------------------------------- a real worker


@pytest.mark.worker
def test_a_real_worker_sends_the_delivery_from_the_webhooks_queue(celery_worker_process, receiver,
                                                                 loopback_allowed):
    from businesses.webhooks.tasks import webhook_deliver_task
    from config.celery import app
    from tests.conftest import make_tenant

    assert app.amqp.router.route({}, webhook_deliver_task.name)["queue"].name == "webhooks"
    tenant = make_tenant("Webhook Worker Bistro")
    created = tenant.client().post("/api/v1/webhooks", {"url": receiver.base + "/worker"}, format="json").json()
    with transaction.atomic():
        services.event_emit(business_id=tenant.business.pk, type="conversation.started", data={"id": "w1"})
        assert receiver.requests == []  # nothing leaves before the commit

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not receiver.at("/worker"):
        time.sleep(0.1)
    endpoint = WebhookEndpoint.objects.for_business(tenant.business).get(pk=created["id"])
    assert receiver.at("/worker"), list(deliveries(endpoint).values("status", "attempts", "last_error"))
    [request] = receiver.at("/worker")
    assert documented_verify(request["body"], request["headers"]["Frontdesk-Signature"], created["secret"])
    assert json.loads(request["body"])["data"] == {"id": "w1"}
    while time.monotonic() < deadline and deliveries(endpoint).get().status == "pending":
        time.sleep(0.1)
    delivery = deliveries(endpoint).get()
    assert delivery.status == "succeeded" and delivery.attempts == 1 and delivery.last_status_code == 200
    assert celery_worker_process.poll() is None
