"""config.postgres: Django's PostgreSQL backend with throttled health checks and C timestamptz parsing."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection, connections
from django.db.backends.postgresql.psycopg_any import register_tzloader

from config.postgres import base

VALUES = ("now()", "'2020-01-01 10:00+05'", "'0001-01-01 00:00+00'", "'2020-06-01 10:00:00.5+02:30'",
          "'9999-12-31 23:59:59.999999+00'", "NULL")


@pytest.mark.django_db
def test_the_engine_in_use_is_ours():
    assert isinstance(connections["default"], base.DatabaseWrapper)


@pytest.mark.django_db
def test_timestamps_load_as_djangos_loader_loads_them():
    connection.ensure_connection()
    assert connection.connection.adapters.get_loader(1184, 0) is base.UtcTimestamptzLoader
    query = "SELECT " + ", ".join(f"{value}::timestamptz" for value in VALUES)
    with connection.cursor() as cursor:
        cursor.execute(query)
        ours = cursor.fetchone()
    raw = connection.connection.cursor()
    register_tzloader(datetime.UTC, raw)  # Django's own (pure-Python) loader, on this cursor only
    raw.execute(query)
    djangos = raw.fetchone()
    assert ours[1:] == djangos[1:] and abs(ours[0] - djangos[0]) < datetime.timedelta(seconds=5)
    assert all(value is None or value.tzinfo is datetime.UTC for value in ours)


@pytest.mark.django_db(transaction=True)
def test_health_checks_run_at_most_once_a_second_per_connection(monkeypatch):
    checks = []
    real = base.DatabaseWrapper.is_usable
    monkeypatch.setattr(base.DatabaseWrapper, "is_usable", lambda self: checks.append(1) or real(self))
    db = connections["default"]
    db.health_check_enabled = True
    db.ensure_connection()
    db._health_checked_at = 0.0

    def request():  # what Django does around each request
        db.close_if_unusable_or_obsolete()
        with db.cursor() as cursor:
            cursor.execute("SELECT 1")

    # Only this backend's clock: Django's own (CONN_MAX_AGE) keeps the real one.
    clock = [1000.0]
    monkeypatch.setattr(base, "monotonic", lambda: clock[0])
    request()
    request()
    assert len(checks) == 1  # the second request came within the interval
    clock[0] += base.HEALTH_CHECK_INTERVAL + 0.1
    request()
    assert len(checks) == 2


@pytest.mark.django_db(transaction=True)
def test_a_connection_killed_while_idle_is_replaced_before_the_next_request(monkeypatch):
    db = connections["default"]
    db.health_check_enabled = True
    db.ensure_connection()
    with db.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()
    monkeypatch.setattr(base, "monotonic", lambda: 10**9)  # long after the last check (this backend only)
    db.close_if_unusable_or_obsolete()
    with db.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
