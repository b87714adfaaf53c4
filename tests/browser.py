"""Headless Chromium for the browser tests: Debian's package (`make browser` installs `chromium`
and `chromium-driver`), driven by Playwright's Python package pointed at /usr/bin/chromium.
Playwright's own browser download is never used.

A test may hold several browser contexts at once (a customer in the widget, the owner in the
dashboard), each named, with its own cookies, viewport and locale.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

TIMEOUT_MS = 20_000
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("Chromium is not installed: run `make browser` (apt-get install chromium chromium-driver).")
    return path


class BrowserThread:
    """Playwright's sync API marks its thread as running an event loop, and Django refuses ORM
    calls in such a thread; so the browser lives in a thread of its own and the test hands it
    steps (``run(step, name)`` calls ``step(page)`` there and returns its result or raises its
    error), keeping Django's async-safety check on for the test and for the server.

    Pages are named: ``new_page("owner", locale="zh-CN")`` opens a fresh context (its own
    cookies) with one page; ``run(step, "owner")`` runs a step on it. The unnamed page is "main".
    """

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="browser")
        self.playwright = self.browser = None
        self.contexts: dict[str, Any] = {}
        self.pages: dict[str, Any] = {}
        self.page_errors: dict[str, list[str]] = {}

    def call(self, fn: Callable, *args):
        return self.pool.submit(fn, *args).result()

    def start(self) -> None:
        def launch():
            from playwright.sync_api import sync_playwright

            self.playwright = sync_playwright().start()
            # --no-sandbox: CI containers run as root, where Chromium's sandbox cannot start.
            self.browser = self.playwright.chromium.launch(executable_path=chromium_path(), headless=True,
                                                           args=["--no-sandbox", "--disable-dev-shm-usage"])
        self.call(launch)

    def new_page(self, name: str = "main", *, viewport: dict | None = None, locale: str | None = None) -> None:
        """A fresh context called ``name`` (closing the one of that name, if any) with one page."""

        def open_page():
            self._close(name)
            options: dict[str, Any] = {"viewport": viewport or DESKTOP}
            if locale is not None:
                options["locale"] = locale  # also the Accept-Language header the browser sends
            context = self.browser.new_context(**options)
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            self.contexts[name], self.pages[name], self.page_errors[name] = context, page, errors
        self.call(open_page)

    def run(self, step: Callable, name: str = "main"):
        return self.call(step, self.pages[name])

    @property
    def errors(self) -> list[str]:
        """The uncaught script errors of the main page."""
        return self.page_errors.get("main", [])

    def all_errors(self) -> dict[str, list[str]]:
        return {name: errors for name, errors in self.page_errors.items() if errors}

    def _close(self, name: str) -> None:
        context = self.contexts.pop(name, None)
        self.pages.pop(name, None)
        self.page_errors.pop(name, None)
        if context is not None:
            context.close()

    def close_pages(self) -> None:
        def close_all():
            for name in list(self.contexts):
                self._close(name)
        self.call(close_all)

    def stop(self) -> None:
        def close():
            for name in list(self.contexts):
                self._close(name)
            if self.browser is not None:
                self.browser.close()
            if self.playwright is not None:
                self.playwright.stop()
        self.call(close)
        self.pool.shutdown()


def static_collected() -> None:
    """Django serves /static/ from STATIC_ROOT (config/urls.py), which the build fills with
    collectstatic (the Dockerfile, `make demo`); a test run does the same, or the pages come
    without their stylesheet and htmx. Copies only what changed."""
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)


def browser_thread() -> Iterator[BrowserThread]:
    """The body of a module-scoped ``browser`` fixture: one Chromium for the module's tests."""
    static_collected()
    thread = BrowserThread()
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()
