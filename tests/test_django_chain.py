"""One call stack from a Django view: the view enqueues a Celery task (prefork worker)
and calls a Flask service with ``requests``; every hop is instrumented and every event
is read from RabbitMQ."""

from __future__ import annotations

import json
import uuid

import requests

from tests.support.brokers import AMQP_URI, BoundQueue
from tests.support.processes import ServerProcess
from tests.support.waiting import free_port
from tests.test_launcher import LAUNCHER, launcher_env

PARENT_CALL = "browser.click.0"


def test_celery_task_and_flask_call_from_a_django_view_continue_its_stack(
    tmp_path, gunicorn, celery_worker, rabbitmq
):
    prefix = uuid.uuid4().hex[:8]
    django_service, tasks, flask_service = f"dj{prefix}", f"tasks{prefix}", f"flask{prefix}"
    queues = {service: BoundQueue(service) for service in (django_service, tasks, flask_service)}
    export = {"EVENTLOG_EXPORTERS": "amqp", "EVENTLOG_AMQP_URI": AMQP_URI, "EVENTLOG_BSP_SCHEDULE_DELAY": "20"}
    celery_worker(f"queue-{tasks}", EVENTLOG_SERVICE_NAME=tasks, **export)
    flask = gunicorn("flask_app:app", "-w", "1", EVENTLOG_SERVICE_NAME=flask_service, **export)
    port = free_port()
    django = ServerProcess(
        [LAUNCHER, "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "djshop.wsgi:application"], port, tmp_path,
        {"EVENTLOG_SERVICE_NAME": django_service, "DJSHOP_TASK_QUEUE": f"queue-{tasks}",
         "DJSHOP_FLASK_URL": flask.url, **export},
        base_env=launcher_env(), ready_within=60,
    )
    try:
        response = requests.get(f"{django.url}/chain/4/", headers={"X-Call-Stack": PARENT_CALL}, timeout=30)
        assert response.json()["flask"] == {"id": 4}
        events = {}
        for service, queue in queues.items():
            received = [json.loads(m.body) for m in queue.read(2 if service == flask_service else 1)]
            [events[service]] = [e for e in received if e["event_type"] == "entrypoint_fired"]
    finally:
        django.stop()
        for queue in queues.values():
            queue.close()

    view = events[django_service]
    assert view["entrypoint_name"] == "chain"
    assert view["call_stack"] == [PARENT_CALL, response.headers["X-Call-Id"]]
    assert events[tasks]["call_stack"] == [*view["call_stack"], events[tasks]["call_id"]]
    assert events[flask_service]["call_stack"] == [*view["call_stack"], events[flask_service]["call_id"]]
    assert len({event["data"]["trace_id"] for event in events.values()}) == 1
