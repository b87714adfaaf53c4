"""Settings of bench/chat.py's floor server: Frontdesk's settings (BENCH_SETTINGS, else the
dev settings) with bench/floor_urls.py's relay added to its URLs."""

import importlib
import os

_base = importlib.import_module(os.environ.get("BENCH_SETTINGS", "config.settings.dev"))
globals().update({name: value for name, value in vars(_base).items() if name.isupper()})

ROOT_URLCONF = "bench.floor_urls"
