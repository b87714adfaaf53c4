"""Admission to the model servers, shared by every web process: a total capacity, a cap per key
(a business) and a weighted fair queue between the keys that wait.

``admitted(share)`` holds one place for the ``async with`` block::

    async with admission.admitted(Share("biz-1", cap=8, weight=2), timeout=60, on_queued=notify):
        ...  # stream from the model server

What it guarantees, across processes when it runs on Redis (``RedisAdmission``):

- **A total capacity** (the model servers' sequences: replicas times ``--max-num-seqs``) and **a cap
  per key**: at most ``capacity`` places are held in all, at most ``share.cap`` by one key.
- **Fair turns when full**: each key that waits has a FIFO of tickets; the keys that wait are
  ordered by a virtual time that grows by ``1 / weight`` per place granted to the key, and a key
  that starts waiting joins at the current minimum (just after it). So when places free up they go
  round-robin between the waiting keys, weighted (a key of weight 2 gets two turns for one of a
  key of weight 1), not first come, first served: a key that floods the queue waits behind its own
  tickets while another key's single request is served at the next turn.
- **One round trip** to enter when nobody waits and both caps have room (the same Lua script that
  queues the ticket grants it at once).
- **Leases, not counters**: a place is a member of a sorted set scored by its expiry
  (``lease_seconds``); each process renews the places and tickets it holds every third of that,
  so a process that dies frees its places within ``lease_seconds``. A waiting ticket that is not
  renewed is dropped when its turn comes.
- **Waiters learn of grants by pub/sub** (one subscriber per process and event loop; the grants
  of one release are one message), with a poll every ``poll_seconds`` as a fallback (a lost
  message, a lease that expired with nobody releasing it).
- **Leaving is cancellation-safe**: the ``async with`` block's exit (normal, error or the task
  cancelled while still waiting: the client went away) removes the ticket or releases the place,
  even one granted in the meantime.
- **A bounded wait**: after ``timeout`` seconds in the queue ``InferenceTimeout`` with code
  ``inference_queue_timeout`` (``details["phase"] == "queue"``).

``on_queued(position)`` is called (from the waiting task) when the request has to wait and then
every ``notice_seconds`` while it waits; ``position`` is the ticket's place among its own key's
waiting tickets (1: next of its key).

``LocalAdmission`` has the same semantics inside one process (no Redis: the demo); its places
are not leased (a process that dies takes them with it).

The scripts use keys they compute from a prefix (not declared in KEYS): standalone Redis (or a
single-slot setup), not Redis Cluster. Every process must be configured with the same capacity.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from redis.exceptions import RedisError

from inference.errors import InferenceTimeout, InferenceUnavailable

__all__ = ["Admission", "LocalAdmission", "RedisAdmission", "Share"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Share:
    """Who asks for a place: ``key`` (one business), its cap on places held at once, its weight
    in the fair queue and the model server's request priority (vLLM: lower is earlier), which
    the caller passes on."""

    key: str
    cap: int
    weight: float = 1.0
    priority: int = 0


class Admission:
    """The waiting loop shared by both implementations; they provide the four primitives."""

    def __init__(self, *, capacity: int, poll_seconds: float = 2.0, notice_seconds: float = 5.0) -> None:
        self.capacity = max(1, int(capacity))
        self.poll_seconds = max(0.05, float(poll_seconds))
        self.notice_seconds = max(0.05, float(notice_seconds))

    @contextlib.asynccontextmanager
    async def admitted(self, share: Share, *, timeout: float,
                       on_queued: Callable[[int], None] | None = None) -> AsyncIterator[None]:
        ticket = uuid.uuid4().hex
        share = Share(share.key, max(1, int(share.cap)), max(0.001, float(share.weight)), share.priority)
        waiter = _Waiter(ticket, share)
        await self._register(waiter)
        try:
            position = await self._enter(waiter)
            if position:
                await self._wait(waiter, position, timeout, on_queued)
            waiter.leased = True
            yield
        finally:
            self._unregister(waiter)
            try:
                # Shielded: a cancelled request (client gone) must still give its place back.
                await asyncio.shield(self._leave(waiter))
            except Exception:  # no longer renewed: the place expires with its lease
                logger.warning("admission: releasing %s failed", waiter.ticket, exc_info=True)

    async def _wait(self, waiter: _Waiter, position: int, timeout: float,
                    on_queued: Callable[[int], None] | None) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + max(0.0, float(timeout))
        if on_queued is not None:
            on_queued(position)
        noticed = loop.time()
        while True:
            now = loop.time()
            if now >= deadline:
                raise InferenceTimeout(
                    f"The model servers stayed full for {timeout:g} s; the request waited its turn that long.",
                    code="inference_queue_timeout",
                    details={"phase": "queue", "position": position, "waited_seconds": round(now - started, 1)},
                )
            wake = min(deadline, now + self.poll_seconds)
            if on_queued is not None:
                wake = min(wake, noticed + self.notice_seconds)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(wake):
                    await waiter.event.wait()
            waiter.event.clear()
            if waiter.granted:
                return
            position = await self._check(waiter)
            if not position:
                return
            if on_queued is not None and loop.time() - noticed >= self.notice_seconds:
                on_queued(position)
                noticed = loop.time()

    # The primitives. A position of 0 means the place is granted.

    async def _register(self, waiter: _Waiter) -> None:
        raise NotImplementedError

    def _unregister(self, waiter: _Waiter) -> None:
        raise NotImplementedError

    async def _enter(self, waiter: _Waiter) -> int:
        raise NotImplementedError

    async def _check(self, waiter: _Waiter) -> int:
        raise NotImplementedError

    async def _leave(self, waiter: _Waiter) -> None:
        raise NotImplementedError

    async def held(self) -> dict[str, int]:
        """Places held now per key (tests, metrics)."""
        raise NotImplementedError


@dataclass(eq=False)
class _Waiter:
    ticket: str
    share: Share
    event: asyncio.Event = field(default_factory=asyncio.Event)
    granted: bool = False  # told so by the grant message
    leased: bool = False  # inside the block: renewed as a place, not as a waiting ticket
    loop: asyncio.AbstractEventLoop | None = None

    def grant(self) -> None:
        self.granted = True
        self.event.set()


# --------------------------------------------------------------------------- in one process


class LocalAdmission(Admission):
    """The same rules without Redis, for one process (all its event loops and threads)."""

    def __init__(self, *, capacity: int, poll_seconds: float = 2.0, notice_seconds: float = 5.0) -> None:
        super().__init__(capacity=capacity, poll_seconds=poll_seconds, notice_seconds=notice_seconds)
        self._lock = threading.Lock()
        self._held: dict[str, int] = {}
        self._total = 0
        self._queues: dict[str, deque[_Waiter]] = {}
        self._vtime: dict[str, float] = {}  # keys with waiters
        self._joins = 0

    async def _register(self, waiter: _Waiter) -> None:
        waiter.loop = asyncio.get_running_loop()

    def _unregister(self, waiter: _Waiter) -> None:
        pass

    async def _enter(self, waiter: _Waiter) -> int:
        key = waiter.share.key
        with self._lock:
            queue = self._queues.get(key)
            if queue is None:
                queue = self._queues[key] = deque()
                self._joins += 1
                base = min(self._vtime.values(), default=0.0)
                self._vtime[key] = base + (self._joins % 1000 + 1) * 1e-6
            queue.append(waiter)
            granted = self._dispatch()
            self._notify(granted, own=waiter)
            return 0 if waiter in granted else self._position(waiter)

    async def _check(self, waiter: _Waiter) -> int:
        with self._lock:
            return 0 if waiter.granted else self._position(waiter)

    async def _leave(self, waiter: _Waiter) -> None:
        key = waiter.share.key
        with self._lock:
            queue = self._queues.get(key)
            if queue is not None and waiter in queue:
                queue.remove(waiter)
                if not queue:
                    del self._queues[key]
                    del self._vtime[key]
            elif waiter.granted or waiter.leased:
                self._held[key] -= 1
                self._total -= 1
                if not self._held[key]:
                    del self._held[key]
            waiter.granted = False
            waiter.leased = False
            self._notify(self._dispatch(), own=None)

    async def held(self) -> dict[str, int]:
        with self._lock:
            return dict(self._held)

    def _position(self, waiter: _Waiter) -> int:
        return self._queues[waiter.share.key].index(waiter) + 1

    def _dispatch(self) -> list[_Waiter]:
        granted: list[_Waiter] = []
        while self._total < self.capacity:
            ready = [(vt, key) for key, vt in self._vtime.items()
                     if self._held.get(key, 0) < self._queues[key][0].share.cap]
            if not ready:
                break
            vt, key = min(ready)
            queue = self._queues[key]
            waiter = queue.popleft()
            waiter.granted = True
            granted.append(waiter)
            self._held[key] = self._held.get(key, 0) + 1
            self._total += 1
            if queue:
                self._vtime[key] = vt + 1.0 / waiter.share.weight
            else:
                del self._queues[key]
                del self._vtime[key]
        return granted

    @staticmethod
    def _notify(granted: list[_Waiter], *, own: _Waiter | None) -> None:
        for waiter in granted:
            if waiter is not own and waiter.loop is not None:
                waiter.loop.call_soon_threadsafe(waiter.grant)


# --------------------------------------------------------------------------- across processes

# Keys (all under the prefix P): P.."g" places held (ZSET ticket -> lease expiry), P.."l:"..key the
# key's places (same), P.."q:"..key the key's waiting tickets (ZSET ticket -> arrival number),
# P.."w" waiting tickets (ZSET ticket -> expiry, renewed while the waiter lives), P.."v" keys with
# waiters (ZSET key -> virtual time), P.."k:"..key the key's cap and weight, P.."n" counters.
# Times are the Redis server's clock (TIME), so web hosts' clocks need not agree.
_LUA_COMMON = """
local P = ARGV[1]
local ttl = tonumber(ARGV[2])
local capacity = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local G, V, W = P .. 'g', P .. 'v', P .. 'w'

