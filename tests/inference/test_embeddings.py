"""Embedding backends: the local MiniLM (real model, real ONNX export) and the OpenAI-compatible
client against a real HTTP server on loopback that answers, fails and stalls on purpose."""

from __future__ import annotations

import hashlib
import json
import math
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from inference.embeddings import (
    DEFAULT_CACHE_DIR,
    Embedder,
    LocalEmbedder,
    OpenAIEmbedder,
    clear_embedder_cache,
    get_embedder,
)
from inference.errors import (
    InferenceBadRequest,
    InferenceTimeout,
    InferenceUnavailable,
)

# The export is cached in the project's cache dir, so only the first run on a machine pays
# for it (~10 s).
CACHE_DIR = DEFAULT_CACHE_DIR


def _cos(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b))


@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    return LocalEmbedder(cache_dir=CACHE_DIR, batch_size=3)


# -- local MiniLM ------------------------------------------------------------------------------


def test_local_embedder_gives_384_dim_unit_vectors(local: LocalEmbedder) -> None:
    vectors = local.embed_documents(["Do you have vegan pizza?", "We are closed on Mondays."])
    assert local.model_name == "all-MiniLM-L6-v2"
    assert local.dimension == 384
    assert local.runtime == "onnx-int8"
    assert [len(v) for v in vectors] == [384, 384]
    for v in vectors:
        assert math.isclose(float(np.linalg.norm(v)), 1.0, rel_tol=1e-4)
    assert isinstance(local, Embedder)


def test_similar_sentences_score_higher_than_unrelated(local: LocalEmbedder) -> None:
    query = local.embed_query("Can I bring my dog into the restaurant?")
    similar, unrelated = local.embed_documents(
        [
            "Dogs are welcome on our terrace; assistance dogs may come inside.",
            "A porcelain crown costs from 650 and takes two appointments.",
        ]
    )
    assert _cos(query, similar) > _cos(query, unrelated) + 0.2


def test_batching_gives_the_same_vectors_as_one_by_one(local: LocalEmbedder) -> None:
    texts = [
        "Do you have vegan pizza?",
        "x",
        "The clinic is on the first floor above the pharmacy, with a lift. " * 8,
        "How much is a puncture repair?",
        "Hello",
        "Parking is free after six pm on Dock Lane.",
        "",
    ]
    batched = local.embed_documents(texts)  # batch_size=3: three calls' worth
    for text, vector in zip(texts, batched, strict=True):
        assert _cos(local.embed_query(text), vector) > 0.9999


def test_text_past_256_tokens_still_shapes_the_embedding(local: LocalEmbedder) -> None:
    head = "Our bike shop opens at nine and repairs every kind of bicycle. " * 22
    assert 256 < local.count_tokens(head) < 380
    a, b = local.embed_documents(
        [head + "Dogs are welcome in the shop.", head + "We sell gift cards."]
    )
    assert _cos(a, b) < 0.9999  # at max_seq_length 256 both would be truncated to `head`


def test_text_longer_than_512_tokens_is_truncated_not_rejected(local: LocalEmbedder) -> None:
    text = "tiramisu " * 2000
    assert local.count_tokens(text) > 512
    assert len(local.embed_query(text)) == 384


def test_count_tokens_counts_word_pieces_without_special_tokens(local: LocalEmbedder) -> None:
    assert local.count_tokens("") == 0
    assert local.count_tokens("hello world") == 2
    assert local.count_tokens("gluten-free") == 5  # g ##lu ##ten - free
    assert local.count_tokens("word " * 1000) == 1000  # never truncated


