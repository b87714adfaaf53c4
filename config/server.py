"""The gunicorn worker Frontdesk runs: uvicorn's, with keep-alive connections balanced over workers.

All workers accept from one listening socket (gunicorn's own). Left alone, the worker that
wakes first takes most of a burst of new connections and keeps them for as long as the client
keeps them alive: at 64 keep-alive clients one worker held 60 of them while its sibling idled
(docs/benchmarks.md, "API overhead"). ``SO_REUSEPORT`` (a socket per worker) spreads them by a
hash of the client's address and port instead, which is fair on average but not per burst: a
26/38 split made the busier worker's clients wait ~40 % longer, and that worker's queue was
the p99.

So each worker publishes how many connections it holds on a small shared board (an
anonymous shared mapping made in gunicorn's master before it forks the workers), and a worker
that holds more than the least loaded live sibling leaves a waiting connection in the queue
for that sibling, as nginx's ``accept_disabled`` does. It waits at most ``MAX_DEFER`` seconds
for a connection: a sibling that is busy, stuck or dying only delays new connections by that
much, and one that has not published for ``STALE_AFTER`` seconds no longer counts.

Each connection's transport also holds a write until the next one (``_HeldWrite``), so a plain
response leaves in one ``writev`` (one segment) instead of a head and a body apart.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import mmap
import multiprocessing
import os
import socket
import sys
import time

from gunicorn.arbiter import Arbiter
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

logger = logging.getLogger("uvicorn.error")

SLOTS = 128  # workers per master, far more than any machine runs
MAX_DEFER = 0.02  # s a worker leaves a waiting connection to a less loaded sibling
STALE_AFTER = 1.0  # s without publishing after which a sibling is ignored
PUBLISH_EVERY = 0.05  # s between a worker's publications of its connection count


class Board:
    """Connections per worker, shared by the processes forked after it was made.

    Cell 0 holds how many slots were ever claimed (readers look no further); then each slot
    holds three int64: the worker's pid, its open connections and the monotonic time (ns) it
    last published. Monotonic time is the same clock in every process.
    """

    def __init__(self, slots: int = SLOTS) -> None:
        self._map = mmap.mmap(-1, (1 + slots * 3) * 8)  # MAP_SHARED | MAP_ANONYMOUS: survives fork
        self._cells = memoryview(self._map).cast("q")
        self._lock = multiprocessing.get_context("fork").Lock()
        self.slots = slots

    def claim(self, pid: int) -> int | None:
        """A free slot for ``pid`` (a dead worker's stale slot counts as free), or None if full."""
        stale = _stale_before()
        with self._lock:
            for slot in range(self.slots):
                at = 1 + slot * 3
                owner = self._cells[at]
                if owner == 0 or (self._cells[at + 2] < stale and not _alive(owner)):
                    self._cells[at], self._cells[at + 1], self._cells[at + 2] = pid, 0, time.monotonic_ns()
                    self._cells[0] = max(self._cells[0], slot + 1)
                    return slot
        return None

    def publish(self, slot: int, connections: int) -> None:
        at = 1 + slot * 3
        self._cells[at + 1] = connections
        self._cells[at + 2] = time.monotonic_ns()

    def release(self, slot: int) -> None:
        at = 1 + slot * 3
        self._cells[at], self._cells[at + 1], self._cells[at + 2] = 0, 0, 0

    def least_sibling(self, slot: int) -> int | None:
        """The fewest connections any live sibling holds, or None without live siblings."""
        stale = _stale_before()
        cells, least = self._cells, None
        for other in range(cells[0]):
            at = 1 + other * 3
            if other == slot or cells[at] == 0 or cells[at + 2] < stale:
                continue
            if least is None or cells[at + 1] < least:
                least = cells[at + 1]
        return least


def _stale_before() -> int:
    """Slots last published before this monotonic time (ns) belong to silent workers."""
    return time.monotonic_ns() - int(STALE_AFTER * 1e9)


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs: a worker that is only stuck keeps its slot."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        pass
    return True


# Made at import, which gunicorn does in its master when it loads the worker class: every
# worker it forks shares this mapping. (Imported in a single process, it only holds itself.)
board = Board()


class BalancedListener:
    """Accepts from a shared listening socket, leaving connections to less loaded siblings.

    Stands in for the ``asyncio.Server`` uvicorn keeps per socket (``close``/``wait_closed``).
    """

    def __init__(self, sock: socket.socket, protocol_factory, connections: set, board: Board,
                 slot: int | None) -> None:
        self._sock = sock
        self._factory = protocol_factory
        self._connections = connections  # uvicorn's live protocols of this worker
        self._board = board
        self._slot = slot
        self._loop = asyncio.get_running_loop()
        self._connecting = 0  # accepted, protocol not yet made
        self._deferred_since = self._deferred_last = 0.0
        self._resume: asyncio.TimerHandle | None = None
        self._closed = False
        self._tasks: set[asyncio.Task] = set()
        sock.setblocking(False)
        self._loop.add_reader(sock.fileno(), self._on_readable)
        self._publish_periodically()

    def held(self) -> int:
        return len(self._connections) + self._connecting

    def _publish_periodically(self) -> None:
        if self._closed or self._slot is None:
            return
        self._board.publish(self._slot, self.held())
        self._loop.call_later(PUBLISH_EVERY, self._publish_periodically)

    def _should_defer(self) -> bool:
        if self._slot is None:
            return False
        least = self._board.least_sibling(self._slot)
        if least is None or self.held() <= least:
            return False
        now = time.monotonic()
        if now - self._deferred_last > MAX_DEFER:
            # A new wait (the last one ended with the queue empty: a sibling took the connection).
            self._deferred_since = now
        self._deferred_last = now
        if now - self._deferred_since >= MAX_DEFER:
            self._deferred_last = 0.0  # waited long enough: the sibling is not taking it
            return False
        return True

    def _on_readable(self) -> None:
        # Level-triggered: called while connections wait. Accept until the queue is empty or
        # this worker holds more than its share.
        while not self._closed:
            if self._should_defer():
                self._loop.remove_reader(self._sock.fileno())
                self._resume = self._loop.call_later(0.001, self._resume_reading)
                return
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return  # a sibling took it
            except ConnectionAbortedError:
                continue  # the client gave up while queued
            except OSError as exc:  # EMFILE, ENFILE, ENOBUFS: back off, the queue keeps them
                logger.error("accept() failed: %s; retrying in 0.1 s", exc)
                self._loop.remove_reader(self._sock.fileno())
                self._resume = self._loop.call_later(0.1, self._resume_reading)
                return
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._connecting += 1
            task = self._loop.create_task(self._connect(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            if self._slot is not None:
                self._board.publish(self._slot, self.held())

    def _resume_reading(self) -> None:
        self._resume = None
        if not self._closed:
            self._loop.add_reader(self._sock.fileno(), self._on_readable)

    async def _connect(self, conn: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(self._factory, conn)
        except OSError:
            conn.close()  # the client left between accept and now
        finally:
            self._connecting -= 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._resume is not None:
            self._resume.cancel()
        else:
            self._loop.remove_reader(self._sock.fileno())
        if self._slot is not None:
            self._board.release(self._slot)

    async def wait_closed(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


class _HeldWrite:
    """A transport whose ``write`` holds one piece of data until the next write or the end of
    the event loop's iteration, whichever comes first, and then sends both in one go.

    uvicorn writes a response's head (``http.response.start``) and its body
    (``http.response.body``) with a ``transport.write`` each: two ``send`` calls, two loopback
    segments and two wake-ups of the client for every JSON answer. Both come in the same step of
    the request's task, so the second write joins the held head (``writelines``: one ``writev``
    on uvloop). A streamed response's head, or a lone chunk, leaves at the end of the loop's
    iteration: no later than the loop would have got to the socket's other work anyway.
    """

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is None:
            self._held = data
            self._loop.call_soon(self._release)
        else:
            self._held = None
            self._transport.writelines((held, data))

    def _release(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self._release()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str):  # pause_reading, get_extra_info, set_protocol, ...
        return getattr(self._transport, name)


@functools.cache
def _held_writes(protocol_class: type) -> type:
    """``protocol_class`` (uvicorn's HTTP protocol) on a ``_HeldWrite`` transport."""

    class Protocol(protocol_class):
        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(_HeldWrite(transport, asyncio.get_running_loop()))

    Protocol.__name__ = Protocol.__qualname__ = f"HeldWrite{protocol_class.__name__}"
    return Protocol


class BalancedServer(Server):
    """uvicorn's server, accepting through ``BalancedListener`` on gunicorn's sockets."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        if sockets is None or self.config.ssl:
            return await super().startup(sockets=sockets)
        await super().startup(sockets=[])  # lifespan and state; no listeners yet
        if not self.started:
            return
        factory = functools.partial(_held_writes(self.config.http_protocol_class), config=self.config,
                                    server_state=self.server_state, app_state=self.lifespan.state)
        slot = board.claim(os.getpid())
        self.servers = [BalancedListener(sock, factory, self.server_state.connections, board, slot)
                        for sock in sockets]


class Worker(UvicornWorker):
    """``gunicorn -k config.server.Worker``: see the module's docstring."""

    async def _serve(self) -> None:
        self.config.app = self.wsgi
        server = BalancedServer(config=self.config)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
