"""Secrets never reach the logs: a run of the production server (with its access log) and a
worker, both at DEBUG, through sign-up, a new key, a webhook endpoint with a failing delivery,
a WhatsApp connection, a revoked key and bad requests; then every log of the run is searched
for every secret it handled."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import ROOT, free_port, gunicorn_server, start_worker, stop_worker

LOG_DIR = ROOT / ".cache" / "test-logs"


@pytest.mark.slow
def test_keys_webhook_secrets_and_whatsapp_tokens_never_reach_the_logs(transactional_db, shared_worker):
    shared_worker.stop()  # this run's worker logs what it does
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    server_log = LOG_DIR / "secrets-server.log"
    debug = {"LOG_LEVEL": "DEBUG"}
    worker = start_worker("secrets-worker", **debug)  # allows loopback webhook URLs (WORKER_ENV)
    secrets: dict[str, str] = {}
    try:
        with gunicorn_server(log=server_log, WEBHOOKS_ALLOW_PRIVATE_URLS="true", **debug) as base:
            signup = httpx.post(f"{base}/api/v1/signup", timeout=30, json={
                "email": "secretive@example.com", "password": "a sturdy passphrase 42", "business_name": "Secretive"})
            assert signup.status_code == 201, signup.text
            body = signup.json()
            secrets["sign-up secret key"] = body["api_keys"]["secret"]
            auth = {"Authorization": f"Bearer {body['api_keys']['secret']}"}
            assistant_id = body["assistant"]["id"]
            key = httpx.post(f"{base}/api/v1/api-keys", headers=auth, json={"name": "till", "kind": "secret"},
                             timeout=30)
            assert key.status_code == 201, key.text
            secrets["new secret key"] = key.json()["key"]
            hook = httpx.post(f"{base}/api/v1/webhooks", headers=auth, timeout=30,
                              json={"url": f"http://127.0.0.1:{free_port()}/hook"})  # nobody listens: it fails
            assert hook.status_code == 201, hook.text
            secrets["webhook secret"] = hook.json()["secret"]
            token = "EAAGsecretWhatsAppToken" + "x" * 40
            secrets["WhatsApp token"] = token
            httpx.post(f"{base}/api/v1/whatsapp/connections", headers=auth, timeout=30, json={
                "phone_number_id": "1234567890", "assistant_id": assistant_id, "access_token": token})
            # A source makes events (the webhook's delivery fails in the worker) and a revoked key
            # and bad bodies make error paths.
            source = httpx.post(f"{base}/api/v1/assistants/{assistant_id}/sources", headers=auth, timeout=30,
                                json={"kind": "text", "text": "We open at nine."}).json()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if httpx.get(f"{base}/api/v1/sources/{source['id']}", headers=auth,
                             timeout=30).json()["status"] in ("ready", "failed"):
                    break
                time.sleep(0.3)
            new_key_id = key.json()["id"]
            httpx.delete(f"{base}/api/v1/api-keys/{new_key_id}", headers=auth, timeout=30)
            assert httpx.get(f"{base}/api/v1/assistants", timeout=30,
                             headers={"Authorization": f"Bearer {secrets['new secret key']}"}).status_code == 401
            httpx.post(f"{base}/api/v1/webhooks", headers=auth, content=b'{"url": ', timeout=30)
            time.sleep(2)  # the worker's delivery attempt
    finally:
        stop_worker(worker)
    logs = {path.name: path.read_text(errors="replace") for path in (server_log, LOG_DIR / "secrets-worker.log")}
    assert "POST /api/v1/signup" in logs[server_log.name]  # the access log was there to search
    assert "webhook" in logs["secrets-worker.log"].lower()  # and the worker did the delivery
    for name, log in logs.items():
        for what, secret in secrets.items():
            assert secret not in log, f"the {what} is in {name}"
            assert secret[-12:] not in log, f"the end of the {what} is in {name}"
