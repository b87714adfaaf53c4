"""Shared fixtures: real PostgreSQL (embedded), real Redis (db 15), API clients."""

from __future__ import annotations

import email
import email.policy
import os
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.test.signals import setting_changed
from rest_framework.test import APIClient

from assistants import services
from businesses.authentication import key_cache
from tests.inference.vllm_support import VLLMServer, build_tiny_model, ensure_vllm_venv, start_vllm_server

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def _compiled_translations() -> None:
    """Compile locale/*/LC_MESSAGES/django.po to django.mo (gitignored) when the .mo is missing or
    older, with Babel, as the build does; so the tests read the catalogues as they are in the tree."""
    stale = [po for po in sorted((ROOT / "locale").glob("*/LC_MESSAGES/django.po"))
             if not po.with_suffix(".mo").exists() or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime]
    if not stale:
        return
    try:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po
    except ImportError:
        warnings.warn(f"Babel is not installed: {len(stale)} translation catalogue(s) left uncompiled, "
                      "so translated texts read as English.", stacklevel=1)
        return
    for po in stale:
        with po.open("rb") as source:
            catalog = read_po(source)
        partial = po.with_suffix(f".mo.{os.getpid()}")
        with partial.open("wb") as target:
            write_mo(target, catalog)
        partial.replace(po.with_suffix(".mo"))  # atomic: a parallel run never reads half a file
    # Drop catalogues Django may have loaded before these existed (what override_settings does).
    setting_changed.send(sender=type(settings), setting="LOCALE_PATHS", value=settings.LOCALE_PATHS, enter=True)


@pytest.fixture(autouse=True)
def _clean_redis() -> Iterator[None]:
    """Each test starts with empty rate limits, cache and queues in the test Redis db.

    Kombu's exchange bindings (``_kombu.*``) stay: a running worker declared them,
    and without them a published task would be routed nowhere.
    """
    key_cache.clear()
    client = redis.Redis.from_url(settings.REDIS_URL)
    doomed = [key for key in client.scan_iter(count=1000) if not key.startswith(b"_kombu.")]
    if doomed:
        client.delete(*doomed)
    yield
    client.close()


@dataclass
class Tenant:
    business: object
    assistant: object
    user: object
    secret_key: str
    publishable_key: str

    def client(self, key: str | None = None) -> APIClient:
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {key or self.secret_key}")
        return api


_counter = iter(range(1, 1_000_000))


def make_tenant(name: str = "Golden Dragon", *, plan: str | None = "pro") -> Tenant:
    """A business as sign-up makes it. Feature tests put it on the Pro plan so that the Free
    plan's limits (1 assistant, 5 sources) do not shape them; billing tests pass plan=None."""
    n = next(_counter)
    result = services.business_signup(
        email=f"owner{n}-{time.monotonic_ns()}@example.com", password="a sturdy passphrase 42",
        business_name=name,
    )
    if plan is not None:
        import importlib

        from django.apps import apps

        from billing.models import Plan, Subscription
        from billing.selectors import subscription_for

        if not Plan.objects.filter(code=plan).exists():  # a transactional test flushed the seeded plans
            importlib.import_module("billing.migrations.0002_seed_plans").seed(apps, None)
        subscription_for(business=result.business)
        Subscription.objects.for_business(result.business).update(plan=Plan.objects.get(code=plan), status="active")
    return Tenant(result.business, result.assistant, result.user, result.secret_key, result.publishable_key)


@pytest.fixture
def tenant(db) -> Tenant:
    return make_tenant("Golden Dragon")


@pytest.fixture
def other_tenant(db) -> Tenant:
    return make_tenant("Rival Noodles")


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


def database_url_for_subprocess() -> str:
    """A DATABASE_URL naming the test database, for processes the tests start (workers, servers)."""
    from urllib.parse import quote, urlencode

    from django.db import connection

    sd = connection.settings_dict
    password = f":{quote(sd['PASSWORD'])}" if sd.get("PASSWORD") else ""
    options = sd.get("OPTIONS") or {}
    # host/port as query parameters: the only form django-environ passes through
    # for a Unix socket directory (the embedded server listens on one).
    query = urlencode({"host": sd["HOST"] or options.get("host") or "localhost",
                       "port": sd["PORT"] or options.get("port") or 5432})
    return f"postgres://{sd['USER']}{password}@/{sd['NAME']}?{query}"


def free_port() -> int:
    """A loopback port nobody listens on now, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test",
           "DATABASE_URL": database_url_for_subprocess(), "PYTHONUNBUFFERED": "1"}
    env.update(extra)
    return env


WORKER_ENV = {"INGEST_ALLOW_PRIVATE_URLS": "true"}  # the tests' sites are on loopback
WORKER_ENV["WEBHOOKS_ALLOW_PRIVATE_URLS"] = "true"  # so are the webhook receivers


def start_worker(name: str, **env: str) -> subprocess.Popen:
    """A real `celery worker` process on all four queues, against the test Redis and database."""
    log_dir = ROOT / ".cache" / "test-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "ingest,channels,billing,webhooks",
         "--pool", "solo", "--loglevel", "INFO", "--without-heartbeat", "--without-gossip", "--without-mingle",
         "-n", f"{name}@%h"],
        cwd=ROOT, env=subprocess_env(**WORKER_ENV, **env), stdout=open(log_dir / f"{name}.log", "w"),
        stderr=subprocess.STDOUT,
    )


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class SharedWorker:
    """One worker process for the session, started on first use; tests that need the
    queues to themselves (killing workers) stop it first."""

    node = "session-worker"

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None

    def get(self) -> subprocess.Popen:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = start_worker(self.node)
        return self.proc

    def stop(self) -> None:
        if self.proc is not None:
            stop_worker(self.proc)
            self.proc = None

    def settle(self) -> None:
        """Drop the tasks a test left queued and wait until the worker has finished the one it is
        running: its solo pool answers a ping only between tasks. Called before a transactional
        test's flush, whose TRUNCATE deadlocks with a worker still writing to the tables."""
        if self.proc is None or self.proc.poll() is not None:
            return
        from celery.utils.nodenames import host_format
        from kombu.exceptions import OperationalError

        from config.celery import app

        try:
            app.control.purge()
            answered = app.control.ping(destination=[host_format(f"{self.node}@%h")], timeout=30)
        except (OSError, OperationalError, redis.RedisError):
            answered = []
        if not answered:  # busy for 30 s, or the broker is unreachable: stop it, the next user restarts it
            self.stop()


