"""config.wsgi_bridge: sync views inside the ASGI server, one thread hop per request.

The bridge is an ASGI app: these tests drive it with ASGI messages, as uvicorn does, around
small WSGI apps, and then through the real server for the routes config.asgi sends to it.
"""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
from django.conf import settings

from config.wsgi_bridge import ThreadPool, WSGIBridge


def _scope(method="GET", path="/", body_length=0):
    headers = [(b"host", b"testserver")]
    if body_length:
        headers += [(b"content-length", str(body_length).encode()), (b"content-type", b"text/plain")]
    return {"type": "http", "http_version": "1.1", "method": method, "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "scheme": "http", "headers": headers,
            "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}


async def _call(app, scope, body_chunks=(b"",), on_send=None):
    pending = [{"type": "http.request", "body": chunk, "more_body": i < len(body_chunks) - 1}
               for i, chunk in enumerate(body_chunks)]
    sent = []

    async def receive():
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if on_send:
            on_send(message)

    await app(scope, receive, send)
    return sent


def test_a_plain_response_goes_back_whole_in_two_messages():
    closed = []

    class Body(list):
        def close(self):
            closed.append(True)

    def app(environ, start_response):
        start_response("201 Created", [("Content-Type", "application/json"), ("X-Thing", " yes ")])
        return Body([b'{"a":', b" 1}"])

    sent = asyncio.run(_call(WSGIBridge(app, workers=1), _scope()))
    assert sent == [
        {"type": "http.response.start", "status": 201,
         "headers": [(b"content-type", b"application/json"), (b"x-thing", b"yes")]},
        {"type": "http.response.body", "body": b'{"a": 1}'},
    ]
    assert closed == [True]


def test_a_streaming_response_is_sent_while_it_is_produced():
    """The second chunk is only produced once the first has reached the client."""
    first_sent = threading.Event()

    class Stream:
        streaming = True  # what Django's StreamingHttpResponse and FileResponse say

        def __iter__(self):
            yield b"first "
            assert first_sent.wait(5), "the first chunk was held back"
            yield b"second"

        def close(self):
            pass

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Stream()

    def on_send(message):
        if message.get("body") == b"first ":
            first_sent.set()

    sent = asyncio.run(_call(WSGIBridge(app, workers=1), _scope(), on_send=on_send))
    assert [m.get("body") for m in sent] == [None, b"first ", b"second", b""]
    assert sent[1]["more_body"] is True and "more_body" not in sent[-1]


def test_the_request_body_is_read_from_the_server():
    def app(environ, start_response):
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body.upper(), environ["REQUEST_METHOD"].encode()]

    sent = asyncio.run(_call(WSGIBridge(app, workers=1), _scope("POST", body_length=11),
                             body_chunks=(b"hello ", b"world")))
    assert sent[-1]["body"] == b"HELLO WORLDPOST"


def test_an_error_reaches_the_server_and_the_thread_keeps_serving():
    calls = []

    def app(environ, start_response):
        calls.append(environ["PATH_INFO"])
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("view exploded")
        start_response("200 OK", [])
        return [b"fine"]

    bridge = WSGIBridge(app, workers=1)

    async def both():
        with pytest.raises(RuntimeError, match="view exploded"):
            await _call(bridge, _scope(path="/boom"))
        return await _call(bridge, _scope(path="/ok"))

    assert asyncio.run(both())[-1]["body"] == b"fine"
    assert calls == ["/boom", "/ok"]


def test_the_pool_runs_requests_side_by_side_on_its_threads():
    """Two requests that each wait for the other finish only if both run at once."""
    barrier = threading.Barrier(2, timeout=5)

    def app(environ, start_response):
        barrier.wait()
        start_response("200 OK", [])
        return [threading.current_thread().name.encode()]

    bridge = WSGIBridge(app, pool=ThreadPool(2, name="TestPool"))

    async def two():
        return await asyncio.gather(_call(bridge, _scope()), _call(bridge, _scope()))

    names = sorted(sent[-1]["body"] for sent in asyncio.run(two()))
    assert names == [b"TestPool_0", b"TestPool_1"]


def _pool_run(pool, functions):
    async def run_all():
        return await asyncio.gather(*(pool.run(f) for f in functions))

    return asyncio.run(run_all())


def test_quick_requests_run_one_at_a_time_in_the_order_they_came():
    pool = ThreadPool(4, name="OneAtATime", slow_after=5.0)
    lock, running, most, started = threading.Lock(), [0], [0], []

    def job(number):
        def run():
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
                started.append(number)
            time.sleep(0.001)  # a database round trip: lets the GIL go
            with lock:
                running[0] -= 1
            return number

        return run

    assert _pool_run(pool, [job(n) for n in range(40)]) == list(range(40))
    assert most[0] == 1
    assert started == list(range(40))


def _context_switches(thread: threading.Thread) -> int:
    with open(f"/proc/self/task/{thread.native_id}/status") as status:
        return sum(int(line.split()[1]) for line in status if "ctxt_switches" in line)


