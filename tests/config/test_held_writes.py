"""One write per plain response (config/server.py, ``_HeldWrite``), on uvloop's real transports."""

from __future__ import annotations

import asyncio
import socket

import pytest
import uvloop

from config.server import _held_writes, _HeldWrite


def _nothing_yet(peer: socket.socket) -> bool:
    try:
        peer.recv(4096)
    except BlockingIOError:
        return True
    return False


def _received(peer: socket.socket) -> bytes:
    peer.settimeout(5)
    return peer.recv(4096)


async def _held_pair():
    ours, peer = socket.socketpair()
    peer.setblocking(False)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
    return _HeldWrite(transport, loop), transport, peer


def test_a_second_write_goes_out_with_the_held_first_one():
    async def scenario():
        held, _, peer = await _held_pair()
        held.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        assert _nothing_yet(peer)  # the head waits for the body...
        held.write(b"{}")
        got = _received(peer)  # ...and both leave in one writev
        held.close()
        return got

    assert uvloop.run(scenario()) == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"


def test_a_lone_write_leaves_at_the_end_of_the_loop_iteration():
    """A streamed response's head (or chunk) is not held for the next one."""
    async def scenario():
        held, _, peer = await _held_pair()
        held.write(b"event: token\r\n")
        assert _nothing_yet(peer)
        await asyncio.sleep(0)
        first = _received(peer)
        held.write(b"a")
        held.write(b"b")
        held.write(b"c")  # a third write in one step is held in its turn
        second = _received(peer)
        await asyncio.sleep(0)
        third = _received(peer)
        held.close()
        return first, second, third

    assert uvloop.run(scenario()) == (b"event: token\r\n", b"ab", b"c")


def test_close_sends_what_is_held_first():
    async def scenario():
        held, transport, peer = await _held_pair()
        held.write(b"bye")
        held.close()
        assert held.is_closing() and transport.is_closing()
        await asyncio.sleep(0.01)
        peer.settimeout(5)
        return peer.recv(4096), peer.recv(4096)

    assert uvloop.run(scenario()) == (b"bye", b"")  # the data, then the end of the stream


def test_a_write_held_when_the_connection_closes_is_dropped_quietly():
    errors = []

    async def scenario():
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: errors.append(context))
        held, transport, peer = await _held_pair()
        held.write(b"late")
        transport.close()  # the connection went away under it (uvicorn's connection_lost)
        await asyncio.sleep(0.01)
        peer.close()

    uvloop.run(scenario())
    assert errors == []


def test_uvicorn_protocol_gets_the_held_transport_and_keeps_the_rest_of_it():
    from uvicorn.config import Config
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    from uvicorn.server import ServerState

    protocol_class = _held_writes(HttpToolsProtocol)
    assert _held_writes(HttpToolsProtocol) is protocol_class and issubclass(protocol_class, HttpToolsProtocol)

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    config = Config(app, log_level="warning", lifespan="off")
    config.load()

    async def scenario():
        ours, peer = socket.socketpair()
        loop = asyncio.get_running_loop()
        _, protocol = await loop.connect_accepted_socket(
            lambda: protocol_class(config=config, server_state=ServerState(), app_state={}), ours)
        assert isinstance(protocol.transport, _HeldWrite)
        await loop.sock_sendall(peer, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := await asyncio.wait_for(loop.sock_recv(peer, 4096), 5):
            received += chunk
        return received

    received = uvloop.run(scenario())
    assert received.startswith(b"HTTP/1.1 200 OK\r\n") and received.endswith(b"\r\n\r\nok")


@pytest.mark.parametrize("name", ["get_extra_info", "pause_reading", "resume_reading", "set_protocol"])
def test_everything_else_is_the_transport_s(name):
    async def scenario():
        held, transport, peer = await _held_pair()
        try:
            return getattr(held, name) == getattr(transport, name)
        finally:
            held.close()
            peer.close()

    assert uvloop.run(scenario())
