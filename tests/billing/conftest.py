"""Billing test support: localstripe on loopback, a recording stand-in for the Stripe endpoints
localstripe lacks, and webhook payloads signed exactly as Stripe signs them."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import importlib
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.conftest import make_tenant

HERE = Path(__file__).resolve().parent
WEBHOOK_SECRET = "whsec_test_frontdesk_0123456789"
PRICE_STARTER = "price_frontdesk_starter_test"
PRICE_PRO = "price_frontdesk_pro_test"


# --------------------------------------------------------------------------- plans


@pytest.fixture(autouse=True)
def _seeded_plans(request) -> None:
    """The seed plans, even after a transactional test elsewhere flushed the table."""
    if "db" not in request.fixturenames and "transactional_db" not in request.fixturenames:
        return
    request.getfixturevalue("transactional_db" if "transactional_db" in request.fixturenames else "db")
    from django.apps import apps

    importlib.import_module("billing.migrations.0002_seed_plans").seed(apps, None)


# --------------------------------------------------------------------------- localstripe


@pytest.fixture(scope="session")
def localstripe() -> Iterator[str]:
    """localstripe (PyPI) in a subprocess on a free loopback port; its base URL."""
    proc = subprocess.Popen([sys.executable, str(HERE / "localstripe_server.py")], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            proc.kill()
            pytest.fail(f"localstripe did not start: {line}{proc.stdout.read()}")
        # Drain its output so a full pipe never blocks it.
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


# --------------------------------------------------------------------------- the stand-in


@dataclass
class Recorded:
    method: str
    path: str
    form: dict[str, str]
    headers: dict[str, str]


@dataclass
class StripeStandIn:
    """Answers Checkout Sessions, billing portal sessions and meter events in Stripe's documented
    shapes and records every request; everything else goes on to localstripe, when given one."""

    url: str = ""
    upstream: str | None = None
    requests: list[Recorded] = field(default_factory=list)
    # Meter events Stripe accepted, by identifier (Stripe keeps the first of a duplicate).
    meter_events: dict[str, dict] = field(default_factory=dict)
    # One entry per upcoming meter-event request: "before" fails it unrecorded, "after" records
    # it and then fails (the answer was lost on the way back), None answers normally.
    meter_failures: list[str | None] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]


def _handler(standin: StripeStandIn):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _reply(self, status: int, body: dict) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.send_header("Request-Id", f"req_{uuid.uuid4().hex[:14]}")
            self.end_headers()
            self.wfile.write(raw)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = urlsplit(self.path).path
            form = dict(parse_qsl(body.decode(), keep_blank_values=True))
            with standin.lock:
                standin.requests.append(Recorded(self.command, path, form, dict(self.headers)))
            now = int(time.time())
            if self.command == "POST" and path == "/v1/checkout/sessions":
                sid = f"cs_test_{uuid.uuid4().hex}"
                return self._reply(200, {
                    "id": sid, "object": "checkout.session", "mode": form.get("mode"), "status": "open",
                    "customer": form.get("customer"), "client_reference_id": form.get("client_reference_id"),
                    "success_url": form.get("success_url"), "cancel_url": form.get("cancel_url"),
                    "url": f"https://checkout.stripe.com/c/pay/{sid}", "created": now, "livemode": False,
                    "subscription": None, "metadata": {},
                })
            if self.command == "POST" and path == "/v1/billing_portal/sessions":
                sid = f"bps_{uuid.uuid4().hex[:24]}"
                return self._reply(200, {
                    "id": sid, "object": "billing_portal.session", "customer": form.get("customer"),
                    "return_url": form.get("return_url"), "created": now, "livemode": False,
                    "url": f"https://billing.stripe.com/p/session/test_{sid}",
                })
            if self.command == "POST" and path == "/v1/billing/meter_events":
                with standin.lock:
                    failure = standin.meter_failures.pop(0) if standin.meter_failures else None
                    event = {"object": "billing.meter_event", "created": now, "event_name": form.get("event_name"),
                             "identifier": form.get("identifier"), "livemode": False,
                             "payload": {"stripe_customer_id": form.get("payload[stripe_customer_id]"),
                                         "value": form.get("payload[value]")},
                             "timestamp": int(form.get("timestamp") or now)}
                    if failure != "before":
                        standin.meter_events.setdefault(event["identifier"], event)
                if failure:
                    return self._reply(500, {"error": {"type": "api_error", "message": "Stripe had a hiccup."}})
                return self._reply(200, event)
            if standin.upstream is None:
                return self._reply(404, {"error": {"type": "invalid_request_error", "message": "Unknown path"}})
            return self._forward(body)

        def _forward(self, body: bytes) -> None:
            target = urlsplit(standin.upstream)
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host", "content-length"}}
            conn.request(self.command, self.path, body=body or None, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            self.send_response(response.status)
            self.send_header("Content-Type", response.getheader("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
            conn.close()

        do_GET = do_POST = do_DELETE = _handle

    return Handler


@pytest.fixture
def stripe_standin(localstripe) -> Iterator[StripeStandIn]:
    standin = StripeStandIn(upstream=localstripe)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(standin))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    standin.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield standin
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def stripe_on(settings, stripe_standin) -> StripeStandIn:
    """Billing configured against the stand-in (and through it, localstripe)."""
    settings.STRIPE_SECRET_KEY = "sk_test_frontdesk"
    settings.STRIPE_API_BASE = stripe_standin.url
    settings.STRIPE_MAX_NETWORK_RETRIES = 0  # our own retries are under test, not the library's
    settings.STRIPE_TIMEOUT = 10.0
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_PRICE_IDS = {"starter": PRICE_STARTER, "pro": PRICE_PRO}
    settings.STRIPE_OVERAGE_PRICE_IDS = {"starter": "", "pro": ""}
    return stripe_standin


@pytest.fixture
def stripe_off(settings) -> None:
    """No Stripe key (billing offline) but webhooks verifiable."""
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_API_BASE = ""
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_PRICE_IDS = {"starter": PRICE_STARTER, "pro": PRICE_PRO}


# --------------------------------------------------------------------------- webhooks


def stripe_signature(payload: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The Stripe-Signature header: t=<unix>,v1=HMAC-SHA256(secret, "<t>.<raw body>")."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def stripe_event(event_type: str, obj: dict, *, created: int | None = None, event_id: str | None = None) -> bytes:
    return json.dumps({
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "api_version": "2026-10-28.endive",
        "created": int(time.time()) if created is None else created, "type": event_type, "livemode": False,
        "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None},
        "data": {"object": obj},
    }).encode()


def subscription_object(*, sub_id: str, customer: str, status: str, price: str = PRICE_STARTER,
                        business_id=None, period_start: int | None = None, cancel_at_period_end: bool = False) -> dict:
    """A subscription in API 2025-03-31.basil+ shape (the period on the item)."""
    start = period_start or int(time.time()) - 3600
    return {
        "id": sub_id, "object": "subscription", "customer": customer, "status": status,
        "cancel_at_period_end": cancel_at_period_end, "created": start, "start_date": start,
        "metadata": {"business_id": str(business_id)} if business_id else {},
        "items": {"object": "list", "data": [{
            "id": f"si_{uuid.uuid4().hex[:14]}", "object": "subscription_item",
            "price": {"id": price, "object": "price", "recurring": {"interval": "month", "usage_type": "licensed"}},
            "quantity": 1, "current_period_start": start, "current_period_end": start + 30 * 86400,
        }]},
    }


def post_webhook(client, payload: bytes, signature: str | None = None):
    return client.post("/billing/stripe/webhook", data=payload, content_type="application/json",
                       HTTP_STRIPE_SIGNATURE=signature if signature is not None else stripe_signature(payload))


@pytest.fixture
def tenant(db):
    """Billing tests start where sign-up leaves a business: on Free, with no subscription row."""
    return make_tenant("Golden Dragon", plan=None)


@pytest.fixture
def other_tenant(db):
    return make_tenant("Rival Noodles", plan=None)
