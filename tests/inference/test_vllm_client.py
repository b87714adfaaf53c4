"""The vLLM chat client against a real HTTP server on loopback that streams, fails, stalls and
drops on purpose (tests/inference/misbehaving_server.py)."""

from __future__ import annotations

import asyncio
import time

import pytest

from inference.chat import clear_chat_backend_cache, get_chat_backend
from inference.errors import InferenceBadRequest, InferenceTimeout, InferenceUnavailable
from inference.extractive import ExtractiveChatBackend
from inference.types import ChatBackend, ChatDelta, ChatMessage, ChatRequest, ChatResult, PassageRef
from inference.vllm import VLLMChatBackend
from tests.inference.misbehaving_server import DEFAULT_REPLY, closed_port_url, misbehaving_server

PASSAGE = PassageRef(chunk_id="c1", source_id="s1", source_title="Menu", text="Garden pizza: vegan, 12 EUR.")


def _request(**overrides) -> ChatRequest:
    fields = {
        "messages": [ChatMessage("system", "You are a helpful assistant."),
                     ChatMessage("user", "Is there a vegan pizza?")],
        "max_tokens": 64,
        "temperature": 0.0,
        "passages": [PASSAGE],
        "question": "Is there a vegan pizza?",
    }
    fields.update(overrides)
    return ChatRequest(**fields)


def _backend(urls: list[str], **overrides) -> VLLMChatBackend:
    options = {
        "model": "test-model", "max_concurrency": 8, "connect_timeout": 2.0, "read_timeout": 2.0,
        "total_timeout": 10.0, "max_retries": 2, "cooldown_seconds": 30.0, "backoff_base": 0.01,
        "backoff_max": 0.05,
    }
    options.update(overrides)
    return VLLMChatBackend(base_urls=urls, **options)


async def _collect(backend: VLLMChatBackend, request: ChatRequest) -> tuple[list[str], ChatResult]:
    deltas: list[str] = []
    result = None
    try:
        async for item in backend.stream(request):
            assert result is None, "nothing may follow the ChatResult"
            if isinstance(item, ChatDelta):
                deltas.append(item.text)
            else:
                result = item
    finally:
        await backend.aclose()
    assert result is not None
    return deltas, result


# -- streaming ----------------------------------------------------------------------------------


def test_stream_yields_deltas_then_result_with_usage_and_citations() -> None:
    with misbehaving_server(tokens_per_second=500) as srv:
        backend = _backend([srv.base_url], api_key="sk-vllm")
        deltas, result = asyncio.run(_collect(backend, _request()))
    # One delta per network read: usually a token each, several when they arrive together.
    assert 1 < len(deltas) <= len(DEFAULT_REPLY.split(" "))
    assert "".join(deltas) == DEFAULT_REPLY == result.text
    assert result.finish_reason == "stop"
    assert result.completion_tokens == len(DEFAULT_REPLY.split(" "))
    assert result.prompt_tokens > 0
    assert (result.backend, result.model) == ("vllm", "test-model")
    assert result.cited == [PASSAGE]
    body = srv.bodies[0]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"][1] == {"role": "user", "content": "Is there a vegan pizza?"}
    assert (body["max_tokens"], body["temperature"], body["model"]) == (64, 0.0, "test-model")
    assert srv.headers[0]["authorization"] == "Bearer sk-vllm"
    assert isinstance(backend, ChatBackend)


def test_first_delta_arrives_before_the_server_has_finished() -> None:
    # 15 words at 10 tokens/s: the whole answer takes ~1.5 s, the first word ~0.1 s.
    with misbehaving_server(tokens_per_second=10) as srv:
        backend = _backend([srv.base_url])

        async def run() -> tuple[float, float]:
            start = time.monotonic()
            first = None
            async for item in backend.stream(_request()):
                if isinstance(item, ChatDelta) and first is None:
                    first = time.monotonic() - start
                    assert srv.in_flight == 1  # the server is still generating
                    assert backend.in_flight() == {srv.base_url: 1}
            await backend.aclose()
            return first, time.monotonic() - start

        first, total = asyncio.run(run())
    assert first < 0.6 < 1.2 < total
    assert backend.in_flight() == {srv.base_url: 0}


def test_model_override_stop_and_length_finish_reason_are_passed_through() -> None:
    with misbehaving_server() as srv:
        backend = _backend([srv.base_url])
        deltas, result = asyncio.run(_collect(backend, _request(model="other", max_tokens=3, stop=["\n"])))
    assert "".join(deltas).split() == DEFAULT_REPLY.split()[:3]
    assert result.finish_reason == "length" and result.model == "other"
    assert srv.bodies[0]["model"] == "other" and srv.bodies[0]["stop"] == ["\n"]
    assert "authorization" not in srv.headers[0]


