"""What auth + tenancy + serialization cost: GET /api/v1/assistants vs GET /healthz.

Starts the real server on loopback (by default the production one: gunicorn with
uvicorn workers; --server wsgi for gunicorn sync workers, to compare), creates a
business with a few assistants, then drives 64 keep-alive clients at each path
in the same run and prints one table.

    .venv/bin/python bench/api_overhead.py [--server asgi|django-asgi|wsgi|all] [--seconds 10] [--workers 2]
    .venv/bin/python bench/api_overhead.py --in-process 2000   # CPU per request, no server, no network
    .venv/bin/python bench/api_overhead.py --instructions 300  # instructions per request (valgrind): stable
"""

from __future__ import annotations

import argparse
import functools
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._cpu import cpu_seconds, pid_by_name, postmaster_pid  # noqa: E402
from bench._load import run_load  # noqa: E402

SERVERS = {
    # What Frontdesk runs: sync views on a WSGI thread pool, async views on ASGI (config/asgi.py),
    # under gunicorn with uvicorn's worker (gunicorn.conf.py).
    "asgi": ["gunicorn", "config.asgi:application"],
    # References: Django's own ASGI handler for everything, and gunicorn sync workers (no streaming).
    "django-asgi": ["gunicorn", "config.asgi:django_asgi"],
    "wsgi": ["gunicorn", "config.wsgi:application", "-k", "sync"],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("BENCH_SETTINGS", "config.settings.dev"),
            "DEBUG": "false",
            "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
            "RATELIMIT_PER_API_KEY": "1000000 per minute"}


def _setup_tenant() -> str:
    code = (
        "import django; django.setup();"
        "from assistants.services import assistant_create, business_signup;"
        "import uuid; r = business_signup(email=f'bench-{uuid.uuid4().hex}@example.com', "
        "password='a sturdy passphrase 42', business_name='Bench Bistro');"
        "from bench._tenant import unlimited_plan; unlimited_plan(r.business.pk);"
        "[assistant_create(business=r.business, data={'name': f'Assistant {i}'}) for i in range(4)];"
        "print(r.secret_key)"
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=_env(), check=True)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(), check=True, capture_output=True,
                          text=True).stdout.strip().splitlines()[-1]


def _serve(kind: str, port: int, workers: int) -> subprocess.Popen:
    cmd = [str(ROOT / ".venv/bin" / SERVERS[kind][0]), *SERVERS[kind][1:], "--workers", str(workers),
           "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env())
    for _ in range(200):
        try:
            urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError(f"{kind} server did not start")
    _wait_until_idle(proc.pid)
    return proc


def _wait_until_idle(pid: int) -> None:
    """Until every worker has booted: one answering /healthz says nothing of the others, and a
    worker that is still importing when the clients connect leaves all of them to its siblings."""
    last = -1.0
    for _ in range(100):
        time.sleep(0.25)
        now = cpu_seconds(pid)
        if now == last:
            return
        last = now


PATHS = ("/healthz", "/api/v1/assistants")


def _caller(key: str):
    """A function that sends one GET through the server's Django WSGI handler for its path, in this
    process (no server, no sockets), and checks the answer is a 200."""
    import io

    os.environ.update(_env())
    import django

    django.setup()
    from config.wsgi import application as app  # what the server runs sync views on

    def call(path: str) -> None:
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
                   "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
                   "HTTP_HOST": "127.0.0.1:8000", "HTTP_AUTHORIZATION": f"Bearer {key}",
                   "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http"}
        status = []
        response = app(environ, lambda s, h, *a: status.append(s))
        try:
            b"".join(response)
        finally:
            response.close()  # as a WSGI server does: Django's request_finished
        if not status[0].startswith("200"):
            raise SystemExit(f"{path}: {status[0]}")

    return call


