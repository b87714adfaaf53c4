"""The production server command (gunicorn + uvicorn workers on config.asgi) really serves."""

from __future__ import annotations

import json
import socket
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
        # A streamed answer (ASGI view) arrives event by event, as well as the plain responses above.
        conversation = httpx.post(f"{base}/api/v1/assistants/{tenant.assistant.pk}/conversations", json={},
                                  headers=headers, timeout=10).json()
        with httpx.stream("POST", f"{base}/api/v1/conversations/{conversation['id']}/messages",
                          json={"content": "Hello?"}, headers={**headers, "Accept": "text/event-stream"},
                          timeout=30) as streamed:
            events = [line[7:] for line in streamed.iter_lines() if line.startswith("event: ")]
        assert streamed.status_code == 200 and events[-1] == "done"
        # Bodies sent with Transfer-Encoding: chunked (no Content-Length) reach sync and async
        # views alike: a PATCH, a new API key with its name, a chat message.
        def chunked(payload: dict):
            text = json.dumps(payload).encode()
            yield from (text[:5], text[5:])

        json_headers = {**headers, "Content-Type": "application/json"}
        renamed = httpx.patch(f"{base}/api/v1/assistants/{tenant.assistant.pk}", headers=json_headers,
                              content=chunked({"name": "Chunked Name"}), timeout=10)
        assert renamed.request.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in renamed.request.headers
        assert renamed.status_code == 200 and renamed.json()["name"] == "Chunked Name"
        key = httpx.post(f"{base}/api/v1/api-keys", headers=json_headers,
                         content=chunked({"name": "till", "kind": "publishable"}), timeout=10)
        assert key.status_code == 201 and key.json()["name"] == "till", key.text
        sent = httpx.post(f"{base}/api/v1/conversations/{conversation['id']}/messages", headers=json_headers,
                          content=chunked({"content": "Are you open on Sunday?"}), timeout=30)
        assert sent.status_code == 201 and sent.json()["message"]["content"] == "Are you open on Sunday?"
        too_big = httpx.post(f"{base}/api/v1/api-keys", headers=json_headers,
                             content=chunked({"name": "x" * (2 * 1024 * 1024)}), timeout=30)
        assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "payload_too_large"
        # Two pipelined requests on one connection, the second asking to close it: both answers
        # whole and in order, then the end of the stream.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            head = f"HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {tenant.secret_key}\r\n"
            sock.sendall((f"GET /api/v1/assistants {head}\r\n"
                          f"GET /api/v1/business {head}Connection: close\r\n\r\n").encode())
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        first, rest = received.split(b"\r\n\r\n", 1)
        length = int(next(line.split(b":")[1] for line in first.lower().split(b"\r\n")
                          if line.startswith(b"content-length")))
        assert json.loads(rest[:length])["results"][0]["id"] == str(tenant.assistant.pk)
        second_head, second_body = rest[length:].split(b"\r\n\r\n", 1)
        assert second_head.startswith(b"HTTP/1.1 200") and b"connection: close" in second_head.lower()
        assert json.loads(second_body)["name"] == "Served Bistro"
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.mark.slow
def test_two_servers_on_one_machine_share_no_control_socket(transactional_db, tmp_path):
    from tests.conftest import gunicorn_server

    home = {"HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path)}
    with gunicorn_server(**home) as first, gunicorn_server(**home) as second:
        assert httpx.get(first + "/healthz", timeout=10).status_code == 200
        assert httpx.get(second + "/healthz", timeout=10).status_code == 200
        # gunicorn's default is one control socket per user ($XDG_RUNTIME_DIR/gunicorn.ctl or
        # ~/.gunicorn/gunicorn.ctl); gunicorn.conf.py turns it off, so neither server makes one.
        assert not list(tmp_path.rglob("*.ctl")), list(tmp_path.rglob("*"))