def test_empty_and_invalid_input(local: LocalEmbedder) -> None:
    assert local.embed_documents([]) == []
    with pytest.raises(InferenceBadRequest):
        local.embed_documents(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(InferenceBadRequest):
        local.embed_query(None)  # type: ignore[arg-type]


def test_onnx_int8_agrees_with_torch_fp32(local: LocalEmbedder) -> None:
    torch_embedder = LocalEmbedder(runtime="torch", batch_size=8)
    assert torch_embedder.runtime == "torch-fp32"
    texts = [
        "Is your gluten-free pizza safe for coeliacs?",
        "Bikes can be returned within 14 days if they have not been ridden outside. " * 5,
    ]
    for a, b in zip(local.embed_documents(texts), torch_embedder.embed_documents(texts), strict=True):
        assert _cos(a, b) > 0.98


def test_failed_onnx_export_falls_back_to_torch(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "cache"
    not_a_dir.write_text("a file where the cache dir should be")
    embedder = LocalEmbedder(cache_dir=not_a_dir)
    assert embedder.runtime == "torch-fp32"
    assert len(embedder.embed_query("still works")) == 384
    with pytest.raises(InferenceUnavailable) as caught:
        LocalEmbedder(cache_dir=not_a_dir, runtime="onnx")
    assert caught.value.code == "embedding_model_unavailable"


def test_get_embedder_builds_one_instance_per_process() -> None:
    clear_embedder_cache()
    seen: list[Embedder] = []

    def build() -> None:
        seen.append(get_embedder(cache_dir=CACHE_DIR, batch_size=16))

    threads = [threading.Thread(target=build) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(e) for e in seen}) == 1
    assert isinstance(seen[0], LocalEmbedder)
    assert get_embedder(cache_dir=CACHE_DIR, batch_size=16) is seen[0]
    clear_embedder_cache()


# -- OpenAI-compatible server on loopback ------------------------------------------------------

DIM = 8


def _fake_vector(text: str, dim: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b - 128.0 for b in digest[:dim]]


class FakeEmbeddingServer:
    """A real HTTP server speaking OpenAI's embeddings shape; ``script`` says how each next
    request is answered: "ok", an HTTP status (int), ("stall", seconds), ("dim", n)."""

    def __init__(self) -> None:
        self.script: list[object] = []
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                action = server.script.pop(0) if server.script else "ok"
                dim = DIM
                if isinstance(action, tuple) and action[0] == "stall":
                    time.sleep(action[1])
                elif isinstance(action, tuple) and action[0] == "dim":
                    dim = action[1]
                elif isinstance(action, int):
                    error = {"error": {"message": f"scripted {action}", "type": "BadRequestError"}}
                    self._send(action, error)
                    return
                inputs = body["input"]
                data = [
                    {"object": "embedding", "index": i, "embedding": _fake_vector(t, dim)}
                    for i, t in reversed(list(enumerate(inputs)))  # out of order on purpose
                ]
                usage = {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}
                self._send(200, {"object": "list", "data": data, "model": body["model"], "usage": usage})

            def _send(self, status: int, payload: dict) -> None:
                raw = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (stall)
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[FakeEmbeddingServer]:
    srv = FakeEmbeddingServer()
    yield srv
    srv.close()


def _client(url: str, **kwargs: object) -> OpenAIEmbedder:
    options: dict = {"model": "BAAI/bge-small-en", "batch_size": 2, "timeout": 2.0, "backoff_base": 0.01}
    options.update(kwargs)
    return OpenAIEmbedder(base_url=url, **options)


def test_openai_embedder_batches_keeps_order_and_normalizes(server: FakeEmbeddingServer) -> None:
    client = _client(server.url, api_key="sk-test")
    texts = ["a", "b", "c", "d", "e"]
    vectors = client.embed_documents(texts)
    assert [r["body"]["input"] for r in server.requests] == [["a", "b"], ["c", "d"], ["e"]]
    assert all(r["path"] == "/v1/embeddings" for r in server.requests)
    assert all(r["body"]["model"] == "BAAI/bge-small-en" for r in server.requests)
    assert server.requests[0]["auth"] == "Bearer sk-test"
    for text, vector in zip(texts, vectors, strict=True):
        expected = np.array(_fake_vector(text, DIM))
        assert np.allclose(vector, expected / np.linalg.norm(expected))
    assert client.dimension == DIM
    assert client.model_name == "BAAI/bge-small-en"
    assert client.count_tokens("hello world") == 2
    assert isinstance(client, Embedder)
    client.close()


def test_dimension_is_probed_when_asked_first(server: FakeEmbeddingServer) -> None:
    client = _client(server.url + "/v1/")
    assert client.dimension == DIM
    assert len(server.requests) == 1


def test_changed_dimension_is_refused(server: FakeEmbeddingServer) -> None:
    client = _client(server.url)
    client.embed_query("first")
    server.script = [("dim", DIM * 2)]
    with pytest.raises(InferenceUnavailable) as caught:
        client.embed_query("second")
    assert caught.value.code == "inference_bad_response"


@pytest.mark.parametrize("status", [500, 503, 429, 408])
def test_retries_after_transient_status_then_succeeds(server: FakeEmbeddingServer, status: int) -> None:
    server.script = [status]
    vector = _client(server.url).embed_query("hours?")
    assert len(vector) == DIM
    assert len(server.requests) == 2


def test_persistent_500_raises_unavailable_after_bounded_retries(server: FakeEmbeddingServer) -> None:
    server.script = [500, 500, 500, 500]
    with pytest.raises(InferenceUnavailable) as caught:
        _client(server.url, max_retries=2).embed_query("hours?")
    assert len(server.requests) == 3
    assert caught.value.details["status"] == 500
    assert caught.value.retryable


def test_400_raises_bad_request_without_retry(server: FakeEmbeddingServer) -> None:
    server.script = [400]
    with pytest.raises(InferenceBadRequest) as caught:
        _client(server.url).embed_query("hours?")
    assert len(server.requests) == 1
    assert "scripted 400" in caught.value.message
    assert caught.value.code == "inference_bad_request"


def test_server_down_raises_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(InferenceUnavailable) as caught:
        _client(f"http://127.0.0.1:{port}", max_retries=1).embed_query("hours?")
    assert caught.value.code == "inference_unavailable"
    assert caught.value.__cause__ is not None  # the transport error, kept for the traceback


def test_unusable_base_url_raises_unavailable_without_retry() -> None:
    with pytest.raises(InferenceUnavailable) as caught:
        _client("http://[::1", max_retries=5, backoff_base=10).embed_query("hours?")
    assert caught.value.code == "inference_misconfigured"


def test_stalled_server_raises_timeout(server: FakeEmbeddingServer) -> None:
    server.script = [("stall", 1.5), ("stall", 1.5)]
    started = time.monotonic()
    with pytest.raises(InferenceTimeout) as caught:
        _client(server.url, timeout=0.3, max_retries=1).embed_query("hours?")
    assert time.monotonic() - started < 1.5
    assert len(server.requests) == 2
    assert caught.value.code == "inference_timeout"


def test_stall_then_success_is_retried(server: FakeEmbeddingServer) -> None:
    server.script = [("stall", 1.0)]
    assert len(_client(server.url, timeout=0.3).embed_query("hours?")) == DIM


def test_get_embedder_picks_the_remote_backend_when_base_url_is_set(server: FakeEmbeddingServer) -> None:
    clear_embedder_cache()
    embedder = get_embedder(base_url=server.url, model="m", api_key=None, batch_size=4, timeout=2.0)
    assert isinstance(embedder, OpenAIEmbedder)
    assert get_embedder(base_url=server.url, model="m", api_key=None, batch_size=4, timeout=2.0) is embedder
    assert len(embedder.embed_query("hi")) == DIM
    clear_embedder_cache()
