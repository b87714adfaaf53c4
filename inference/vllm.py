"""Async client of vLLM's OpenAI-compatible ``/v1/chat/completions``, spread over replicas.

What keeps vLLM's continuous batching full and the callers safe:

- **One pooled ``aiohttp.ClientSession`` per process and event loop.** aiohttp reads the
  stream with its C HTTP parser: a token event costs a fraction of what httpx/httpcore spend
  per read (docs/benchmarks.md, "Chat"). A session is bound to the loop it was made on; ASGI
  views share the server's loop, while a Celery task going through ``async_to_sync`` runs a
  fresh loop per call. Sessions live in a ``WeakKeyDictionary`` keyed by the loop, and each
  closes when its loop shuts down: a suspended async generator holds it, and ``asyncio.run``,
  ``async_to_sync`` and uvicorn close a loop's async generators before they close the loop.
- **A concurrency cap per replica** (``max_concurrency``, matched to vLLM's
  ``--max-num-seqs``): an ``asyncio.Semaphore`` per replica per loop, so requests beyond the
  cap wait here (bounded by the total deadline) instead of queueing inside vLLM.
- **Least outstanding requests**: each attempt goes to the replica with the fewest requests
  assigned (waiting for a slot or in flight), ties broken round-robin.
- **Cooldown**: a replica that fails (connection error, 5xx, timeout before the first token,
  or a connection dropped mid-stream) is skipped for ``cooldown_seconds``; if every replica is
  cooling down, the least recently failed one is tried. A success ends the cooldown.
- **Explicit timeouts** (aiohttp's 5-minute default never applies): ``connect_timeout``;
  ``read_timeout``, the longest silence allowed between bytes of a stream (and before the
  response headers); ``total_timeout``, a deadline for the whole call (waiting for a slot,
  retries, backoff and streaming) enforced with ``asyncio.timeout_at`` around every await
  inside this module, so it never cancels the caller's own code between deltas.
- **Retries only before the first token**, with full jitter, and only for what can pass:
  connection errors (refused, reset, connect timeout, a connection closed before any
  content), 408, 429 and 5xx; ``Retry-After`` up to 10 s is honoured. A read timeout is not
  retried (the server may still be working on the request; a second copy would double its
  load) and neither is anything after a delta was yielded: the caller already showed text.
  A retry goes to another replica when one is healthy, without waiting.

Errors: 4xx other than 408/429 → ``InferenceBadRequest`` carrying the server's message;
timeouts → ``InferenceTimeout`` (``details["phase"]``: ``connect``, ``queue``,
``first_token``, ``read`` or ``total``); otherwise ``InferenceUnavailable`` with ``code``
``inference_unreachable`` (connection failed), ``inference_server_error`` (5xx or an error
event in the stream), ``inference_overloaded`` (429), ``inference_bad_response`` (malformed
body or stream) or ``inference_stream_interrupted`` (the stream ended before the answer did).

Priority: with ``priority_scheduling`` (a server started with ``--scheduling-policy priority``)
the body carries ``ChatRequest.priority`` (vLLM: lower is handled earlier); without it the field
is never sent, since vLLM rejects any priority but 0 under its default FCFS policy.

Usage: the stream asks for ``stream_options.include_usage``; a server that sends no usage
block yields a ``ChatResult`` with ``prompt_tokens = completion_tokens = 0`` (nothing is
guessed: billing counts messages, and a made-up count would look authoritative).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from inference import http_errors
from inference.errors import (
    InferenceBadRequest,
    InferenceError,
    InferenceTimeout,
    InferenceUnavailable,
)
from inference.types import ChatDelta, ChatRequest, ChatResult

__all__ = ["ReplicaStatus", "VLLMChatBackend"]

logger = logging.getLogger(__name__)



def _chat_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    if not base.endswith("/v1"):
        base += "/v1"
    return base + "/chat/completions"


@dataclass(frozen=True)
class ReplicaStatus:
    base_url: str
    in_flight: int  # requests holding a slot (sent to the replica)
    waiting: int  # requests assigned to it, waiting for a slot
    cooling_down: bool
    failures: int  # failed attempts since the process started


class _Replica:
    """Process-wide state of one replica (shared by all event loops; guarded by the backend's lock)."""

    __slots__ = ("base_url", "cooled_until", "failures", "in_flight", "index", "last_failed", "url", "waiting")

    def __init__(self, index: int, base_url: str) -> None:
        self.index = index
        self.base_url = base_url
        self.url = _chat_url(base_url)
        self.in_flight = 0
        self.waiting = 0
        self.cooled_until = 0.0
        self.last_failed = 0.0
        self.failures = 0


class _LoopState:
    """One event loop's HTTP session and request slots (used from that loop's thread only)."""

    def __init__(self, session: aiohttp.ClientSession, slots: list[asyncio.Semaphore]) -> None:
        self.session = session
        self.slots = slots
        self.keeper: Any = None  # the async generator that closes the session with the loop


async def _session_keeper(session: aiohttp.ClientSession) -> AsyncIterator[None]:
    """Suspended for the loop's life. The loop's shutdown (``loop.shutdown_asyncgens()``) closes
    it, and the session with it, while the loop still runs: no session is left for the garbage
    collector to find unclosed when a loop of one call (``async_to_sync``) ends."""
    try:
        yield
    finally:
        await session.close()


class _Attempt:
    """Why one attempt failed, and whether another may be tried."""

    def __init__(self, error: InferenceError, *, retry: bool, cool: bool, retry_after: float | None = None) -> None:
        self.error = error
        self.retry = retry
        self.cool = cool
        self.retry_after = retry_after


class VLLMChatBackend:
    """Chat completions from one or more vLLM replicas. Safe to share across threads and loops."""

    name = "vllm"

    def __init__(
        self,
        *,
        base_urls: list[str],
        model: str,
        api_key: str | None = None,
        max_concurrency: int = 64,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        total_timeout: float = 180.0,
        max_retries: int = 2,
        cooldown_seconds: float = 15.0,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        priority_scheduling: bool = False,
    ) -> None:
        if not base_urls:
            raise ValueError("at least one vLLM base URL is required")
        if not model:
            raise ValueError("a model name is required with vLLM base URLs")
        self.model = model
        self.max_concurrency = max(1, int(max_concurrency))
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        self.total_timeout = float(total_timeout)
        self.max_retries = max(0, int(max_retries))
        self.cooldown_seconds = max(0.0, float(cooldown_seconds))
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.priority_scheduling = priority_scheduling
        self._replicas = [_Replica(i, url) for i, url in enumerate(base_urls)]
        self._headers = {"Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        # The semaphores already cap requests per replica, so the pool never makes anyone wait:
        # it only has to admit every slot.
        self._connections = self.max_concurrency * len(self._replicas)
        # sock_read: the longest silence between bytes (and before the headers); the pool wait
        # ("connect") is left to the slots and the total deadline.
        self._timeout = aiohttp.ClientTimeout(total=None, connect=None, sock_connect=self.connect_timeout,
                                              sock_read=self.read_timeout)
        self._lock = threading.Lock()
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = weakref.WeakKeyDictionary()
        self._rr = 0

    # -- public API ---------------------------------------------------------------------------

    @property
    def base_urls(self) -> list[str]:
        return [r.base_url for r in self._replicas]

    def in_flight(self) -> dict[str, int]:
        """Requests in flight per replica (holding a slot), across all event loops."""
        with self._lock:
            return {r.base_url: r.in_flight for r in self._replicas}

    def replicas(self) -> list[ReplicaStatus]:
        now = time.monotonic()
        with self._lock:
            return [ReplicaStatus(r.base_url, r.in_flight, r.waiting, r.cooled_until > now, r.failures)
                    for r in self._replicas]

    async def aclose(self) -> None:
        """Close the HTTP session of the running event loop (each also closes with its loop)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            state = self._loops.pop(loop, None)
        if state is not None:
            await state.keeper.aclose()

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta | ChatResult]:
        body = self._body(request, stream=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.total_timeout
        state = await self._loop_state(loop)
        attempt = 0
        avoid: _Replica | None = None
        retry_after: float | None = None
        while True:
            replica = await self._choose(avoid, attempt, retry_after, deadline)
            failure: _Attempt | None = None
            yielded = False
            await self._acquire(state, replica, deadline)
            response: aiohttp.ClientResponse | None = None
            parts: list[str] = []
            try:
                try:
                    async with asyncio.timeout_at(deadline):
                        response = await state.session.post(replica.url, json=body,
                                                            headers={"Accept": "text/event-stream"})
                except Exception as exc:
                    failure = self._transport_failure(exc, replica, phase="first_token")
                else:
                    if response.status >= 400:
                        failure = await self._status_failure(response, replica, deadline)
                    else:
                        finish_reason: str | None = None
                        usage: dict[str, Any] | None = None
                        done = False
                        # Bytes as they arrive, split into lines here: one await, one deadline
                        # and one delta per network read, whatever the number of events in it.
                        content = response.content
                        lines = _SSELines()
                        while not done:
                            try:
                                async with asyncio.timeout_at(deadline):
                                    data = await content.readany()
                            except Exception as exc:
                                failure = self._transport_failure(
                                    exc, replica, phase="read" if yielded else "first_token", yielded=yielded)
                                break
                            if not data:  # the end of the body
                                break
                            texts: list[str] = []
                            malformed: InferenceError | None = None
                            try:
                                for line in lines.feed(data):
                                    event = _parse_sse_line(line, replica.url)
                                    if event is None:
                                        continue
                                    if event is _DONE:
                                        done = True
                                        break
                                    text, reason, chunk_usage = _read_chunk(event, replica.url)
                                    if reason:
                                        finish_reason = reason
                                    if chunk_usage is not None:
                                        usage = chunk_usage
                                    if text:
                                        texts.append(text)
                            except InferenceError as exc:
                                malformed = exc
                            if texts:  # what arrived before a malformed event is still the answer's
                                text = "".join(texts)
                                parts.append(text)
                                yielded = True
                                yield ChatDelta(text)
                            if malformed is not None:
                                raise malformed
                        if done:
                            await _drain(content, deadline)
                        if failure is None:
                            if not done and finish_reason is None:
                                failure = _Attempt(
                                    InferenceUnavailable(
                                        "The model server ended the answer before it was complete.",
                                        code="inference_stream_interrupted",
                                        details={"url": replica.url},
                                    ),
                                    retry=not yielded, cool=True,
                                )
                            else:
                                self._succeeded(replica)
                                yield ChatResult(
                                    text="".join(parts),
                                    finish_reason=finish_reason or "unknown",
                                    prompt_tokens=_int(usage, "prompt_tokens"),
                                    completion_tokens=_int(usage, "completion_tokens"),
                                    backend=self.name,
                                    model=str(body["model"]),
                                    cited=list(request.passages),
                                )
                                return
            finally:
                try:
                    if response is not None:
                        # Back to the pool when the body was read to its end; otherwise the
                        # connection is closed (a consumer that left, a failure mid-stream).
                        response.release()
                except Exception:  # noqa: S110 - the connection is dropped either way
                    pass
                finally:
                    self._release(state, replica)
            assert failure is not None
            if yielded:
                # Never retried: the caller already has part of the answer.
                if failure.cool:
                    self._failed(replica)
                raise failure.error
            attempt, avoid, retry_after = self._after_failure(failure, replica, attempt)

    async def complete(self, request: ChatRequest) -> ChatResult:
        """A non-streaming request. The answer arrives all at once, so nothing but the total
        deadline bounds the wait for it (``read_timeout`` would cut off long answers)."""
        body = self._body(request, stream=False)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.total_timeout
        state = await self._loop_state(loop)
        attempt = 0
        avoid: _Replica | None = None
        retry_after: float | None = None
        while True:
            replica = await self._choose(avoid, attempt, retry_after, deadline)
            await self._acquire(state, replica, deadline)
            response: aiohttp.ClientResponse | None = None
            try:
                # The answer arrives all at once: no read timeout, only the total deadline.
                timeout = aiohttp.ClientTimeout(total=None, connect=None, sock_connect=self.connect_timeout)
                try:
                    async with asyncio.timeout_at(deadline):
                        response = await state.session.post(replica.url, json=body, timeout=timeout)
                        text = await response.text(errors="replace") if response.status < 400 else ""
                except Exception as exc:
                    failure = self._transport_failure(exc, replica, phase="first_token")
                else:
                    if response.status >= 400:
                        failure = await self._status_failure(response, replica, deadline)
                    else:
                        result = self._parse_completion(text, replica, request, str(body["model"]))
                        self._succeeded(replica)
                        return result
            finally:
                if response is not None:
                    response.release()  # back to the pool when read to the end, else closed
                self._release(state, replica)
            attempt, avoid, retry_after = self._after_failure(failure, replica, attempt)

    # -- request building and parsing -------------------------------------------------------

    def _body(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        if not request.messages:
            raise InferenceBadRequest("A chat request needs at least one message.")
        body: dict[str, Any] = {
            "model": request.model or self.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "max_tokens": int(request.max_tokens),
            "temperature": float(request.temperature),
            "stream": stream,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        if request.stop:
            body["stop"] = list(request.stop)
        if self.priority_scheduling:  # vLLM rejects a nonzero priority unless --scheduling-policy priority
            body["priority"] = int(request.priority)
        return body

    def _parse_completion(self, text: str, replica: _Replica, request: ChatRequest, model: str) -> ChatResult:
        try:
            data = json.loads(text)
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
            if not isinstance(text, str):
                raise TypeError("content is not a string")
            finish_reason = choice.get("finish_reason") or "unknown"
            usage = data.get("usage")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise InferenceUnavailable(
                "The model server sent an answer that is not a chat completion.",
                code="inference_bad_response",
                details={"url": replica.url},
            ) from exc
        return ChatResult(
            text=text,
            finish_reason=str(finish_reason),
            prompt_tokens=_int(usage, "prompt_tokens"),
            completion_tokens=_int(usage, "completion_tokens"),
            backend=self.name,
            model=model,
            cited=list(request.passages),
        )

    # -- failures -----------------------------------------------------------------------------

    def _transport_failure(self, exc: Exception, replica: _Replica, *, phase: str, yielded: bool = False) -> _Attempt:
        details: dict[str, Any] = {"url": replica.url, "reason": str(exc) or type(exc).__name__}
        # aiohttp's own timeouts are TimeoutErrors too: they are told apart first.
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return _Attempt(
                InferenceTimeout("The model server did not accept the connection in time.",
                                 details={**details, "phase": "connect"}),
                retry=True, cool=True,
            )
        if isinstance(exc, aiohttp.ServerTimeoutError):  # sock_read: silence past read_timeout
            return _Attempt(
                InferenceTimeout(
                    f"The model server sent nothing for {self.read_timeout:g} s "
                    + ("in the middle of the answer." if yielded else "before the first token."),
                    details={**details, "phase": phase},
                ),
                retry=False, cool=not yielded,
            )
        if isinstance(exc, TimeoutError):  # our total deadline (asyncio.timeout_at)
            return _Attempt(
                InferenceTimeout(f"The model server did not finish within {self.total_timeout:g} s.",
                                 details={**details, "phase": "total"}),
                retry=False, cool=not yielded,
            )
        if isinstance(exc, aiohttp.InvalidURL):  # also a scheme other than http(s)
            return _Attempt(
                InferenceUnavailable("The model server address is not usable.", code="inference_misconfigured",
                                     details=details),
                retry=False, cool=False,
            )
        if isinstance(exc, aiohttp.ClientConnectorError):  # refused, unreachable, no such host
            return _Attempt(
                InferenceUnavailable("The model server could not be reached.", code="inference_unreachable",
                                     details=details),
                retry=True, cool=True,
            )
        if isinstance(exc, aiohttp.ClientError | ConnectionError):  # reset, closed mid-body, protocol errors
            return _Attempt(
                InferenceUnavailable(
                    "The connection to the model server broke "
                    + ("in the middle of the answer." if yielded else "before the answer started."),
                    code="inference_stream_interrupted",
                    details=details,
                ),
                retry=True, cool=True,
            )
        if isinstance(exc, InferenceError):
            return _Attempt(exc, retry=False, cool=False)
        raise exc

    async def _status_failure(self, response: aiohttp.ClientResponse, replica: _Replica,
                              deadline: float) -> _Attempt:
        status = response.status
        reason = response.reason or ""
        try:
            async with asyncio.timeout_at(deadline):
                text = await response.text(errors="replace")
            message = http_errors.server_message_from(text, reason)
        except Exception:  # the error body is a courtesy; the status says enough
            message = reason
        details = {"url": replica.url, "status": status, "server_message": message}
        if status == 408:
            return _Attempt(InferenceTimeout("The model server timed out the request.",
                                             details={**details, "phase": "first_token"}),
                            retry=True, cool=False, retry_after=http_errors.retry_after_from(response.headers))
        if status == 429:
            return _Attempt(InferenceUnavailable("The model server is overloaded.", code="inference_overloaded",
                                                 details=details),
                            retry=True, cool=False, retry_after=http_errors.retry_after_from(response.headers))
        if status >= 500:
            return _Attempt(InferenceUnavailable(f"The model server failed (HTTP {status}).",
                                                 code="inference_server_error", details=details),
                            retry=True, cool=True, retry_after=http_errors.retry_after_from(response.headers))
        code = None
        if status in (401, 403):
            code = "inference_auth_failed"
        elif status == 404:
            code = "inference_model_not_found"
        elif "context length" in message.lower() or "maximum context" in message.lower():
            code = "inference_context_too_long"
        raise InferenceBadRequest(f"The model server rejected the request: {message}", code=code, details=details)

    def _after_failure(self, failure: _Attempt, replica: _Replica, attempt: int) -> tuple[int, _Replica, float | None]:
        if failure.cool:
            self._failed(replica)
        if not failure.retry or attempt >= self.max_retries:
            raise failure.error
        attempt += 1
        details = failure.error.details or {}
        why = ", ".join(f"{k}={details[k]}" for k in ("phase", "status", "reason") if k in details)
        logger.warning("vLLM request to %s failed (%s%s), retry %d/%d", replica.base_url, failure.error.code,
                       f": {why}" if why else "", attempt, self.max_retries)
        return attempt, replica, failure.retry_after

    # -- replicas, slots, backoff -------------------------------------------------------------

    async def _choose(self, avoid: _Replica | None, attempt: int, retry_after: float | None,
                      deadline: float) -> _Replica:
        """Pick a replica and count it as waiting there. On a retry (``avoid`` set), back off
        first unless a healthy other replica can take the request right away."""
        now = time.monotonic()
        with self._lock:
            healthy = [r for r in self._replicas if r.cooled_until <= now]
            candidates = [r for r in healthy if r is not avoid] or healthy
            if candidates:
                n = len(self._replicas)
                start = self._rr
                self._rr = (self._rr + 1) % n
                replica = min(candidates, key=lambda r: (r.in_flight + r.waiting, (r.index - start) % n))
            else:
                replica = min(self._replicas, key=lambda r: r.last_failed)
            replica.waiting += 1
        if avoid is not None and (replica is avoid or replica.cooled_until > now):
            delay = retry_after if retry_after is not None else random.uniform(
                0, min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)))
            loop = asyncio.get_running_loop()
            try:
                if loop.time() + delay >= deadline:
                    raise InferenceTimeout(
                        f"The model server did not recover within {self.total_timeout:g} s.",
                        details={"url": replica.url, "phase": "total"},
                    )
                await asyncio.sleep(delay)
            except BaseException:
                with self._lock:
                    replica.waiting -= 1
                raise
        return replica

    async def _acquire(self, state: _LoopState, replica: _Replica, deadline: float) -> None:
        """Wait for a slot of ``replica``: counted in flight from then on, or no longer counted
        as waiting there if the wait fails (deadline, cancellation)."""
        slot = state.slots[replica.index]
        try:
            async with asyncio.timeout_at(deadline):
                await slot.acquire()
        except BaseException as exc:
            with self._lock:
                replica.waiting -= 1
            if not isinstance(exc, TimeoutError):
                raise
            raise InferenceTimeout(
                f"All {self.max_concurrency} request slots of the model server stayed busy for "
                f"{self.total_timeout:g} s.",
                code="inference_queue_timeout",
                details={"url": replica.url, "phase": "queue"},
            ) from None
        with self._lock:
            replica.waiting -= 1
            replica.in_flight += 1

    def _release(self, state: _LoopState, replica: _Replica) -> None:
        with self._lock:
            replica.in_flight -= 1
        state.slots[replica.index].release()

    def _failed(self, replica: _Replica) -> None:
        now = time.monotonic()
        with self._lock:
            replica.failures += 1
            replica.last_failed = now
            replica.cooled_until = now + self.cooldown_seconds

    def _succeeded(self, replica: _Replica) -> None:
        with self._lock:
            replica.cooled_until = 0.0

    async def _loop_state(self, loop: asyncio.AbstractEventLoop) -> _LoopState:
        state = self._loops.get(loop)
        if state is not None:
            return state
        # Only this loop's thread makes its state, and nothing below waits: no second one races in.
        connector = aiohttp.TCPConnector(limit=self._connections, limit_per_host=0, keepalive_timeout=30.0)
        session = aiohttp.ClientSession(connector=connector, headers=self._headers, timeout=self._timeout)
        state = _LoopState(session, [asyncio.Semaphore(self.max_concurrency) for _ in self._replicas])
        state.keeper = _session_keeper(session)
        await anext(state.keeper)  # its first step registers it with the loop's shutdown
        with self._lock:
            self._loops[loop] = state
        return state


# -- SSE and JSON helpers -------------------------------------------------------------------------

_DRAIN_SECONDS = 1.0


async def _drain(content: aiohttp.StreamReader, deadline: float) -> None:
    """Read what follows ``[DONE]`` (the end of the chunked body), so the connection goes back to
    the pool; releasing a response with unread bytes drops the connection, and every answer would
    then pay a new TCP connection (and a new handler thread/task in the server). Bounded by a
    second: a server that stalls after ``[DONE]`` costs only its connection."""
    loop = asyncio.get_running_loop()
    with contextlib.suppress(Exception):
        async with asyncio.timeout_at(min(deadline, loop.time() + _DRAIN_SECONDS)):
            while await content.readany():
                pass


_DONE: dict[str, Any] = {}
_MAX_LINE = 1 << 20  # a single stream line (one chunk's JSON) longer than 1 MiB is not a chat chunk


class _SSELines:
    """Complete lines out of a byte stream (``\n`` or ``\r\n`` endings), the rest kept for
    the next read. A line never ends inside a multi-byte character, so each is decoded whole."""

    __slots__ = ("_rest",)

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, data: bytes) -> list[bytes]:
        if self._rest:
            data = self._rest + data
        *lines, self._rest = data.split(b"\n")
        if len(self._rest) > _MAX_LINE:
            raise InferenceUnavailable("The model server sent a stream line over 1 MiB.",
                                       code="inference_bad_response")
        return lines


def _parse_sse_line(line: bytes | str, url: str) -> dict[str, Any] | None:
    """One line of the event stream: a chunk, ``_DONE``, or ``None`` for anything to skip
    (blank separators, comments, ``event:``/``id:`` fields)."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    line = line.strip()
    if not line.startswith("data:"):
        return None
    payload = line[5:].strip()
    if payload == "[DONE]":
        return _DONE
    if not payload:
        return None
    try:
        event = json.loads(payload)
    except ValueError as exc:
        raise InferenceUnavailable(
            "The model server sent a stream event that is not JSON.",
            code="inference_bad_response",
            details={"url": url, "event": payload[:200]},
        ) from exc
    if not isinstance(event, dict):
        raise InferenceUnavailable("The model server sent a stream event that is not an object.",
                                   code="inference_bad_response", details={"url": url, "event": payload[:200]})
    return event


def _read_chunk(event: dict[str, Any], url: str) -> tuple[str, str | None, dict[str, Any] | None]:
    """(content text, finish_reason, usage) of one ``chat.completion.chunk``."""
    if "error" in event:  # vLLM reports failures after the headers as an error event
        error = event["error"]
        message = str(error.get("message", error) if isinstance(error, dict) else error)[:500]
        raise InferenceUnavailable(f"The model server failed while answering: {message}",
                                   code="inference_server_error", details={"url": url, "server_message": message})
    try:
        choices = event.get("choices") or []
        text = ""
        reason = None
        for choice in choices:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if content is not None and not isinstance(content, str):
                raise TypeError("content is not a string")
            text += content or ""
            reason = choice.get("finish_reason") or reason
        usage = event.get("usage")
        if usage is not None and not isinstance(usage, dict):
            raise TypeError("usage is not an object")
    except (AttributeError, TypeError) as exc:
        raise InferenceUnavailable("The model server sent a stream event that is not a chat chunk.",
                                   code="inference_bad_response", details={"url": url}) from exc
    return text, reason, usage


def _int(usage: dict[str, Any] | None, key: str) -> int:
    if not usage:
        return 0
    try:
        return max(0, int(usage.get(key) or 0))
    except (TypeError, ValueError):
        return 0


