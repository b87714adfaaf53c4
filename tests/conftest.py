"""Shared fixtures: real PostgreSQL (embedded), real Redis (db 15), API clients."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient

from businesses import services

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _clean_redis() -> Iterator[None]:
    """Each test starts with an empty test Redis db (rate limits, cache, queues)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
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


def make_tenant(name: str = "Golden Dragon") -> Tenant:
    n = next(_counter)
    result = services.business_signup(
        email=f"owner{n}-{time.monotonic_ns()}@example.com", password="a sturdy passphrase 42",
        business_name=name,
    )
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
    # host/port as query parameters: the only form django-environ passes through
    # for a Unix socket directory (the embedded server listens on one).
    query = urlencode({"host": sd["HOST"] or "localhost", "port": sd["PORT"] or 5432})
    return f"postgres://{sd['USER']}{password}@/{sd['NAME']}?{query}"


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": database_url_for_subprocess(),
           "PYTHONUNBUFFERED": "1"}
    env.update(extra)
    return env


@pytest.fixture
def celery_worker_process(transactional_db) -> Iterator[subprocess.Popen]:
    """A real `celery worker` process on all four queues, against the test Redis and database."""
    log = open(ROOT / ".cache" / "test-worker.log", "w") if (ROOT / ".cache").is_dir() else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "ingest,channels,billing,webhooks",
         "--pool", "solo", "--loglevel", "INFO", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=subprocess_env(), stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
