"""A small closed-loop HTTP/1.1 load generator on asyncio streams (keep-alive).

Lighter than an HTTP client library, so on a 2-core machine most of the CPU is
left to the server under test. Used by the bench/ scripts.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass


@dataclass
class LoadResult:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) * 1000


async def _client(host: str, port: int, request: bytes, deadline: float, out: list[float], errors: list[int],
                  statuses: dict[int, int]) -> None:
    reader = writer = None
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            if writer is None:
                # Servers without keep-alive (gunicorn sync workers) close after each
                # response: reconnecting is part of what a client pays there.
                reader, writer = await asyncio.open_connection(host, port)
            writer.write(request)
            status_line = await reader.readline()
            length, chunked, close = 0, False, False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
                elif name.lower() == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
                elif name.lower() == b"connection" and b"close" in value.lower():
                    close = True
            if chunked:
                while True:
                    size = int((await reader.readline()).strip(), 16)
                    await reader.readexactly(size + 2)
                    if size == 0:
                        break
            elif length:
                await reader.readexactly(length)
            out.append(time.perf_counter() - started)
            status = int(status_line.split()[1]) if status_line else 0
            statuses[status] = statuses.get(status, 0) + 1
            if status != 200:
                errors[0] += 1
            if close or not status_line:
                writer.close()
                reader = writer = None
    finally:
        if writer is not None:
            writer.close()


async def _run(host: str, port: int, path: str, headers: dict[str, str], concurrency: int,
               seconds: float) -> tuple[list[float], int, dict[int, int], float]:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{head}\r\n".encode()
    latencies: list[float] = []
    errors = [0]
    statuses: dict[int, int] = {}
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(_client(host, port, request, deadline, latencies, errors, statuses)
                           for _ in range(concurrency)))
    return latencies, errors[0], statuses, time.perf_counter() - started


def run_load(*, name: str, host: str, port: int, path: str, headers: dict[str, str] | None = None,
             concurrency: int = 64, seconds: float = 10.0, warmup: float = 2.0) -> LoadResult:
    asyncio.run(_run(host, port, path, headers or {}, concurrency, warmup))
    latencies, errors, statuses, elapsed = asyncio.run(_run(host, port, path, headers or {}, concurrency, seconds))
    if errors:
        print(f"  {name}: {errors} non-200 responses: {statuses}")
    return LoadResult(name, len(latencies), errors, elapsed, latencies)
