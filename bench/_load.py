"""A small closed-loop HTTP/1.1 load generator (keep-alive), on uvloop with asyncio protocols.

It shares the 2 cores with the server under test, so it is built to cost little per
request: one protocol object per client, no per-line awaits, the response parsed from the
bytes received in one pass (Content-Length or chunked). It reports its own CPU per request
so a benchmark can tell the server's cost from the client's (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import uvloop


@dataclass
class LoadResult:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    client_cpu: float = 0.0  # seconds of this process's CPU during the measured run
    cpu: dict[str, float] = field(default_factory=dict)  # seconds of other processes' CPU, by name

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def client_cpu_ms(self) -> float:
        return self.client_cpu * 1000 / max(1, self.requests)

    def cpu_ms(self, name: str) -> float:
        """ms of ``name``'s CPU per request."""
        return self.cpu.get(name, 0.0) * 1000 / max(1, self.requests)


def _response_end(buf: bytearray) -> tuple[int, int, bool] | None:
    """(bytes the first response takes, its status, server closes) or None if incomplete."""
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = bytes(buf[:head_end]).lower()
    status = int(head[9:12])
    close = b"\r\nconnection: close" in head
    start = head_end + 4
    at = head.find(b"\r\ncontent-length:")
    if at >= 0:
        stop = head.find(b"\r\n", at + 2)
        end = start + int(head[at + 17:stop if stop >= 0 else None])
        return (end, status, close) if len(buf) >= end else None
    if b"\r\ntransfer-encoding: chunked" in head:
        pos = start
        while True:
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                return None
            size = int(bytes(buf[pos:line_end]).split(b";")[0], 16)
            pos = line_end + 2 + size + 2
            if len(buf) < pos:
                return None
            if size == 0:
                return pos, status, close
    return start, status, close


class _Client(asyncio.Protocol):
    def __init__(self, run: _Run) -> None:
        self.run = run
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.started = 0.0

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.send()

    def send(self) -> None:
        if time.perf_counter() >= self.run.deadline:
            self.transport.close()
            return
        self.started = time.perf_counter()
        self.transport.write(self.run.request)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        done = _response_end(self.buf)
        if done is None:
            return
        end, status, close = done
        del self.buf[:end]
        if self.started >= self.run.measure_from:
            self.run.record(time.perf_counter() - self.started, status)
        if close:
            # Servers without keep-alive (gunicorn sync workers) close after each
            # response: reconnecting is part of what a client pays there.
            self.transport.close()
            self.run.reconnect()
        else:
            self.send()

    def connection_lost(self, exc) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
        self.run.lost(self)


class _Run:
    def __init__(self, host: str, port: int, request: bytes, seconds: float, concurrency: int,
                 warmup: float = 0.0) -> None:
        self.host, self.port, self.request = host, port, request
        # Requests sent before measure_from (the warm-up, on the same connections) are not counted.
        self.measure_from = time.perf_counter() + warmup
        self.deadline = self.measure_from + seconds
        self.last_done = self.measure_from
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors = 0
        self.open = concurrency
        self.done = asyncio.get_running_loop().create_future()
        self.pending = 0

    def record(self, latency: float, status: int) -> None:
        self.last_done = time.perf_counter()
        self.latencies.append(latency)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status != 200:
            self.errors += 1

    def reconnect(self) -> None:
        self.open += 1  # the closed connection's connection_lost will take one off
        asyncio.get_running_loop().create_task(self.connect())

    async def connect(self) -> None:
        if time.perf_counter() >= self.deadline:
            self.open -= 1
            self._maybe_done()
            return
        await asyncio.get_running_loop().create_connection(lambda: _Client(self), self.host, self.port)

    def lost(self, client: _Client) -> None:
        self.open -= 1
        self._maybe_done()

    def _maybe_done(self) -> None:
        if self.open <= 0 and not self.done.done():
            self.done.set_result(None)


async def _run(host: str, port: int, path: str, headers: dict[str, str], concurrency: int,
               seconds: float, warmup: float = 0.0,
               at_measure_start: Callable[[], None] | None = None) -> tuple[_Run, float]:
    """Open ``concurrency`` connections and keep each busy; count what is sent after ``warmup``."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{head}\r\n".encode()
    run = _Run(host, port, request, seconds, concurrency, warmup)
    if at_measure_start is not None:
        asyncio.get_running_loop().call_later(run.measure_from - time.perf_counter(), at_measure_start)
    for _ in range(concurrency):
        await run.connect()
    await run.done
    return run, run.last_done - run.measure_from


def run_load(*, name: str, host: str, port: int, path: str, headers: dict[str, str] | None = None,
             concurrency: int = 64, seconds: float = 10.0, warmup: float = 2.0, cold_start: bool = False,
             cpu_readers: dict[str, Callable[[], float]] | None = None) -> LoadResult:
    """``cpu_readers``: by name, functions that read a process's CPU seconds so far (bench/_cpu.py),
    to charge the measured run's CPU per request.

    The clients connect, run ``warmup`` seconds, and go on over the same keep-alive connections
    for the ``seconds`` that are measured: the latencies are those of 64 (``concurrency``)
    clients already connected. ``cold_start``: the warm-up on
    connections of its own, then the measured run opening all its connections at once, so its
    first requests also wait for the burst of connections to be accepted.
    """
    readers = cpu_readers or {}
    before: dict[str, float] = {}

    def snapshot() -> None:
        before["client"] = time.process_time()
        before.update({name: read() for name, read in readers.items()})

    if cold_start:
        uvloop.run(_run(host, port, path, headers or {}, concurrency, warmup))
        snapshot()
        run, elapsed = uvloop.run(_run(host, port, path, headers or {}, concurrency, seconds))
    else:
        run, elapsed = uvloop.run(_run(host, port, path, headers or {}, concurrency, seconds, warmup, snapshot))
    cpu = time.process_time() - before["client"]
    others = {name: read() - before[name] for name, read in readers.items()}
    if run.errors:
        print(f"  {name}: {run.errors} non-200 responses: {run.statuses}")
    return LoadResult(name, len(run.latencies), run.errors, elapsed, run.latencies, cpu, others)
