"""Production settings and the compose file agree with the code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
SETTINGS = ROOT / "config" / "settings"
# Read by the tools themselves rather than by our settings.
TOOL_ENV = {"DJANGO_SETTINGS_MODULE", "WEB_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR"}
APP_SERVICES = ("web", "worker", "beat", "migrate")

PROD_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "x" * 20 + "a-real-looking-production-secret-key-0123456789",
    "DATABASE_URL": "postgres://frontdesk:pw@db.internal:5432/frontdesk",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "ALLOWED_HOSTS": "frontdesk.example",
    "PATH": "/usr/bin:/bin",
}


def _env_names_read_by_settings() -> set[str]:
    names: set[str] = set()
    for path in SETTINGS.glob("*.py"):
        names |= set(re.findall(r"""env(?:\.\w+)?\(\s*["']([A-Z0-9_]+)["']""", path.read_text()))
        names |= set(re.findall(r"""require\(\s*["']([A-Z0-9_]+)["']""", path.read_text()))
    return names


def _required_in_production() -> set[str]:
    return set(re.findall(r"""require\(\s*["']([A-Z0-9_]+)["']""", (SETTINGS / "production.py").read_text()))


def _run_production(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_compose_services_only_set_variables_the_code_reads():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"db", "redis", "web", "worker", "beat", "vllm"} <= set(services)
    assert services["db"]["image"].startswith("pgvector/pgvector:pg17")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["vllm"]["image"].startswith("vllm/vllm-openai")
    known = _env_names_read_by_settings() | TOOL_ENV
    for name in APP_SERVICES:
        env = services[name]["environment"]
        unknown = set(env) - known
        assert not unknown, f"{name} sets {unknown}, which no setting reads"
        missing = _required_in_production() - set(env)
        assert not missing, f"{name} lacks required production settings {missing}"
        assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert "@db:5432/" in env["DATABASE_URL"] and env["REDIS_URL"].startswith("redis://redis:6379")
        assert env["INFERENCE_BASE_URL"].startswith("http://vllm:8000")
    assert "-Q" in services["worker"]["command"]
    queues = services["worker"]["command"][services["worker"]["command"].index("-Q") + 1]
    assert set(queues.split(",")) == {"ingest", "channels", "billing", "webhooks"}


def test_production_refuses_to_boot_without_secret_key():
    env = {k: v for k, v in PROD_ENV.items() if k != "SECRET_KEY"}
    result = _run_production("-c", "import django; django.setup()", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.parametrize("missing", ["DATABASE_URL", "REDIS_URL"])
def test_production_names_each_missing_secret(missing):
    env = {k: v for k, v in PROD_ENV.items() if k != missing}
    result = _run_production("-c", "import django; django.setup()", env=env)
    assert result.returncode != 0 and missing in result.stderr


def test_production_refuses_a_short_secret_key():
    result = _run_production("-c", "import django; django.setup()", env={**PROD_ENV, "SECRET_KEY": "short"})
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_check_deploy_passes_with_production_secrets():
    result = _run_production("manage.py", "check", "--deploy", "--fail-level", "WARNING", env=PROD_ENV)
    assert result.returncode == 0, result.stdout + result.stderr


def test_inference_url_without_a_model_stops_the_boot():
    env = {**PROD_ENV, "INFERENCE_BASE_URL": "http://vllm:8000/v1"}
    result = _run_production("-c", "import django; django.setup()", env=env)
    assert result.returncode != 0 and "INFERENCE_MODEL" in result.stderr