_shared_workers: list[SharedWorker] = []


@pytest.fixture(scope="session")
def shared_worker(django_db_setup) -> Iterator[SharedWorker]:
    worker = SharedWorker()
    _shared_workers.append(worker)
    yield worker
    _shared_workers.remove(worker)
    worker.stop()


@pytest.fixture(autouse=True)
def _shared_worker_settles_before_the_flush(request) -> Iterator[None]:
    """A transactional test's data is flushed after it; the shared worker may still be running a
    task that test queued (most don't wait for theirs). Let it finish first."""
    marker = request.node.get_closest_marker("django_db")
    requested = "transactional_db" in request.fixturenames
    if not requested and not (marker is not None and marker.kwargs.get("transaction", False)):
        yield
        return
    if requested:
        request.getfixturevalue("transactional_db")  # set up now, so its flush runs after this teardown
    yield
    for worker in _shared_workers:
        worker.settle()


@pytest.fixture
def celery_worker_process(shared_worker, transactional_db) -> subprocess.Popen:
    """The shared worker, for tests whose data is committed (transactional_db)."""
    return shared_worker.get()


@dataclass
class LiveServer:
    url: str


@pytest.fixture
def live_api(transactional_db) -> Iterator[LiveServer]:
    """The real ASGI app (config.asgi: WSGI pool for sync views, ASGI for async ones) served by
    uvicorn in a thread of this process, so tests can change settings per test."""
    import asyncio
    import threading

    import uvicorn

    from config.asgi import application

    # No proxy headers, as gunicorn.conf.py: the client's address is the socket's peer.
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="off", proxy_headers=False))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveServer(f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def gunicorn_server(*, log: Path | None = None, **env: str) -> Iterator[str]:
    """The production server as `make demo` runs it (gunicorn with ./gunicorn.conf.py, uvicorn
    workers, config.asgi) on a free loopback port, with ``env`` on top of the test settings;
    yields its base URL once /healthz answers. ``log`` collects its stdout and stderr."""
    import httpx

    port = free_port()
    output = open(log, "w") if log else subprocess.DEVNULL
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "config.asgi:application",
         "--workers", "1", "--bind", f"127.0.0.1:{port}", *(["--access-logfile", "-"] if log else [])],
        cwd=ROOT, env=subprocess_env(**env), stdout=output, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                if server.poll() is not None:
                    raise RuntimeError(f"gunicorn exited with {server.returncode}") from None
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)
        if log:
            output.close()


# --------------------------------------------------------------------------- a real SMTP server


class SmtpServer:
    """aiosmtpd on loopback, keeping every mail it accepts: ``messages`` are parsed
    ``email.message.EmailMessage`` objects with the SMTP envelope as ``envelope_from`` and
    ``envelope_to`` (the addresses given in RCPT, whatever the headers say)."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.messages: list[EmailMessage] = []
        # A test's refusal: called with each RCPT address, a reply such as "421 4.3.2 Going down"
        # refuses it, None accepts it.
        self.rcpt_reply: Callable[[str], str | None] | None = None
        self._received = threading.Condition()

    # aiosmtpd calls the handle_<VERB> hooks of its handler (this object).
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.rcpt_reply(address) if self.rcpt_reply else None
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        message.envelope_from = envelope.mail_from
        message.envelope_to = list(envelope.rcpt_tos)
        with self._received:
            self.messages.append(message)
            self._received.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 10) -> list[EmailMessage]:
        """At least ``count`` messages, waiting up to ``timeout`` seconds for mail sent from
        another thread or process; fails the test if they do not come."""
        with self._received:
            if not self._received.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(f"the SMTP server received {len(self.messages)} messages in {timeout} s, "
                                     f"expected {count}")
            return list(self.messages)

    def to(self, address: str) -> list[EmailMessage]:
        """The messages whose envelope names ``address`` (compared without case)."""
        return [m for m in self.messages if address.lower() in (a.lower() for a in m.envelope_to)]


@pytest.fixture
def smtp_server(settings) -> Iterator[SmtpServer]:
    """A real SMTP server on a free loopback port, with Django's SMTP backend pointed at it
    (in this process: a worker process would need the same EMAIL_* variables)."""
    from aiosmtpd.controller import Controller

    server = SmtpServer()
    for attempt in range(3):  # the free port can be taken between finding it and binding it
        server.port = free_port()
        controller = Controller(server, hostname=server.host, port=server.port, server_hostname="smtp.test")
        try:
            controller.start()
            break
        except Exception:
            if attempt == 2:
                raise
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = server.host
    settings.EMAIL_PORT = server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    try:
        yield server
    finally:
        controller.stop()


# --------------------------------------------------------------------------- genuine vLLM
# Nothing here starts unless a test asks for ``vllm_server``: the first one to do so pays for the
# venv (once per machine, `make vllm-venv`) and about half a minute of server startup, shared by
# the session.

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
