"""Sync (WSGI) views inside the ASGI server, with one thread hop per request.

a2wsgi's ``WSGIMiddleware`` runs the WSGI app on a thread pool and hands every ASGI message
back to the event loop with a blocking ``run_coroutine_threadsafe(...).result()``: for a plain
JSON response that is three round trips between the worker thread and the loop (response
start, body, end), each waiting for the other thread to get the GIL. That was most of what
separated a cheap request's cost behind uvicorn from gunicorn's sync workers
(docs/benchmarks.md, "API overhead").

Here the worker thread runs Django's WSGI handler and, for an ordinary response, joins the
body and returns status, headers and bytes with the executor's future: the loop sends them.
Streaming responses (``StreamingHttpResponse``, ``FileResponse``) are sent chunk by chunk from
the thread as a2wsgi does, so a large download is never held in memory. The request body is
still read lazily through a2wsgi's ``Body`` (a hop per chunk, only when a view reads it), and
the environ is a2wsgi's, so what a view sees is unchanged.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import queue
import threading
import time

from a2wsgi.wsgi import Body, build_environ


def _status_code(status: str) -> int:
    return int(status.split(" ", 1)[0])


def _headers(response_headers) -> list[tuple[bytes, bytes]]:
    return [(name.strip().encode("latin1").lower(), value.strip().encode("latin1"))
            for name, value in response_headers]


def _settle(future: asyncio.Future, result, error) -> None:
    if not future.cancelled():
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)


class ThreadPool:
    """Worker threads fed from one queue; results come back as asyncio futures.

    What ``loop.run_in_executor`` does, without a ``concurrent.futures.Future`` (its lock and
    condition) and the callback chain that copies its state into an asyncio future: the
    worker settles the asyncio future with one ``call_soon_threadsafe``.

    One request runs at a time while requests are quick. Python runs one thread's bytecode at a
    time anyway: with four threads on four quick requests, each request took four times as long,
    every database round trip ended in a wait for the GIL, and the threads' hand-offs were the
    list endpoint's p90 (docs/benchmarks.md, "API overhead"). A second thread starts on the next
    request only when every running request has been running for ``slow_after`` seconds: one
    that waits on a slow client, a remote server or a lock does not hold up the rest for longer
    than that. Requests start in the order they came. The price: a request that waits less than
    ``slow_after`` (a slow query) leaves the process's share of the CPU idle meanwhile; a
    deployment whose sync views mostly wait on the database can lower it (``WEB_SYNC_SLOW_MS``;
    0 lets every thread run at once).
    """

    def __init__(self, workers: int, name: str = "WSGI", *, slow_after: float = 0.01) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._slow_after = slow_after
        self._admission = threading.Condition(threading.Lock())
        # Admitted threads: when their request started, or None while they wait for one.
        self._running: dict[int, float | None] = {}
        # Held by the one thread that waits to be admitted next; the others wait for it here,
        # asleep, instead of all waking to recheck the same deadline.
        self._next_in_line = threading.Lock()
        self._watching = False  # the next in line waits for an idle admitted thread to start
        self.threads = [threading.Thread(target=self._work, name=f"{name}_{number}", daemon=True)
                        for number in range(workers)]
        for thread in self.threads:
            thread.start()

    def run(self, function, *args) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._jobs.put((loop, future, contextvars.copy_context(), function, args))
        return future

    def _admissible(self, now: float) -> bool:
        """No admitted thread is idle and every running request has run ``slow_after`` (lock held)."""
        return all(start is not None and now - start >= self._slow_after for start in self._running.values())

    def _wait_for_admission(self, me: int) -> None:
        """Until no running request is younger than ``slow_after`` (and none is about to start).

        Only the next in line waits on the deadline; it wakes when the youngest running request
        turns slow (or, when the admitted thread is idle, once that thread starts a request), not
        at every request: a thread that finishes a quick request takes the next one itself.
        """
        with self._next_in_line, self._admission:
            while True:
                now = time.monotonic()
                if self._admissible(now):
                    break
                starts = self._running.values()
                # An admitted thread waiting for the next request: until it starts one.
                self._watching = None in starts
                self._admission.wait(None if self._watching else max(starts) + self._slow_after - now)
            self._watching = False
            self._running[me] = None

    def _start(self, me: int) -> None:
        with self._admission:
            self._running[me] = time.monotonic()
            if self._watching:
                self._admission.notify()

    def _finish(self, me: int) -> bool:
        """Done with a request: True when this thread may take the next one straight away."""
        with self._admission:
            del self._running[me]
            if self._admissible(time.monotonic()):
                self._running[me] = None
                return True
            return False

    def _work(self) -> None:
        me = threading.get_ident()
        admitted = self._slow_after <= 0
        while True:
            if not admitted:
                self._wait_for_admission(me)
            loop, future, context, function, args = self._jobs.get()
            if self._slow_after > 0:
                self._start(me)
            try:
                result, error = context.run(function, *args), None
            except BaseException as exc:  # handed to the awaiting request, as an executor does
                result, error = None, exc
            if self._slow_after > 0:
                admitted = self._finish(me)
            try:
                loop.call_soon_threadsafe(_settle, future, result, error)
            except RuntimeError:  # the loop closed meanwhile (shutdown): nobody is waiting
                pass
            del loop, future, context, function, args, result, error


class WSGIBridge:
    """An ASGI app (http only) that serves ``wsgi_app`` on ``workers`` threads (or on ``pool``'s)."""

    def __init__(self, wsgi_app, *, workers: int = 4, slow_after: float = 0.01,
                 pool: ThreadPool | None = None) -> None:
        self.app = wsgi_app
        self.pool = pool or ThreadPool(workers, slow_after=slow_after)

    async def __call__(self, scope, receive, send) -> None:
        loop = asyncio.get_running_loop()
        environ = build_environ(scope, Body(loop, receive))
        whole = await self.pool.run(self._run, environ, loop, send)
        if whole is not None:
            status, headers, body = whole
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

    def _run(self, environ, loop, send):
        """In a worker thread: the whole response, or None once a streaming one has been sent."""
        started: list = []
        written: list[bytes] = []

        def start_response(status, response_headers, exc_info=None):
            if exc_info and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [status, response_headers]
            return written.append  # PEP 3333's legacy write(); Django never calls it

        iterable = self.app(environ, start_response)
        try:
            if not getattr(iterable, "streaming", False):
                body = b"".join([*written, *iterable])
                return _status_code(started[0]), _headers(started[1]), body

            def relay(message) -> None:
                asyncio.run_coroutine_threadsafe(send(message), loop).result()

            relay({"type": "http.response.start", "status": _status_code(started[0]),
                   "headers": _headers(started[1])})
            for chunk in itertools.chain(written, iterable):
                if chunk:
                    relay({"type": "http.response.body", "body": chunk, "more_body": True})
            relay({"type": "http.response.body", "body": b""})
            return None
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()