def test_stream_without_usage_reports_zero_tokens() -> None:
    with misbehaving_server(send_usage=False) as srv:
        _, result = asyncio.run(_collect(_backend([srv.base_url]), _request()))
    assert result.text == DEFAULT_REPLY
    assert (result.prompt_tokens, result.completion_tokens) == (0, 0)


def test_complete_is_one_non_streaming_request() -> None:
    with misbehaving_server() as srv:
        backend = _backend([srv.base_url])

        async def run() -> ChatResult:
            try:
                return await backend.complete(_request())
            finally:
                await backend.aclose()

        result = asyncio.run(run())
    assert result.text == DEFAULT_REPLY and result.finish_reason == "stop" and result.completion_tokens > 0
    assert srv.requests == 1 and srv.bodies[0]["stream"] is False and "stream_options" not in srv.bodies[0]


def test_a_backend_serves_successive_event_loops() -> None:
    # Celery tasks call through async_to_sync, which runs a new loop each time: a client
    # bound to the first loop must not be reused in the second.
    with misbehaving_server() as srv:
        backend = _backend([srv.base_url])
        for _ in range(2):
            _, result = asyncio.run(_collect(backend, _request()))
            assert result.text == DEFAULT_REPLY
    assert srv.requests == 2


def test_async_to_sync_callers_share_the_backend() -> None:
    from asgiref.sync import async_to_sync

    with misbehaving_server() as srv:
        backend = _backend([srv.base_url])
        results = [async_to_sync(backend.complete)(_request()) for _ in range(2)]
    assert [r.text for r in results] == [DEFAULT_REPLY, DEFAULT_REPLY]
    assert srv.requests == 2


def test_a_loops_session_closes_when_the_loop_shuts_down() -> None:
    """A loop of one call (asyncio.run, async_to_sync) closes the session it opened on its way
    out, without aclose(): nothing is left for the garbage collector to find unclosed."""
    with misbehaving_server() as srv:
        backend = _backend([srv.base_url])

        async def call():
            await backend.complete(_request())
            return backend._loops[asyncio.get_running_loop()].session

        session = asyncio.run(call())
        assert session.closed


def test_a_consumer_that_stops_listening_frees_the_slot() -> None:
    with misbehaving_server(tokens_per_second=20) as srv:
        backend = _backend([srv.base_url], max_concurrency=1)

        async def run() -> ChatResult:
            stream = backend.stream(_request())
            assert isinstance(await anext(stream), ChatDelta)
            assert backend.in_flight() == {srv.base_url: 1}
            await stream.aclose()  # what a disconnected client's view does
            assert backend.in_flight() == {srv.base_url: 0}
            # The only slot is free again: the next request is not stuck behind the first.
            return (await _collect(backend, _request(max_tokens=2)))[1]

        result = asyncio.run(run())
    assert result.finish_reason == "length"


# -- retries and errors -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried_then_succeed(status: int) -> None:
    with misbehaving_server(mode="error", status=status, fail_first=2) as srv:
        backend = _backend([srv.base_url])
        _, result = asyncio.run(_collect(backend, _request()))
    assert result.text == DEFAULT_REPLY
    assert srv.requests == 3
    assert backend.replicas()[0].cooling_down is False  # the success ended the cooldown


def test_429_is_retried_after_retry_after() -> None:
    with misbehaving_server(mode="error", status=429, retry_after=1, fail_first=1) as srv:
        backend = _backend([srv.base_url])
        start = time.monotonic()
        _, result = asyncio.run(_collect(backend, _request()))
        elapsed = time.monotonic() - start
    assert result.text == DEFAULT_REPLY and srv.requests == 2
    assert 0.9 <= elapsed < 5


def test_retries_are_bounded() -> None:
    with misbehaving_server(mode="error", status=503) as srv:
        backend = _backend([srv.base_url], max_retries=2)
        with pytest.raises(InferenceUnavailable) as info:
            asyncio.run(_collect(backend, _request()))
    assert info.value.code == "inference_server_error" and info.value.retryable
    assert srv.requests == 3


def test_429_after_retries_is_overloaded() -> None:
    with misbehaving_server(mode="error", status=429, retry_after=0) as srv:
        with pytest.raises(InferenceUnavailable) as info:
            asyncio.run(_collect(_backend([srv.base_url], max_retries=1), _request()))
    assert info.value.code == "inference_overloaded" and srv.requests == 2


def test_bad_request_is_not_retried_and_carries_the_server_message() -> None:
    with misbehaving_server(mode="error", status=400) as srv:
        with pytest.raises(InferenceBadRequest) as info:
            asyncio.run(_collect(_backend([srv.base_url]), _request()))
    assert "misbehaving server says 400" in info.value.message
    assert info.value.details["status"] == 400 and not info.value.retryable
    assert srv.requests == 1


