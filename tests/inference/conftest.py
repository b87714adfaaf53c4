"""The genuine vLLM server (CPU build, tiny random-weight model) for the vLLM client's tests.

Nothing here starts unless a test asks for ``vllm_server``: the first one to do so pays for the
venv (once per machine) and about half a minute of server startup, shared by the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.inference.vllm_support import VLLMServer, build_tiny_model, ensure_vllm_venv, start_vllm_server

VLLM_MAX_NUM_SEQS = 32


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The random-weight Llama the server serves: its tokenizer and chat template are real files."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def vllm_server(tiny_model_dir: Path) -> Iterator[VLLMServer]:
    # No skip when the install fails (no registry, no disk): these tests are the only proof the
    # client works against the real thing, so a missing server is a failure.
    ensure_vllm_venv()
    server = start_vllm_server(tiny_model_dir, max_num_seqs=VLLM_MAX_NUM_SEQS)
    try:
        yield server
    finally:
        server.stop()
