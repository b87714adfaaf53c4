"""Operational tasks of the project itself."""

from __future__ import annotations

import socket

from celery import shared_task
from django.db import connection


@shared_task(name="config.tasks.ping_task", ignore_result=False)
def ping_task() -> dict[str, str]:
    """Proves a worker is alive on a queue and can reach the database.

    ``ping_task.apply_async(queue="ingest").get(timeout=10)`` from a shell.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"status": "ok", "worker": socket.gethostname()}