def test_the_waiting_threads_sleep_through_quick_requests():
    """A thread that finishes a quick request takes the next itself; the others are not woken
    for each one (every wake-up is a thread switch and a turn at the GIL for nothing)."""
    pool = ThreadPool(4, name="Sleepers", slow_after=5.0)
    ran = set()

    def job():
        ran.add(threading.current_thread().name)
        time.sleep(0.0005)  # a database round trip: lets the GIL go

    _pool_run(pool, [job])  # every thread has taken its place
    idle = [thread for thread in pool.threads if thread.name not in ran]
    before = sum(_context_switches(thread) for thread in idle)
    _pool_run(pool, [job] * 200)
    assert len(ran) == 1
    assert sum(_context_switches(thread) for thread in idle) - before < 20


def test_with_no_wait_configured_every_thread_runs_at_once():
    pool = ThreadPool(3, name="AllAtOnce", slow_after=0)
    barrier = threading.Barrier(3, timeout=5)  # passes only with three requests running at once
    assert _pool_run(pool, [barrier.wait] * 3)


def test_a_slow_request_does_not_hold_up_the_quick_ones_behind_it():
    pool = ThreadPool(4, name="SlowOne", slow_after=0.05)
    release, events = threading.Event(), []

    def slow():
        release.wait(10)  # waits on something outside, as a slow upload or remote call does
        events.append("slow done")

    def quick(number):
        def run():
            events.append(f"quick {number}")
            if number == 2:
                release.set()

        return run

    _pool_run(pool, [slow, quick(0), quick(1), quick(2)])
    assert events == ["quick 0", "quick 1", "quick 2", "slow done"]


def test_the_server_runs_api_requests_with_the_api_chain(live_api, tenant):
    """/api/v1/ sync views get the API's middleware; the rest (admin) the full browser chain."""
    from config import asgi

    loaded = [type(m).__module__ + "." + type(m).__name__ for m in _chain(asgi.api_wsgi.app)]
    assert loaded == settings.API_MIDDLEWARE
    assert len(_chain(asgi.django_wsgi.app)) == len(settings.MIDDLEWARE)

    listed = httpx.get(live_api.url + "/api/v1/assistants", headers={"Authorization": f"Bearer {tenant.secret_key}"})
    assert listed.status_code == 200 and listed.json()["results"][0]["id"] == str(tenant.assistant.pk)
    assert listed.headers["x-frame-options"] == "DENY" and listed.headers["x-content-type-options"] == "nosniff"
    login = httpx.get(live_api.url + "/admin/login/")
    assert login.status_code == 200 and "csrftoken" in login.cookies  # CSRF middleware ran


def _chain(handler) -> list:
    """The middleware instances a Django handler loaded, outermost first."""
    found, layer = [], handler._middleware_chain
    while hasattr(layer, "get_response") or hasattr(layer, "__wrapped__"):
        middleware = getattr(layer, "__wrapped__", layer)  # convert_exception_to_response wraps each
        if not hasattr(middleware, "get_response"):
            break
        found.append(middleware)
        layer = middleware.get_response
    return found


def _wsgi_get(app, path: str, key: str) -> tuple[str, bytes]:
    import io
    import sys

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
               "HTTP_HOST": "127.0.0.1:8000", "HTTP_AUTHORIZATION": f"Bearer {key}",
               "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http"}
    status = []
    body = b"".join(app(environ, lambda s, h, *a: status.append(s)))
    return status[0], body


@pytest.mark.django_db(transaction=True)
def test_the_api_handler_remembers_url_resolution_per_path_and_each_request_gets_its_own_match(tenant):
    import json

    from django.test import RequestFactory
    from django.urls import resolve

    from config import asgi
    from tests.conftest import make_tenant

    other = make_tenant("Other Bistro")
    app = asgi.api_wsgi.app
    for _ in range(2):  # the second time from what was remembered
        for owner, stranger in ((tenant, other), (other, tenant)):
            status, body = _wsgi_get(app, f"/api/v1/assistants/{owner.assistant.pk}", owner.secret_key)
            assert status.startswith("200") and json.loads(body)["id"] == str(owner.assistant.pk)
            status, body = _wsgi_get(app, f"/api/v1/assistants/{owner.assistant.pk}", stranger.secret_key)
            assert status.startswith("404") and json.loads(body)["error"]["code"] == "not_found"
        status, body = _wsgi_get(app, "/api/v1/no-such-thing", tenant.secret_key)
        assert status.startswith("404") and json.loads(body)["error"]["code"] == "not_found"
    path = f"/api/v1/assistants/{tenant.assistant.pk}"
    first, second = (app.resolve_request(RequestFactory().get(path)) for _ in range(2))
    expected = resolve(path)
    for match in (first, second):
        assert (match.func, match.args, match.kwargs, match.url_name, match.route) == \
               (expected.func, expected.args, expected.kwargs, expected.url_name, expected.route)
    assert first is not second and first.kwargs is not second.kwargs
    assert asgi._resolved.cache_info().hits >= 2