def test_drop_mid_stream_is_not_retried() -> None:
    with misbehaving_server(mode="drop_mid_stream", after_tokens=3) as srv:
        backend = _backend([srv.base_url])
        deltas: list[str] = []

        async def run() -> None:
            try:
                async for item in backend.stream(_request()):
                    if isinstance(item, ChatDelta):
                        deltas.append(item.text)
            finally:
                await backend.aclose()

        with pytest.raises(InferenceUnavailable) as info:
            asyncio.run(run())
    assert info.value.code == "inference_stream_interrupted"
    assert "".join(deltas).split() == DEFAULT_REPLY.split()[:3]
    assert srv.requests == 1
    assert backend.in_flight() == {srv.base_url: 0}


def test_malformed_stream_is_a_bad_response() -> None:
    with misbehaving_server(mode="malformed", after_tokens=2) as srv:
        with pytest.raises(InferenceUnavailable) as info:
            asyncio.run(_collect(_backend([srv.base_url]), _request()))
    assert info.value.code == "inference_bad_response" and srv.requests == 1


def test_stall_before_first_token_times_out_within_the_read_timeout() -> None:
    with misbehaving_server(mode="stall_before_first_byte", stall_seconds=30) as srv:
        backend = _backend([srv.base_url], read_timeout=0.5, total_timeout=10.0)
        start = time.monotonic()
        with pytest.raises(InferenceTimeout) as info:
            asyncio.run(_collect(backend, _request()))
        elapsed = time.monotonic() - start
    assert 0.4 <= elapsed < 2.0
    assert info.value.details["phase"] == "first_token"
    assert srv.requests == 1  # a read timeout is not retried: the server may still be working
    assert backend.replicas()[0].cooling_down


def test_stall_mid_stream_times_out_after_the_deltas() -> None:
    with misbehaving_server(mode="stall_mid_stream", after_tokens=2) as srv:
        backend = _backend([srv.base_url], read_timeout=0.5)
        deltas: list[str] = []

        async def run() -> None:
            async for item in backend.stream(_request()):
                if isinstance(item, ChatDelta):
                    deltas.append(item.text)

        start = time.monotonic()
        with pytest.raises(InferenceTimeout) as info:
            asyncio.run(run())
    assert time.monotonic() - start < 2.0
    assert "".join(deltas).split() == DEFAULT_REPLY.split()[:2]
    assert info.value.details["phase"] == "read" and srv.requests == 1


def test_total_deadline_cuts_a_slow_but_steady_stream() -> None:
    # Every gap (0.2 s) is under the read timeout; only the total deadline stops it.
    with misbehaving_server(tokens_per_second=5) as srv:
        backend = _backend([srv.base_url], read_timeout=1.0, total_timeout=0.8)
        start = time.monotonic()
        with pytest.raises(InferenceTimeout) as info:
            asyncio.run(_collect(backend, _request()))
    assert time.monotonic() - start < 1.5
    assert info.value.details["phase"] == "total"


def test_connection_refused_is_unavailable() -> None:
    backend = _backend([closed_port_url()], max_retries=1)
    with pytest.raises(InferenceUnavailable) as info:
        asyncio.run(_collect(backend, _request()))
    assert info.value.code == "inference_unreachable"
    assert backend.replicas()[0].failures == 2


# -- replicas and concurrency -------------------------------------------------------------------


def test_requests_skip_a_dead_replica_and_it_cools_down() -> None:
    dead = closed_port_url()
    with misbehaving_server() as srv:
        backend = _backend([dead, srv.base_url])

        async def run() -> list[ChatResult]:
            results = [(await _collect(backend, _request()))[1] for _ in range(4)]
            return results

        results = asyncio.run(run())
    assert all(r.text == DEFAULT_REPLY for r in results)
    assert srv.requests == 4
    dead_status, live_status = backend.replicas()
    # Tried once (the first request started there), then skipped while cooling down.
    assert dead_status.failures == 1 and dead_status.cooling_down
    assert live_status.failures == 0 and not live_status.cooling_down


def test_all_replicas_cooling_tries_the_least_recently_failed() -> None:
    with misbehaving_server(mode="error", status=503, fail_first=1) as a, \
            misbehaving_server(mode="error", status=503, fail_first=1) as b:
        backend = _backend([a.base_url, b.base_url], max_retries=2)
        _, result = asyncio.run(_collect(backend, _request()))
    # a fails (cooled), b fails (cooled), then the least recently failed (a) answers.
    assert result.text == DEFAULT_REPLY
    assert (a.requests, b.requests) == (2, 1)


