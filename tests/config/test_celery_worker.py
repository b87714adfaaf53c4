from __future__ import annotations

import pytest

from config.celery import QUEUES, app
from config.tasks import ping_task


@pytest.mark.worker
def test_real_worker_runs_tasks_from_redis_on_every_queue(celery_worker_process):
    for queue in QUEUES:
        result = ping_task.apply_async(queue=queue).get(timeout=60)
        assert result["status"] == "ok"
    assert celery_worker_process.poll() is None


def test_celery_is_json_only_with_late_acks():
    conf = app.conf
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.task_time_limit and conf.task_soft_time_limit < conf.task_time_limit
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit
    assert {q.name for q in conf.task_queues} == {"ingest", "channels", "billing", "webhooks"}


def test_every_project_task_routes_to_a_consumed_queue():
    app.loader.import_default_modules()
    project = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert "config.tasks.ping_task" in project
    assert app.amqp.router.route({}, "assistants.tasks.source_ingest_task")["queue"].name == "ingest"
    for name, _task in project.items():
        queue = app.amqp.router.route({}, name)["queue"].name
        assert queue in QUEUES, f"{name} would go to queue {queue!r}, which no worker consumes"
