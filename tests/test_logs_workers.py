"""Log capture in a Celery worker (prefork and solo) and a Nameko service under
``eventlog-instrument``: two calls logging at once, each record in its own call's event,
a Nameko worker's greenthread included."""

from __future__ import annotations

import json
import uuid

import logs_celery
import pytest

from tests.support.brokers import AMQP_URI, BoundQueue, queue_consumed
from tests.support.processes import rpc
from tests.test_launcher import Launched

ROUNDS = 10


def exporting(service: str) -> dict[str, str]:
    return {"EVENTLOG_EXPORTERS": "amqp", "EVENTLOG_AMQP_URI": AMQP_URI,
            "EVENTLOG_SERVICE_NAME": service, "EVENTLOG_BSP_SCHEDULE_DELAY": "20"}


def assert_own_records_only(events: list[dict], expected: dict[str, list[str]]) -> None:
    """Each event has exactly the records its own call logged, in order."""
    for event in events:
        messages = [record["message"] for record in event["data"]["logs"]]
        tag = messages[0].split(" ")[0]
        assert messages == expected[tag], f"{event['call_id']} holds another call's records"
        assert "logs_dropped" not in event["data"]


@pytest.mark.parametrize("pool", ["prefork", "solo"])
def test_celery_tasks_logging_at_once_keep_their_own_records(tmp_path, rabbitmq, pool):
    """prefork: two child processes log at once; solo: the tasks run one after the other
    in the worker's own process, whose records must not leak from one task into the next."""
    service = f"logtasks{uuid.uuid4().hex[:8]}"
    queue_name = f"tasks-{service}"
    events = BoundQueue(service)
    worker = Launched(
        ["celery", "-A", "logs_celery", "worker", "--pool", pool, "-c", "2", "-Q", queue_name,
         "--without-heartbeat", "--without-gossip", "--without-mingle", "-n", f"{queue_name}@%h"],
        tmp_path, **exporting(service),
    )
    try:
        worker.wait_for(lambda: queue_consumed(queue_name), "the Celery worker")
        results = [logs_celery.chatty.apply_async((tag, ROUNDS), queue=queue_name)
                   for tag in ("alpha", "beta")]
        received = [json.loads(m.body) for m in events.read(2, timeout=60)]
        assert sorted(e["data"]["task_id"] for e in received) == sorted(r.id for r in results)
        assert_own_records_only(received, {
            tag: [f"{tag} {n}" for n in range(ROUNDS)] for tag in ("alpha", "beta")})
        assert {r["logger"] for e in received for r in e["data"]["logs"]} == {"logs_celery"}
    finally:
        worker.terminate()
        events.close()


def test_nameko_workers_logging_at_once_keep_their_own_and_their_greenthreads_records(
    tmp_path, rabbitmq
):
    import nameko
    from nameko.standalone.rpc import ClusterRpcProxy

    service = f"logsvc_{uuid.uuid4().hex[:8]}"
    events = BoundQueue(service)
    config = tmp_path / "nameko.json"
    config.write_text(json.dumps({"AMQP_URI": AMQP_URI}))
    program = Launched(["nameko", "run", "--config", str(config), "logs_service:Chatty"], tmp_path,
                       SERVICE_NAME=service, **exporting(service))
    try:
        program.wait_for(lambda: queue_consumed(f"rpc-{service}"), "the Nameko service")
        if hasattr(nameko, "config"):  # Nameko 3: the client reads the global config
            with nameko.config.patch({"AMQP_URI": AMQP_URI}), ClusterRpcProxy(timeout=30) as client:
                replies = [client[service].chatty.call_async(tag, ROUNDS) for tag in ("alpha", "beta")]
                assert [reply.result() for reply in replies] == ["alpha", "beta"]
        else:
            with ClusterRpcProxy({"AMQP_URI": AMQP_URI}, timeout=30) as proxy:
                replies = [proxy[service].chatty.call_async(tag, ROUNDS) for tag in ("alpha", "beta")]
                assert [reply.result() for reply in replies] == ["alpha", "beta"]
        received = [json.loads(m.body) for m in events.read(2, timeout=60)]
        for event in received:
            messages = [record["message"] for record in event["data"]["logs"]]
            tag = messages[0].split(" ")[0]
            worker = [m for m in messages if " worker " in m]
            greenthread = [m for m in messages if " greenthread " in m]
            assert worker == [f"{tag} worker {n}" for n in range(ROUNDS)]
            assert greenthread == [f"{tag} greenthread {n}" for n in range(ROUNDS)]
            assert len(messages) == 2 * ROUNDS, f"{event['call_id']} holds another call's records"
    finally:
        program.terminate()
        events.close()


def test_the_drop_in_dispatchers_envelopes_get_no_logs(tmp_path, rabbitmq):
    service = f"logdrop_{uuid.uuid4().hex[:8]}"
    events = BoundQueue(service)
    config = tmp_path / "nameko.json"
    config.write_text(json.dumps({"AMQP_URI": AMQP_URI, "EVENTLOG_DISPATCHER": {"auto_capture": True}}))
    program = Launched(["nameko", "run", "--config", str(config), "logs_service:DropInChatty"],
                       tmp_path, SERVICE_NAME=service, **exporting(service))
    try:
        program.wait_for(lambda: queue_consumed(f"rpc-{service}"), "the Nameko service")
        assert rpc(service, "warn") == "warned"
        [event] = [json.loads(m.body) for m in events.read(1)]
        assert list(event) == ["service_name", "entrypoint_protocol", "entrypoint_name", "call_id",
                               "call_stack", "timestamp", "event_type", "data"]
        assert (event["event_type"], event["data"]) == ("entrypoint_fired", {})
        assert events.rest(0.5) == []
    finally:
        program.terminate()
        events.close()
