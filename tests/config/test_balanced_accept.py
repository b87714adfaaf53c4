"""Keep-alive connections are spread evenly over gunicorn's workers (config/server.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.server import STALE_AFTER, Board
from tests.conftest import free_port, subprocess_env

ROOT = Path(__file__).resolve().parent.parent.parent


# --------------------------------------------------------------------------- the board


def test_board_gives_each_worker_its_own_slot_and_reuses_a_released_one():
    board = Board(slots=4)
    first, second = board.claim(101), board.claim(102)
    assert first != second
    board.release(first)
    assert board.claim(103) == first


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()  # exited and reaped: its pid names no process (until the kernel reuses it)
    return child.pid


def test_board_least_sibling_ignores_itself_released_and_silent_workers(monkeypatch):
    board = Board(slots=4)
    dead, stuck = _dead_pid(), os.getpid()
    me, gone, idle = board.claim(1), board.claim(dead), board.claim(stuck)
    board.publish(me, 0)
    board.publish(gone, 40)
    board.publish(idle, 3)
    assert board.least_sibling(me) == 3
    board.release(idle)
    assert board.least_sibling(me) == 40
    assert board.least_sibling(gone) == 0

    # Workers that stopped publishing (stuck, or killed without releasing) no longer count.
    later = time.monotonic_ns() + int((STALE_AFTER + 1) * 1e9)
    monkeypatch.setattr(time, "monotonic_ns", lambda: later)
    board.publish(me, 0)
    assert board.least_sibling(me) is None
    # A dead worker's slot is free again; a stuck one's is not.
    stuck_slot = board.claim(stuck)
    assert stuck_slot == gone
    monkeypatch.setattr(time, "monotonic_ns", lambda: later + int((STALE_AFTER + 1) * 1e9))
    board.publish(me, 0)
    assert board.claim(7) not in (me, stuck_slot)


def test_board_is_shared_with_forked_processes():
    board = Board(slots=4)
    slot = board.claim(os.getpid())
    child = os.fork()
    if child == 0:  # pragma: no cover - the child only publishes and leaves
        board.publish(board.claim(os.getpid()), 17)
        os._exit(0)
    os.waitpid(child, 0)
    assert board.least_sibling(slot) == 17


# --------------------------------------------------------------------------- a real server


def _workers(master: int) -> list[int]:
    with open(f"/proc/{master}/task/{master}/children") as f:
        return [int(pid) for pid in f.read().split()]


def _established(port: int) -> set[int]:
    """Socket inodes of the server side of established connections on ``port``."""
    inodes = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local_port, state = int(fields[1].split(":")[1], 16), fields[3]
            if local_port == port and state == "01":
                inodes.add(int(fields[9]))
    return inodes


def _connections_per_worker(master: int, port: int) -> dict[int, int]:
    established = _established(port)
    counts = {}
    for pid in _workers(master):
        held = 0
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and int(target[8:-1]) in established:
                held += 1
        counts[pid] = held
    return counts


def _get(sock: socket.socket) -> bytes:
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    return data


@pytest.fixture
def server():
    port = free_port()
    # No -k: the worker class comes from gunicorn.conf.py, as in `make demo` and the image.
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "config.asgi:application", "--workers", "2",
         "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT, env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "gunicorn exited"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                    _get(probe)
                if len(_workers(proc.pid)) == 2:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        for _ in range(3):  # both workers have served requests (opened their database connections)
            warm = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
            for client in warm:
                _get(client)
                client.close()
        time.sleep(2 * STALE_AFTER)  # both workers published, the warm-up connections are gone
        yield proc, port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_a_burst_of_keep_alive_connections_is_split_evenly(server):
    proc, port = server
    # All at once, as a load balancer or a benchmark opens its pool: with one shared socket and
    # plain uvicorn workers, the first worker to wake took nearly all of them.
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
    try:
        for client in clients:
            assert _get(client).startswith(b"HTTP/1.1 200")
        counts = sorted(_connections_per_worker(proc.pid, port).values())
        assert sum(counts) == 64
        assert counts[1] - counts[0] <= 2, counts
    finally:
        for client in clients:
            client.close()


@pytest.mark.slow
def test_a_stuck_worker_only_delays_new_connections(server):
    proc, port = server
    stuck, other = _workers(proc.pid)
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
    try:
        for client in clients:  # spread over both workers
            assert _get(client).startswith(b"HTTP/1.1 200")
        os.kill(stuck, signal.SIGSTOP)
        try:
            # The running worker holds as many as the stopped one, or more: it leaves each new
            # connection to its sibling for a moment, then takes it.
            late = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
            clients += late
            for client in late:
                assert _get(client).startswith(b"HTTP/1.1 200")
            counts = _connections_per_worker(proc.pid, port)
            assert counts[other] == counts[stuck] + 8, counts  # the running worker took them all
        finally:
            os.kill(stuck, signal.SIGCONT)
    finally:
        for client in clients:
            client.close()
