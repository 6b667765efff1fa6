"""The Celery instrumentor: a real prefork worker on RabbitMQ, tasks published for real."""

from __future__ import annotations

import json
import uuid

import celery_app
import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from eventlog_instrument.calls import new_call
from tests.support.brokers import AMQP_URI, BoundQueue
from tests.support.goldens import assert_golden

tracer = trace.get_tracer("tests")


@pytest.fixture
def tasks_system(celery_worker, rabbitmq):
    service = f"celery{uuid.uuid4().hex[:8]}"
    queue_name = f"tasks-{service}"
    events = BoundQueue(service)

    def start(*options: str):
        return celery_worker(
            queue_name, *options, EVENTLOG_EXPORTERS="amqp", EVENTLOG_AMQP_URI=AMQP_URI,
            EVENTLOG_SERVICE_NAME=service, EVENTLOG_BSP_SCHEDULE_DELAY="20",
        )

    yield start, queue_name, events
    events.close()


def envelopes(queue: BoundQueue, count: int) -> list[dict]:
    return [json.loads(message.body) for message in queue.read(count, timeout=60)]


def test_every_task_has_one_event_while_children_recycle(tasks_system):
    start, queue_name, events = tasks_system
    start("--max-tasks-per-child", "1")
    results = [celery_app.add.apply_async((n, n), queue=queue_name) for n in range(20)]
    received = envelopes(events, 20)
    assert sorted(e["data"]["task_id"] for e in received) == sorted(r.id for r in results)
    assert {e["data"]["state"] for e in received} == {"SUCCESS"}
    assert events.rest(1) == [], "exactly one event per task"
    assert_golden(received[0], "celery/success")


def test_failure_expected_exception_and_retry(tasks_system):
    start, queue_name, events = tasks_system
    start()
    celery_app.fail.apply_async(queue=queue_name)
    celery_app.expected.apply_async(queue=queue_name)
    celery_app.flaky.apply_async(queue=queue_name)
    received = envelopes(events, 4)
    by_name: dict[str, list[dict]] = {}
    for envelope in received:
        by_name.setdefault(envelope["entrypoint_name"], []).append(envelope)
    assert_golden(by_name["celery_app.fail"][0], "celery/failure")
    assert_golden(by_name["celery_app.expected"][0], "celery/expected")
    attempt, success = sorted(by_name["celery_app.flaky"], key=lambda e: e["data"]["retries"])
    assert_golden(attempt, "celery/retry_attempt")
    assert_golden(success, "celery/retry_success")
    assert attempt["data"]["task_id"] == success["data"]["task_id"]
    assert success["call_stack"] == [attempt["call_id"], success["call_id"]], (
        "the failed attempt publishes the retry, so the retry extends its stack"
    )


def test_task_published_in_a_call_extends_its_stack_and_trace(tasks_system, pipeline):
    start, queue_name, events = tasks_system
    start()
    pipeline()
    caller = new_call("gateway", "Flask", "checkout")
    with tracer.start_as_current_span("checkout", kind=SpanKind.SERVER, attributes=caller.attributes()) as span:
        celery_app.add.apply_async((1, 2), queue=queue_name)
        trace_id = format(span.get_span_context().trace_id, "032x")
    [task_event] = envelopes(events, 1)
    assert task_event["call_stack"] == [caller.call_id, task_event["call_id"]]
    assert task_event["data"]["trace_id"] == trace_id


def test_publishing_outside_any_call_adds_no_stack(tasks_system, pipeline):
    start, queue_name, events = tasks_system
    start()
    pipeline()
    celery_app.add.apply_async((1, 2), queue=queue_name)
    [task_event] = envelopes(events, 1)
    assert task_event["call_stack"] == [task_event["call_id"]]


def _run_task_hooks(request_headers):
    from types import SimpleNamespace

    from eventlog_instrument.switch import EventLogInstrumentor

    [celery_hooks] = [i for i in EventLogInstrumentor().instrumentors if i.name == "celery"]
    request = SimpleNamespace(headers=request_headers, retries=0)
    task = SimpleNamespace(name="tasks.add", request=request, app=SimpleNamespace(main="tasks"))
    celery_hooks._task_prerun(task_id="t-1", task=task)
    celery_hooks._task_postrun(task_id="t-1", state="SUCCESS")


def test_any_configured_propagator_continues_the_trace(pipeline, demo_propagator):
    memory = pipeline(service_name="tasks")
    _run_task_hooks({"x-demo-trace": "4bf92f3577b34da6a3ce929d0e0e4736"})
    [event] = memory.wait_for(1)
    assert event["data"]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_a_task_without_trace_headers_starts_its_own_trace(pipeline):
    memory = pipeline(service_name="tasks")
    with trace.get_tracer("test").start_as_current_span("leaked onto the worker thread") as span:
        _run_task_hooks({})
        surrounding = format(span.get_span_context().trace_id, "032x")
    [event] = memory.wait_for(1)
    assert event["data"]["trace_id"] != surrounding
    assert event["call_stack"] == [event["call_id"]]
