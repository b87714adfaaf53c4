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


_inline_pool = None


def enqueue_on_commit(task, *args) -> None:
    """Send ``task`` once the current transaction commits (never for rolled-back work).

    Without a broker (the demo with no REDIS_URL) the task runs in this process, in one
    background thread, so a long ingestion never holds up the web request that caused it.
    """
    from django.conf import settings
    from django.db import transaction

    if settings.CELERY_TASK_ALWAYS_EAGER:
        transaction.on_commit(lambda: _inline_executor().submit(_run_inline, task, args))
    else:
        transaction.on_commit(lambda: task.delay(*args))


def _inline_executor():
    global _inline_pool
    if _inline_pool is None:
        from concurrent.futures import ThreadPoolExecutor

        _inline_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inline-task")
    return _inline_pool


def _run_inline(task, args) -> None:
    from django.db import close_old_connections

    try:
        task.apply(args=args)
    finally:
        close_old_connections()


def inline_tasks_wait() -> None:
    """Block until in-process tasks finish (a command that queued some must not exit first:
    at interpreter shutdown, libraries can no longer start the threads they need)."""
    global _inline_pool
    if _inline_pool is not None:
        _inline_pool.shutdown(wait=True)
        _inline_pool = None