local function dispatch(own)
  redis.call('ZREMRANGEBYSCORE', G, '-inf', now)
  local granted, told = {}, {}
  while redis.call('ZCARD', G) < capacity do
    local keys = redis.call('ZRANGE', V, 0, -1, 'WITHSCORES')
    local chosen, vt, weight = nil, 0, 1
    for i = 1, #keys, 2 do
      local k = keys[i]
      local L = P .. 'l:' .. k
      redis.call('ZREMRANGEBYSCORE', L, '-inf', now)
      local meta = redis.call('HMGET', P .. 'k:' .. k, 'cap', 'weight')
      local cap = tonumber(meta[1]) or 1
      if redis.call('ZCARD', L) < cap then
        chosen, vt, weight = k, tonumber(keys[i + 1]), tonumber(meta[2]) or 1
        break
      end
    end
    if not chosen then break end
    local Q = P .. 'q:' .. chosen
    local head = redis.call('ZRANGE', Q, 0, 0)
    if #head > 0 then
      local ticket = head[1]
      redis.call('ZREM', Q, ticket)
      local alive = redis.call('ZSCORE', W, ticket)
      redis.call('ZREM', W, ticket)
      if alive and tonumber(alive) > now then
        redis.call('ZADD', G, now + ttl, ticket)
        redis.call('ZADD', P .. 'l:' .. chosen, now + ttl, ticket)
        granted[#granted + 1] = ticket
        if ticket ~= own then told[#told + 1] = ticket end
        vt = vt + 1 / weight
      end
    end
    if redis.call('ZCARD', Q) == 0 then
      redis.call('ZREM', V, chosen)
    else
      redis.call('ZADD', V, vt, chosen)
    end
  end
  if #told > 0 then redis.call('PUBLISH', P .. 'granted', table.concat(told, ' ')) end
  return granted
end

local function position(ticket, key)
  if redis.call('ZSCORE', G, ticket) then return 0 end
  local rank = redis.call('ZRANK', P .. 'q:' .. key, ticket)
  if not rank then return -1 end
  return rank + 1
end
"""

# ARGV: prefix, ttl, capacity, ticket, key, cap, weight -> 0 (granted) or the position.
_LUA_ENTER = _LUA_COMMON + """
local ticket, key = ARGV[4], ARGV[5]
local meta = P .. 'k:' .. key
redis.call('HSET', meta, 'cap', ARGV[6], 'weight', ARGV[7])
redis.call('EXPIRE', meta, 86400)
local Q = P .. 'q:' .. key
if not redis.call('ZSCORE', V, key) then
  local first = redis.call('ZRANGE', V, 0, 0, 'WITHSCORES')
  local base = 0
  if #first > 0 then base = tonumber(first[2]) end
  local n = redis.call('HINCRBY', P .. 'n', 'joins', 1) % 1000
  redis.call('ZADD', V, base + (n + 1) / 1000000, key)
end
redis.call('ZADD', Q, redis.call('HINCRBY', P .. 'n', 'tickets', 1), ticket)
redis.call('ZADD', W, now + ttl, ticket)
dispatch(ticket)
return position(ticket, key)
"""

# ARGV: prefix, ttl, capacity, ticket, key -> 0 (granted), the position, or -1 (ticket lost).
_LUA_CHECK = _LUA_COMMON + """
dispatch(ARGV[4])
return position(ARGV[4], ARGV[5])
"""

# ARGV: prefix, ttl, capacity, ticket, key. Removes the ticket wherever it is, then dispatches.
_LUA_LEAVE = _LUA_COMMON + """
local ticket, key = ARGV[4], ARGV[5]
redis.call('ZREM', G, ticket)
redis.call('ZREM', P .. 'l:' .. key, ticket)
local Q = P .. 'q:' .. key
if redis.call('ZREM', Q, ticket) == 1 and redis.call('ZCARD', Q) == 0 then redis.call('ZREM', V, key) end
redis.call('ZREM', W, ticket)
dispatch('')
return 1
"""

# ARGV: prefix, ttl, capacity, then (ticket, key, leased 1/0) triples. A place is renewed even if
# it had expired (its stream is still running); a waiting ticket only if it is still queued.
_LUA_RENEW = _LUA_COMMON + """
for i = 4, #ARGV, 3 do
  local ticket, key = ARGV[i], ARGV[i + 1]
  if ARGV[i + 2] == '1' then
    redis.call('ZADD', G, now + ttl, ticket)
    redis.call('ZADD', P .. 'l:' .. key, now + ttl, ticket)
  else
    redis.call('ZADD', W, 'XX', now + ttl, ticket)
  end
end
return 1
"""

# ARGV: prefix -> flat list key, places held (expired ones not counted).
_LUA_HELD = """
local P = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local out = {}
local cursor = '0'
repeat
  local page = redis.call('SCAN', cursor, 'MATCH', P .. 'l:*', 'COUNT', 1000)
  cursor = page[1]
  for _, L in ipairs(page[2]) do
    local n = redis.call('ZCOUNT', L, now, '+inf')
    if n > 0 then
      out[#out + 1] = string.sub(L, #P + 3)
      out[#out + 1] = n
    end
  end
until cursor == '0'
return out
"""


_POOL_SIZE = 32  # Redis connections per event loop for the scripts


class RedisAdmission(Admission):
    """The rules across processes, on one Redis.

    The scripts run on a ``redis.asyncio`` client of the calling event loop. Grant messages and
    renewals are handled by one daemon thread per process (a plain ``redis`` client), which wakes
    a waiter on its own loop: one subscription per process, whatever the number of loops (a
    Celery task's ``async_to_sync`` runs a fresh loop per call)."""

    def __init__(self, *, url: str, capacity: int, prefix: str = "fd:adm:", lease_seconds: float = 30.0,
                 poll_seconds: float = 2.0, notice_seconds: float = 5.0) -> None:
        super().__init__(capacity=capacity, poll_seconds=poll_seconds, notice_seconds=notice_seconds)
        self.url = url
        self.prefix = prefix
        self.lease_seconds = max(1.0, float(lease_seconds))
        self._lock = threading.Lock()
        self._clients: dict[asyncio.AbstractEventLoop, tuple[object, dict[str, object]]] = {}
        self._waiters: dict[str, _Waiter] = {}
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()

    # -- the process's thread: grants and renewals ---------------------------------------------

    async def _started(self) -> None:
        with self._lock:
            if self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, daemon=True, name="admission")
                self._thread.start()
        if not self._ready.is_set():
            # Subscribed before the first ticket is queued; without Redis the scripts fail anyway.
            await asyncio.to_thread(self._ready.wait, 5.0)

    def _run(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url)
        renew = client.register_script(_LUA_RENEW)
        pubsub = None
        next_renewal = time.monotonic() + self.lease_seconds / 3
        while not self._stop.is_set():
            try:
                if pubsub is None:
                    pubsub = client.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(self.prefix + "granted")
                    self._ready.set()
                message = pubsub.get_message(timeout=0.5)
                if message is not None and message.get("type") == "message":
                    self._deliver(message["data"])
                if time.monotonic() >= next_renewal:
                    next_renewal = time.monotonic() + self.lease_seconds / 3
                    args = self._renewals()
                    if args:
                        renew(args=[self.prefix, f"{self.lease_seconds:g}", str(self.capacity), *args])
            except Exception:  # Redis restarted: subscribe again; the waiters' poll covers the gap
                logger.warning("admission: Redis failed; reconnecting", exc_info=True)
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        pubsub.close()
                pubsub = None
                self._stop.wait(1.0)
        if pubsub is not None:
            with contextlib.suppress(Exception):
                pubsub.close()
        client.close()

    def _deliver(self, data) -> None:
        text = data.decode() if isinstance(data, bytes) else str(data)
        with self._lock:
            woken = [self._waiters.get(ticket) for ticket in text.split()]
        for waiter in woken:
            if waiter is not None and waiter.loop is not None:
                with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits
                    waiter.loop.call_soon_threadsafe(waiter.grant)

    def _renewals(self) -> list[str]:
        with self._lock:
            waiters = list(self._waiters.values())
        args: list[str] = []
        for waiter in waiters:
            args += [waiter.ticket, waiter.share.key, "1" if waiter.leased else "0"]
        return args

    def close(self) -> None:
        """Stop the thread (tests; a process that changes its settings)."""
        with self._lock:
            thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join(timeout=5)
        self._ready.clear()

    # -- scripts on the caller's loop ----------------------------------------------------------

    async def _script(self, source: str, *args) -> object:
        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is None:
            import redis.asyncio as redis_asyncio

            # A bounded pool that makes a burst wait for a connection (redis' default pool
            # raises past 100): every script is one short round trip.
            pool = redis_asyncio.BlockingConnectionPool.from_url(self.url, max_connections=_POOL_SIZE, timeout=30)
            with self._lock:
                # Forget the clients of closed loops (asyncio.run per async_to_sync call).
                for old in [old for old in self._clients if old.is_closed()]:
                    del self._clients[old]
                entry = self._clients[loop] = (redis_asyncio.Redis(connection_pool=pool), {})
        client, scripts = entry
        script = scripts.get(source)
        if script is None:
            script = scripts[source] = client.register_script(source)
        try:
            return await script(args=[self.prefix, f"{self.lease_seconds:g}", str(self.capacity), *args])
        except RedisError as exc:
            raise InferenceUnavailable("The queue in front of the model servers (Redis) is unavailable.",
                                       code="inference_admission_unavailable",
                                       details={"reason": str(exc) or type(exc).__name__}) from exc

    async def _register(self, waiter: _Waiter) -> None:
        await self._started()
        waiter.loop = asyncio.get_running_loop()
        with self._lock:
            self._waiters[waiter.ticket] = waiter

    def _unregister(self, waiter: _Waiter) -> None:
        with self._lock:
            self._waiters.pop(waiter.ticket, None)

    async def _enter(self, waiter: _Waiter) -> int:
        share = waiter.share
        return int(await self._script(_LUA_ENTER, waiter.ticket, share.key, str(share.cap), f"{share.weight:g}"))

    async def _check(self, waiter: _Waiter) -> int:
        position = int(await self._script(_LUA_CHECK, waiter.ticket, waiter.share.key))
        if position < 0:  # the ticket was dropped (not renewed in time: a stalled loop): queue again
            position = await self._enter(waiter)
        return position

    async def _leave(self, waiter: _Waiter) -> None:
        await self._script(_LUA_LEAVE, waiter.ticket, waiter.share.key)

    async def held(self) -> dict[str, int]:
        flat = await self._script(_LUA_HELD)
        return {(flat[i].decode() if isinstance(flat[i], bytes) else flat[i]): int(flat[i + 1])
                for i in range(0, len(flat), 2)}
