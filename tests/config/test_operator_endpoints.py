from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_healthz_and_readyz(anon):
    assert anon.get("/healthz").json() == {"status": "ok"}
    ready = anon.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok" and ready.json()["checks"]["redis"] == "ok"
    assert ready.json()["checks"]["inference"].startswith("not configured")


@pytest.mark.django_db
def test_readyz_checks_the_model_servers(anon, settings):
    from tests.inference.misbehaving_server import closed_port_url, misbehaving_server

    with misbehaving_server() as srv:
        settings.INFERENCE_BASE_URL = [closed_port_url(), srv.base_url]
        body = anon.get("/readyz").json()
        assert body["status"] == "ok" and body["checks"]["inference"].startswith("ok (1 replica(s) down")
    settings.INFERENCE_BASE_URL = [closed_port_url()]
    down = anon.get("/readyz")
    assert down.status_code == 503 and down.json()["checks"]["inference"].startswith("down")


@pytest.mark.django_db
def test_readyz_says_which_dependency_is_down(anon, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = anon.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("down")


@pytest.mark.django_db
def test_metrics_count_requests_by_route_and_status(tenant, anon):
    tenant.client().get("/api/v1/assistants")
    anon.get("/api/v1/assistants")
    text = anon.get("/metrics").content.decode()
    assert 'frontdesk_http_requests_total{method="GET",route="api/v1/assistants",status="200"}' in text
    assert 'frontdesk_http_requests_total{method="GET",route="api/v1/assistants",status="401"}' in text
    assert "frontdesk_http_request_duration_seconds_bucket" in text
