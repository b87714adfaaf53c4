"""A loopback OpenAI-compatible chat server that misbehaves on purpose.

It speaks just enough of vLLM's API (``POST /v1/chat/completions`` streaming and not,
``GET /v1/models``, ``GET /health``) over real HTTP/1.1 sockets, with server-sent events in
chunked transfer encoding, to drive the failure paths of ``inference/vllm.py``::

    with misbehaving_server(mode="error", status=503, fail_first=2, tokens_per_second=200) as srv:
        backend = VLLMChatBackend(base_urls=[srv.base_url], model="m")
        ...
        assert srv.requests == 3

Modes (the misbehaviour applies to the first ``fail_first`` chat requests, or to all when
``fail_first`` is None; later ones are answered normally):

- ``normal``: stream ``reply`` word by word at ``tokens_per_second``.
- ``stall_before_first_byte``: read the request, then send nothing for ``stall_seconds``.
- ``stall_mid_stream``: send ``after_tokens`` tokens, then nothing for ``stall_seconds``.
- ``drop_mid_stream``: send ``after_tokens`` tokens, then close the socket without ending the
  chunked body.
- ``malformed``: send ``after_tokens`` tokens, then a ``data:`` line that is not JSON.
- ``error``: answer ``status`` (500, 503, 429, 400, ...) with an OpenAI-style error body and,
  if ``retry_after`` is set, a ``Retry-After`` header.

``max_streams``: a capacity, as vLLM's ``--max-num-seqs``: at most that many chat requests are
answered at once; the others wait (connection open, nothing sent) for a slot, in no set order
(vLLM queues them too). ``waiting`` counts them.

Every attribute can be changed while the server runs (``srv.mode = "normal"``). Counters:
``requests`` (chat requests received), ``in_flight``, ``max_in_flight``, ``bodies`` (the
JSON bodies, in order) and ``headers`` (the request headers, in order). The server stops
(and wakes every stalled handler) when the ``with`` block ends.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_REPLY = "Our garden pizza is vegan and costs twelve euros, served until ten at night."


class _Httpd(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5. A client that opens 40 connections at once (the
    # pool tests) overflows it on a busy machine: the kernel drops the extra handshakes and the
    # client retries them a second or three later, so the server would see fewer requests at once
    # than the client sent. A real model server listens with a large backlog (uvicorn: 2048).
    request_queue_size = 1024
    daemon_threads = True


class MisbehavingServer:
    def __init__(
        self,
        *,
        mode: str = "normal",
        fail_first: int | None = None,
        status: int = 500,
        retry_after: float | None = None,
        reply: str = DEFAULT_REPLY,
        tokens_per_second: float = 200.0,
        stall_seconds: float = 30.0,
        after_tokens: int = 3,
        send_usage: bool = True,
        model: str = "test-model",
        host: str = "127.0.0.1",
        max_streams: int | None = None,
    ) -> None:
        self.mode = mode
        self.fail_first = fail_first
        self.status = status
        self.retry_after = retry_after
        self.reply = reply
        self.tokens_per_second = tokens_per_second
        self.stall_seconds = stall_seconds
        self.after_tokens = after_tokens
        self.send_usage = send_usage
        self.model = model
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.waiting = 0
        self._slots = threading.Semaphore(max_streams) if max_streams else None
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._httpd = _Httpd((host, 0), _handler_for(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name="misbehaving-server")

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> MisbehavingServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def reset_stats(self) -> None:
        with self._lock:
            self.requests = 0
            self.max_in_flight = self.in_flight
            self.bodies.clear()
            self.headers.clear()

    def tokens(self) -> list[str]:
        words = self.reply.split(" ")
        return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]

    # -- bookkeeping used by the handler -------------------------------------------------------

    def _begin(self, body: dict[str, Any], headers: dict[str, str]) -> int:
        with self._lock:
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.bodies.append(body)
            self.headers.append(headers)
            return self.requests

    def _end(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _slot_take(self) -> bool:
        """Wait for a slot (``max_streams``); False when the server stops meanwhile."""
        if self._slots is None:
            return True
        with self._lock:
            self.waiting += 1
        try:
            while not self._slots.acquire(timeout=0.1):
                if self._stopping.is_set():
                    return False
            return True
        finally:
            with self._lock:
                self.waiting -= 1

    def _slot_give(self) -> None:
        if self._slots is not None:
            self._slots.release()

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)


def _handler_for(server: MisbehavingServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # TCP_NODELAY, as vLLM's server (uvicorn) sets it: with Nagle's algorithm a token written
        # while the previous one is unacknowledged waits for the client's delayed ACK (~20-40 ms
        # on a kept-alive connection), which made every pooled stream's first token 20 ms late.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                self._json(200, {"object": "list", "data": [{"id": server.model, "object": "model"}]})
            elif self.path.rstrip("/") in ("/health", "/v1/health"):
                self._json(200, {})
            else:
                self._json(404, {"error": {"message": "not found", "type": "NotFoundError", "code": 404}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._json(404, {"error": {"message": "not found", "type": "NotFoundError", "code": 404}})
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {}
            if not server._slot_take():
                return
            number = server._begin(body, {k.lower(): v for k, v in self.headers.items()})
            ended = False

            def end() -> None:
                nonlocal ended
                if not ended:
                    ended = True
                    server._end()

            try:
                misbehave = server.fail_first is None or number <= server.fail_first
                mode = server.mode if misbehave else "normal"
                if mode == "error":
                    headers = {"Retry-After": f"{server.retry_after:g}"} if server.retry_after is not None else {}
                    end()
                    self._json(server.status, {"error": {
                        "message": f"misbehaving server says {server.status}",
                        "type": "BadRequestError" if server.status < 500 else "InternalServerError",
                        "code": server.status}}, headers)
                    return
                if mode == "stall_before_first_byte":
                    server._sleep(server.stall_seconds)
                    self.close_connection = True
                    return
                if body.get("stream"):
                    self._stream(body, mode, end)
                else:
                    self._complete(body, end)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            finally:
                end()
                server._slot_give()

        # -- answers -------------------------------------------------------------------------

        def _answer_tokens(self, body: dict[str, Any]) -> tuple[list[str], str]:
            tokens = server.tokens()
            max_tokens = body.get("max_tokens")
            if isinstance(max_tokens, int) and 0 < max_tokens < len(tokens):
                return tokens[:max_tokens], "length"
            return tokens, "stop"

        def _usage(self, body: dict[str, Any], completion: int) -> dict[str, int]:
            prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages") or [])
            return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

        def _complete(self, body: dict[str, Any], end: Any) -> None:
            tokens, reason = self._answer_tokens(body)
            server._sleep(len(tokens) / server.tokens_per_second)
            answer: dict[str, Any] = {
                "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model", server.model),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(tokens)},
                             "finish_reason": reason}],
            }
            if server.send_usage:
                answer["usage"] = self._usage(body, len(tokens))
            end()
            self._json(200, answer)

        def _stream(self, body: dict[str, Any], mode: str, end: Any) -> None:
            tokens, reason = self._answer_tokens(body)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            model = body.get("model", server.model)

            def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict | None = None) -> dict:
                return {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": int(time.time()),
                        "model": model,
                        "choices": [] if usage is not None else [
                            {"index": 0, "delta": delta, "finish_reason": finish}],
                        **({"usage": usage} if usage is not None else {})}

            self._event(chunk({"role": "assistant", "content": ""}))
            gap = 1.0 / server.tokens_per_second
            for i, token in enumerate(tokens):
                if mode != "normal" and i == server.after_tokens:
                    if mode == "stall_mid_stream":
                        server._sleep(server.stall_seconds)
                        self.close_connection = True
                        return
                    if mode == "drop_mid_stream":
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        return
                    if mode == "malformed":
                        self._write_chunk(b"data: {this is not json\n\n")
                        self._write_chunk(b"")
                        return
                server._sleep(gap)
                self._event(chunk({"content": token}))
            self._event(chunk({}, finish=reason))
            # Counted as finished before the last bytes leave, so a client that starts its next
            # request the moment it reads [DONE] never sees this one as still in flight.
            end()
            stream_options = body.get("stream_options") or {}
            if server.send_usage and stream_options.get("include_usage"):
                self._event(chunk({}, usage=self._usage(body, len(tokens))))
            self._write_chunk(b"data: [DONE]\n\n")
            self._write_chunk(b"")

        # -- wire helpers ----------------------------------------------------------------------

        def _event(self, payload: dict[str, Any]) -> None:
            self._write_chunk(b"data: " + json.dumps(payload).encode() + b"\n\n")

        def _write_chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()

    return Handler


@contextmanager
def misbehaving_server(mode: str = "normal", **options: Any) -> Iterator[MisbehavingServer]:
    """A started ``MisbehavingServer`` for the ``with`` block; see the module docstring."""
    server = MisbehavingServer(mode=mode, **options).start()
    try:
        yield server
    finally:
        server.stop()


def closed_port_url() -> str:
    """A loopback base URL where nothing listens (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