def _in_process(key: str, requests: int) -> None:
    """CPU per request through the server's Django WSGI handlers in this process (no server, no sockets)."""
    call = _caller(key)
    print(f"\nIn-process, the server's Django WSGI handlers, {requests} requests each "
          f"(after {requests // 10} warm-ups):")
    print(f"{'endpoint':<24} {'CPU ms/req':>11} {'wall ms/req':>12}")
    for path in PATHS:
        for _ in range(requests // 10):
            call(path)
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(requests):
            call(path)
        print(f"GET {path:<20} {(time.process_time() - cpu) * 1000 / requests:>11.3f} "
              f"{(time.perf_counter() - wall) * 1000 / requests:>12.3f}")


WARMUPS = 200  # requests before counting, in every --instructions run
# Python runs ~30-50x slower under callgrind. The work the server does once per time window (an
# API key is looked up again after 5 s) is stretched by this much there, so it comes about as
# often per request as at full speed instead of every few requests.
SLOWDOWN = 50


def _instructions(key: str, requests: int) -> None:
    """Instructions per request, counted by valgrind's callgrind, in-process as ``--in-process``.

    CPU seconds on this shared machine vary up to 4x from one hour to the next for the same
    code (docs/benchmarks.md); an instruction count does not: it compares two versions of the
    code on any day. Each endpoint runs in a process of its own under callgrind, which counts
    only inside ``operator.call`` (a C function Django and its libraries never call): the
    measured requests run in one such call, after ``WARMUPS`` requests outside it.
    """
    import re
    import shutil
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (Debian: apt-get install valgrind)")

    def count(path: str) -> int:
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run(
                ["valgrind", "--tool=callgrind", "--toggle-collect=_operator_call",
                 f"--callgrind-out-file={tmp}/callgrind.out",
                 sys.executable, __file__, "--count", path, str(requests)],
                cwd=ROOT, env={**_env(), "BENCH_KEY": key, "PYTHONHASHSEED": "0",
                               "API_KEY_CACHE_SECONDS": str(5 * SLOWDOWN)},
                capture_output=True, text=True)
        found = re.search(r"Collected : (\d+)", done.stderr)
        if done.returncode or not found:
            raise SystemExit(f"callgrind run for {path} failed:\n{done.stderr[-2000:]}")
        return int(found.group(1))

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        counts = dict(zip(PATHS, pool.map(count, PATHS), strict=True))
    print(f"\nIn-process under callgrind, {requests} requests each (after {WARMUPS} warm-ups):")
    print(f"{'endpoint':<24} {'instructions/req':>17}")
    for path in PATHS:
        print(f"GET {path:<20} {counts[path] / requests / 1e6:>15.3f} M")


def _count(path: str, requests: int) -> None:
    """The process callgrind runs for ``--instructions``: warm-ups, then ``requests`` counted ones."""
    import operator

    call = _caller(os.environ["BENCH_KEY"])
    for _ in range(WARMUPS):
        call(path)

    def measured() -> None:
        for _ in range(requests):
            call(path)

    operator.call(measured)  # callgrind counts inside this call only (--toggle-collect)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", choices=[*SERVERS, "all"], default="all")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cold-start", action="store_true",
                        help="the measured run on new connections, all opened at once (includes the accept burst)")
    parser.add_argument("--in-process", type=int, default=0, metavar="N",
                        help="instead of serving: N requests per endpoint through Django in this process")
    parser.add_argument("--instructions", type=int, default=0, metavar="N",
                        help="instead of serving: instructions per request, N requests per endpoint in-process "
                             "under valgrind's callgrind (the same on a busy machine as on an idle one)")
    parser.add_argument("--count", nargs=2, metavar=("PATH", "N"), help=argparse.SUPPRESS)  # --instructions' runs
    args = parser.parse_args()

    if args.count:
        _count(args.count[0], int(args.count[1]))
        return
    key = _setup_tenant()
    if args.instructions:
        _instructions(key, args.instructions)
        return
    if args.in_process:
        _in_process(key, args.in_process)
        return
    rows = []
    for kind in (list(SERVERS) if args.server == "all" else [args.server]):
        port = _free_port()
        proc = _serve(kind, port, args.workers)
        try:
            for name, path, headers in [("GET /healthz", "/healthz", {}),
                                        ("GET /api/v1/assistants", "/api/v1/assistants",
                                         {"Authorization": f"Bearer {key}"})]:
                result = run_load(name=name, host="127.0.0.1", port=port, path=path, headers=headers,
                                  concurrency=args.concurrency, seconds=args.seconds, warmup=args.warmup,
                                  cold_start=args.cold_start,
                                  cpu_readers={"server": functools.partial(cpu_seconds, proc.pid),
                                               "postgres": functools.partial(cpu_seconds, postmaster_pid()),
                                               "redis": functools.partial(cpu_seconds, pid_by_name("redis-server"))})
                rows.append((kind, result))
        finally:
            proc.terminate()
            proc.wait(timeout=20)

    print(f"\n{args.concurrency} concurrent keep-alive clients, {args.seconds:.0f} s per row, "
          f"{args.workers} workers, {os.cpu_count()} cores")
    print("CPU columns: ms of CPU per request, read from /proc: the server (all its processes and threads), "
          "PostgreSQL (the development database's backends), Redis, and the load generator")
    print(f"{'server':<11} {'endpoint':<24} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'vs healthz':>11} "
          f"{'server CPU':>11} {'pg CPU':>7} {'redis CPU':>10} {'client CPU':>11}")
    base: dict[str, float] = {}
    for kind, r in rows:
        base.setdefault(kind, r.rps)
        print(f"{kind:<11} {r.name:<24} {r.rps:>8.0f} {r.p50:>8.1f} {r.pct(99):>8.1f} {r.errors:>7} "
              f"{r.rps / base[kind]:>10.2f}x {r.cpu_ms('server'):>11.3f} {r.cpu_ms('postgres'):>7.3f} "
              f"{r.cpu_ms('redis'):>10.3f} {r.client_cpu_ms:>11.3f}")


if __name__ == "__main__":
    main()
