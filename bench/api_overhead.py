"""What auth + tenancy + serialization cost: GET /api/v1/assistants vs GET /healthz.

Starts the real server on loopback (by default the production one: gunicorn with
uvicorn workers; --server wsgi for gunicorn sync workers, to compare), creates a
business with a few assistants, then drives 64 keep-alive clients at each path
in the same run and prints one table.

    .venv/bin/python bench/api_overhead.py [--server asgi|django-asgi|wsgi|all] [--seconds 10] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._load import run_load  # noqa: E402

SERVERS = {
    # What Frontdesk runs: sync views on a WSGI thread pool, async views on ASGI (config/asgi.py).
    "asgi": ["gunicorn", "config.asgi:application", "-k", "uvicorn_worker.UvicornWorker"],
    # References: Django's own ASGI handler for everything, and gunicorn sync workers (no streaming).
    "django-asgi": ["gunicorn", "config.asgi:django_asgi", "-k", "uvicorn_worker.UvicornWorker"],
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
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{kind} server did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", choices=[*SERVERS, "all"], default="all")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    key = _setup_tenant()
    rows = []
    for kind in (list(SERVERS) if args.server == "all" else [args.server]):
        port = _free_port()
        proc = _serve(kind, port, args.workers)
        try:
            for name, path, headers in [("GET /healthz", "/healthz", {}),
                                        ("GET /api/v1/assistants", "/api/v1/assistants",
                                         {"Authorization": f"Bearer {key}"})]:
                result = run_load(name=name, host="127.0.0.1", port=port, path=path, headers=headers,
                                  concurrency=args.concurrency, seconds=args.seconds)
                rows.append((kind, result))
        finally:
            proc.terminate()
            proc.wait(timeout=20)

    print(f"\n{args.concurrency} concurrent keep-alive clients, {args.seconds:.0f} s per row, "
          f"{args.workers} workers, {os.cpu_count()} cores")
    print(f"{'server':<11} {'endpoint':<24} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'vs healthz':>11}")
    base: dict[str, float] = {}
    for kind, r in rows:
        base.setdefault(kind, r.rps)
        print(f"{kind:<11} {r.name:<24} {r.rps:>8.0f} {r.p50:>8.1f} {r.pct(99):>8.1f} {r.errors:>7} "
              f"{r.rps / base[kind]:>10.2f}x")


if __name__ == "__main__":
    main()
