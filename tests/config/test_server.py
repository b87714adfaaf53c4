"""The production server command (gunicorn + uvicorn workers on config.asgi) really serves."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, make_tenant, subprocess_env

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.slow
def test_gunicorn_uvicorn_serves_the_api(transactional_db):
    tenant = make_tenant("Served Bistro")
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "config.asgi:application",
         "--workers", "1", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT, env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        headers = {"Authorization": f"Bearer {tenant.secret_key}"}
        listed = httpx.get(base + "/api/v1/assistants", headers=headers, timeout=10)
        assert listed.status_code == 200
        assert listed.json()["results"][0]["id"] == str(tenant.assistant.pk)
        unknown = httpx.get(base + "/nope", timeout=10)
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
        assert httpx.get(base + "/api/docs/", timeout=10).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=20)
