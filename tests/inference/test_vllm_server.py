"""The genuine vLLM server the client tests run against: it answers the OpenAI API, streams, and
batches concurrent requests (plain httpx, so a failure here is the server's, not the client's)."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from tests.inference.vllm_support import VLLMServer

pytestmark = pytest.mark.slow

MESSAGES = [
    {"role": "system", "content": "You are the Golden Dragon's assistant."},
    {"role": "user", "content": "What time do you open? 请问你们几点开门？"},
]


def test_chat_completion_answers_with_usage(vllm_server: VLLMServer) -> None:
    response = httpx.post(
        f"{vllm_server.base_url}/chat/completions", timeout=60,
        json={"model": vllm_server.model, "messages": MESSAGES, "max_tokens": 16, "temperature": 0},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "tiny-llama"
    choice = body["choices"][0]
    assert choice["finish_reason"] in {"length", "stop"}
    assert choice["message"]["role"] == "assistant"
    assert isinstance(choice["message"]["content"], str)
    # The chat template wrapped both messages: more prompt tokens than the question alone.
    assert body["usage"]["prompt_tokens"] > 20
    assert 0 < body["usage"]["completion_tokens"] <= 16


def test_models_lists_the_served_name(vllm_server: VLLMServer) -> None:
    response = httpx.get(f"{vllm_server.base_url}/models", timeout=10)

    assert response.status_code == 200
    assert [model["id"] for model in response.json()["data"]] == ["tiny-llama"]


def test_streaming_sends_deltas_then_usage(vllm_server: VLLMServer) -> None:
    chunks = []
    with httpx.stream(
        "POST", f"{vllm_server.base_url}/chat/completions", timeout=60,
        json={"model": vllm_server.model, "messages": MESSAGES, "max_tokens": 12, "stream": True,
              "stream_options": {"include_usage": True}},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]

    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    deltas = [c for c in chunks if c["choices"]]
    assert len(deltas) >= 2
    assert any(c["choices"][0].get("finish_reason") in {"length", "stop"} for c in deltas)
    # With include_usage the last chunk carries the totals and no choices.
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] > 0
    assert 0 < chunks[-1]["usage"]["completion_tokens"] <= 12


def test_concurrent_requests_are_batched(vllm_server: VLLMServer) -> None:
    n_requests, max_tokens = 32, 128

    async def one(client: httpx.AsyncClient, i: int) -> dict:
        response = await client.post(
            "/chat/completions",
            # ignore_eos (vLLM's own parameter): the random model's answers run to max_tokens.
            json={"model": vllm_server.model, "max_tokens": max_tokens, "seed": i, "ignore_eos": True,
                  "messages": [{"role": "user", "content": f"Table for {i} people tonight?"}]},
        )
        response.raise_for_status()
        return response.json()

    async def main() -> list[dict]:
        limits = httpx.Limits(max_connections=n_requests + 4)
        async with httpx.AsyncClient(base_url=vllm_server.base_url, timeout=120, limits=limits) as api:
            return await asyncio.gather(*(one(api, i) for i in range(n_requests)))

    started = time.monotonic()
    with vllm_server.batching() as batch:
        results = asyncio.run(main())
    elapsed = time.monotonic() - started

    assert len(results) == n_requests
    assert all(r["choices"][0]["finish_reason"] in {"length", "stop"} for r in results)
    assert all(0 < r["usage"]["completion_tokens"] <= max_tokens for r in results)
    assert batch["generated"] == sum(r["usage"]["completion_tokens"] for r in results)
    # One request at a time generates at most 1 token per engine step; continuous batching
    # decodes the 32 answers together. Measured with 64-token answers on this 2-core machine under
    # three CPU burners: 10.5 and 4.5 per step, the requests reaching vLLM spread out; 128-token
    # answers make that ramp-up a smaller share of the steps.
    assert batch["per_step"] >= 4, f"{batch} in {elapsed:.1f} s"
    # The gauges settle at the engine step after the last answer went out.
    deadline = time.monotonic() + 10
    while (after := vllm_server.metrics())["vllm:num_requests_running"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert after["vllm:num_requests_running"] == 0
    assert after["vllm:num_requests_waiting"] == 0
