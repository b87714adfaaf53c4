"""What auth + tenancy + serialization cost: GET /api/v1/assistants vs GET /healthz.

Starts the real server on loopback (by default the production one: gunicorn with
uvicorn workers; --server wsgi for gunicorn sync workers, to compare), creates a
business with a few assistants, then drives 64 keep-alive clients at each path
in the same run and prints one table.

    .venv/bin/python bench/api_overhead.py [--server asgi|django-asgi|wsgi|all] [--seconds 10] [--workers 2]
    .venv/bin/python bench/api_overhead.py --in-process 2000   # CPU per request, no server, no network
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
    # What Frontdesk runs: sync views on a WSGI thread pool, async views on ASGI (config/asgi.py).
    # Its worker class (config.server.Worker) comes from gunicorn.conf.py.
    "asgi": ["gunicorn", "config.asgi:application"],
    # References: Django's own ASGI handler for everything, and gunicorn sync workers (no streaming),
    # each with a socket per worker (SO_REUSEPORT), the spread this project used before
    # config/server.py.
    "django-asgi": ["gunicorn", "config.asgi:django_asgi", "-k", "uvicorn_worker.UvicornWorker", "--reuse-port"],
    "wsgi": ["gunicorn", "config.wsgi:application", "-k", "sync", "--reuse-port"],
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
        "from businesses.services import business_signup; from assistants.services import assistant_create;"
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


def _in_process(key: str, requests: int) -> None:
    """CPU per request through the server's Django WSGI handlers in this process (no server, no sockets)."""
    import io

    os.environ.update(_env())
    import django

    django.setup()
    from config import asgi  # the WSGI handlers the server runs sync views on, per path

    def call(path: str) -> None:
        app = asgi.api_wsgi.app if path.startswith("/api/v1/") else asgi.django_wsgi.app
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
                   "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
                   "HTTP_HOST": "127.0.0.1:8000", "HTTP_AUTHORIZATION": f"Bearer {key}",
                   "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http"}
        status = []
        b"".join(app(environ, lambda s, h, *a: status.append(s)))
        if not status[0].startswith("200"):
            raise SystemExit(f"{path}: {status[0]}")

    print(f"\nIn-process, the server's Django WSGI handlers, {requests} requests each "
          f"(after {requests // 10} warm-ups):")
    print(f"{'endpoint':<24} {'CPU ms/req':>11} {'wall ms/req':>12}")
    for path in ("/healthz", "/api/v1/assistants"):
        for _ in range(requests // 10):
            call(path)
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(requests):
            call(path)
        print(f"GET {path:<20} {(time.process_time() - cpu) * 1000 / requests:>11.3f} "
              f"{(time.perf_counter() - wall) * 1000 / requests:>12.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", choices=[*SERVERS, "all"], default="all")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cold-start", action="store_true",
                        help="measure as before 2026-11-29: new connections, all opened at once, for the measured run")
    parser.add_argument("--in-process", type=int, default=0, metavar="N",
                        help="instead of serving: N requests per endpoint through Django in this process")
    args = parser.parse_args()

    key = _setup_tenant()
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
