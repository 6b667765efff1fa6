"""One call stack through a whole system: HTTP -> Flask -> Nameko RPC -> Nameko event,
and Flask -> Celery task, every hop instrumented, every event read from RabbitMQ."""

from __future__ import annotations

import json
import uuid

import requests

from tests.support.brokers import AMQP_URI, BoundQueue

PARENT_CALL = "browser.click.0"


def test_call_stacks_extend_the_flask_call_and_share_one_trace(
    gunicorn, celery_worker, nameko_services, rabbitmq
):
    prefix = f"p{uuid.uuid4().hex[:8]}"
    gateway, tasks = f"gateway{prefix}", f"tasks{prefix}"
    services = [gateway, tasks, f"{prefix}_a", f"{prefix}_b", f"{prefix}_c"]
    queues = {service: BoundQueue(service) for service in services}
    export = {"EVENTLOG_EXPORTERS": "amqp", "EVENTLOG_AMQP_URI": AMQP_URI, "EVENTLOG_BSP_SCHEDULE_DELAY": "20"}
    runner = nameko_services(
        ["chain:ServiceA", "chain:ServiceB", "chain:ServiceC"], SERVICE_PREFIX=prefix, **export
    )
    runner.wait_for_queues(f"rpc-{prefix}_a", f"rpc-{prefix}_b", f"evt-{prefix}_b-relayed--{prefix}_c.on_relayed")
    celery_worker(f"queue-{tasks}", EVENTLOG_SERVICE_NAME=tasks, **export)
    server = gunicorn(
        "gateway_app:app", EVENTLOG_SERVICE_NAME=gateway, GATEWAY_AMQP_URI=AMQP_URI,
        GATEWAY_ORDERS_SERVICE=f"{prefix}_a", GATEWAY_TASK_QUEUE=f"queue-{tasks}", **export,
    )

    response = requests.post(f"{server.url}/checkout/5", headers={"X-Call-Stack": PARENT_CALL}, timeout=30)
    assert response.json()["relayed"] == 5

    expected_counts = {f"{prefix}_a": 2}  # service A's timer also fires once at start-up
    events = {}
    for service, queue in queues.items():
        received = [json.loads(m.body) for m in queue.read(expected_counts.get(service, 1), timeout=30)]
        [events[service]] = [e for e in received if e["entrypoint_name"] != "tick"]
        queue.close()

    flask_stack = events[gateway]["call_stack"]
    assert flask_stack == [PARENT_CALL, response.headers["X-Call-Id"]]
    start, relay, handled = (events[f"{prefix}_{name}"] for name in "abc")
    assert start["call_stack"][:2] == flask_stack and start["call_stack"][3] == start["call_id"]
    assert start["call_stack"][2].startswith(("standalone_rpc_proxy.", "standalone_rpc_client."))
    assert relay["call_stack"] == [*start["call_stack"], relay["call_id"]]
    assert handled["call_stack"] == [*relay["call_stack"], handled["call_id"]]
    assert events[tasks]["call_stack"] == [*flask_stack, events[tasks]["call_id"]]
    assert len({event["data"]["trace_id"] for event in events.values()}) == 1
