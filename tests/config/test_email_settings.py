"""config/settings/email.py: console mails until an SMTP host is named."""

from __future__ import annotations

import importlib

import pytest

from config.settings.env import ImproperlyConfiguredSecret

NAMES = ("EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS", "EMAIL_USE_SSL",
         "EMAIL_TIMEOUT", "DEFAULT_FROM_EMAIL")


@pytest.fixture
def email_settings(monkeypatch):
    """The module's values under the given environment; reloaded as it was afterwards."""

    def load(**env: str) -> dict:
        for name in NAMES:
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        module = importlib.reload(importlib.import_module("config.settings.email"))
        return {name: getattr(module, name) for name in dir(module) if name.isupper()}

    yield load
    monkeypatch.undo()
    importlib.reload(importlib.import_module("config.settings.email"))


def test_without_a_host_mails_go_to_the_console(email_settings):
    values = email_settings()
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert values["DEFAULT_FROM_EMAIL"] == "Frontdesk <no-reply@localhost>"
    assert values["EMAIL_TIMEOUT"] == 10


@pytest.mark.parametrize(("env", "port"), [({}, 25), ({"EMAIL_USE_TLS": "true"}, 587),
                                           ({"EMAIL_USE_SSL": "true"}, 465),
                                           ({"EMAIL_USE_TLS": "true", "EMAIL_PORT": "2525"}, 2525)])
def test_a_host_sends_by_smtp_on_the_port_its_security_implies(email_settings, env, port):
    values = email_settings(EMAIL_HOST="smtp.example", EMAIL_HOST_USER="mailer", EMAIL_HOST_PASSWORD="pw",
                            DEFAULT_FROM_EMAIL="Golden Dragon <desk@example.com>", **env)
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (values["EMAIL_HOST"], values["EMAIL_PORT"]) == ("smtp.example", port)
    assert (values["EMAIL_HOST_USER"], values["EMAIL_HOST_PASSWORD"]) == ("mailer", "pw")
    assert values["DEFAULT_FROM_EMAIL"] == "Golden Dragon <desk@example.com>"


def test_tls_and_ssl_together_stop_the_boot(email_settings):
    with pytest.raises(ImproperlyConfiguredSecret, match="EMAIL_USE_TLS and EMAIL_USE_SSL"):
        email_settings(EMAIL_HOST="smtp.example", EMAIL_USE_TLS="true", EMAIL_USE_SSL="true")
