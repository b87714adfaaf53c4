"""ENGINE "config.postgres": Django's postgresql backend, cheaper per request.

Measured on the API's list requests (docs/benchmarks.md, "API overhead"):

- **Health checks at most once a second per connection.** With ``CONN_HEALTH_CHECKS`` Django
  sends ``SELECT 1`` before the first query of every request: a round trip and ~4 % of a list
  request's CPU. Here a connection that passed a check less than ``HEALTH_CHECK_INTERVAL``
  seconds ago is trusted. A server restart inside that second fails one request per
  connection, as a restart between the check and the query always could; Django then drops
  the broken connection at the end of that request and the next one reconnects.
- **timestamptz parsed in C.** Django registers its own timestamptz loader, a subclass of
  psycopg's pure-Python one, so that values come back in the connection's time zone: ~2.4 µs a
  value against 0.14 µs for psycopg's C loader. With ``USE_TZ`` and UTC (this project's
  settings) the session's time zone is UTC and the C loader returns the same values, with the
  same ``datetime.timezone.utc``; it is used then and only then.
"""

from __future__ import annotations

import datetime
from time import monotonic

from django.conf import settings
from django.db.backends.postgresql import base
from psycopg.adapt import Loader
from psycopg.postgres import types

HEALTH_CHECK_INTERVAL = 1.0

try:  # the C implementation comes with psycopg[binary] (requirements.txt)
    from psycopg_binary._psycopg import TimestamptzLoader as _CTimestamptzLoader
except ImportError:  # pragma: no cover - a pure-Python psycopg install keeps Django's loader
    _CTimestamptzLoader = None


class UtcTimestamptzLoader(Loader):
    """psycopg's C timestamptz loader, with the ``timezone`` attribute Django's cursor checks."""

    timezone = datetime.UTC

    def __init__(self, oid, context=None):
        super().__init__(oid, context)
        # psycopg looks ``load`` up on the instance: this shadows the method below with the C
        # loader's own, so no Python frame runs per value.
        self._c_loader = _CTimestamptzLoader(oid, context)
        self.load = self._c_loader.load

    def load(self, data):  # what Loader's ABC asks for; shadowed per instance
        return self._c_loader.load(data)


class DatabaseWrapper(base.DatabaseWrapper):
    _health_checked_at = 0.0

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        if _CTimestamptzLoader is not None and settings.USE_TZ and self.timezone_name == "UTC":
            connection.adapters.register_loader(types["timestamptz"].oid, UtcTimestamptzLoader)
        return connection

    def close_if_health_check_failed(self):
        if (self.connection is not None and self.health_check_enabled and not self.health_check_done
                and monotonic() - self._health_checked_at < HEALTH_CHECK_INTERVAL):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
        if self.connection is not None and self.health_check_done:
            self._health_checked_at = monotonic()

    def close(self):
        self._health_checked_at = 0.0
        super().close()