def test_concurrency_cap_per_replica_is_respected() -> None:
    cap = 2
    with misbehaving_server(tokens_per_second=100) as srv:
        backend = _backend([srv.base_url], max_concurrency=cap)

        async def run() -> list[tuple[list[str], ChatResult]]:
            async def one() -> tuple[list[str], ChatResult]:
                deltas: list[str] = []
                result = None
                async for item in backend.stream(_request()):
                    if isinstance(item, ChatDelta):
                        deltas.append(item.text)
                    else:
                        result = item
                return deltas, result

            try:
                return await asyncio.gather(*(one() for _ in range(3 * cap)))
            finally:
                await backend.aclose()

        outcomes = asyncio.run(run())
    assert all(result.text == DEFAULT_REPLY for _, result in outcomes)
    assert srv.requests == 3 * cap
    assert srv.max_in_flight == cap


def test_every_slot_gets_a_connection_from_the_pool() -> None:
    # 40 slots: all 40 requests must be at the server at once, none waiting for a connection.
    cap = 40
    with misbehaving_server(tokens_per_second=6) as srv:  # ~2.5 s per answer: all overlap
        backend = _backend([srv.base_url], max_concurrency=cap)

        async def run() -> list[ChatResult]:
            async def one() -> ChatResult:
                items = [item async for item in backend.stream(_request())]
                assert isinstance(items[-1], ChatResult)
                return items[-1]

            try:
                return await asyncio.gather(*(one() for _ in range(cap)))
            finally:
                await backend.aclose()

        results = asyncio.run(run())
    assert [r.text for r in results] == [DEFAULT_REPLY] * cap
    assert srv.max_in_flight == cap
    assert len(backend._loops) == 0  # aclose() closed this loop's session


def test_requests_spread_over_healthy_replicas_by_fewest_in_flight() -> None:
    with misbehaving_server(tokens_per_second=50) as a, misbehaving_server(tokens_per_second=50) as b:
        backend = _backend([a.base_url, b.base_url], max_concurrency=8)

        async def run() -> None:
            async def one() -> None:
                async for _ in backend.stream(_request()):
                    pass

            tasks = [asyncio.create_task(one()) for _ in range(6)]
            await asyncio.sleep(0.2)
            assert backend.in_flight() == {a.base_url: 3, b.base_url: 3}
            await asyncio.gather(*tasks)
            await backend.aclose()

        asyncio.run(run())
    assert (a.requests, b.requests) == (3, 3)
    assert (a.max_in_flight, b.max_in_flight) == (3, 3)


# -- selection -----------------------------------------------------------------------------------


def test_get_chat_backend_is_one_instance_per_configuration() -> None:
    clear_chat_backend_cache()
    options = {"model": "m", "api_key": None, "max_concurrency": 4, "connect_timeout": 1.0, "read_timeout": 5.0,
               "total_timeout": 30.0, "max_retries": 1, "cooldown_seconds": 5.0}
    vllm = get_chat_backend(base_urls=["http://127.0.0.1:9/v1"], **options)
    assert isinstance(vllm, VLLMChatBackend) and vllm.name == "vllm"
    assert get_chat_backend(base_urls=["http://127.0.0.1:9/v1"], **options) is vllm
    extractive = get_chat_backend(base_urls=[], **options)
    assert isinstance(extractive, ExtractiveChatBackend) and extractive.name == "extractive"
    assert get_chat_backend(base_urls=[""], **options) is extractive
    clear_chat_backend_cache()


# -- the stream's line splitter -------------------------------------------------------------------


def test_sse_lines_split_across_reads_and_join_events_of_one_read() -> None:
    from inference.vllm import _parse_sse_line, _SSELines

    lines = _SSELines()
    event = 'data: {"choices": [{"index": 0, "delta": {"content": "caf\u00e9 \u4f60\u597d"}}]}\r\n\r\n'.encode()
    raw = event * 3 + b"data: [DONE]\n\n"
    got: list[bytes] = []
    for cut in (1, 7, len(event) - 3, len(raw) - 2):  # a read may end anywhere, even mid-character
        lines = _SSELines()
        got = lines.feed(raw[:cut]) + lines.feed(raw[cut:])
        events = [e for e in (_parse_sse_line(line, "u") for line in got) if e is not None]
        assert len(events) == 4
        assert [e["choices"][0]["delta"]["content"] for e in events[:3]] == ["caf\u00e9 \u4f60\u597d"] * 3
    multibyte = "data: \u00e9\n".encode()
    lines = _SSELines()
    assert lines.feed(multibyte[:7]) == [] and lines.feed(multibyte[7:]) == [b"data: \xc3\xa9"]


def test_an_endless_line_is_a_bad_response() -> None:
    from inference.vllm import _SSELines

    lines = _SSELines()
    with pytest.raises(InferenceUnavailable) as info:
        for _ in range(3):
            lines.feed(b"x" * 600_000)
    assert info.value.code == "inference_bad_response"
