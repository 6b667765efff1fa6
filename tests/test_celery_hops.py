"""Hops from a Celery task, on a real prefork worker: HTTP requests to an instrumented
Flask app (gunicorn under ``eventlog-instrument``) with ``requests`` and
``urllib.request``, and canvas (group, chain, chord) published by a running task. One
worker and one server serve every test; the events are read back from RabbitMQ."""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hop_tasks
import pytest
from celery import chain, group
from celery_app import add
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from eventlog_instrument.calls import new_call
from tests.support.brokers import AMQP_URI, BoundQueue
from tests.support.processes import CeleryWorker, ServerProcess
from tests.support.waiting import free_port

BIN = Path(sys.executable).parent
REDIS_BACKEND = "redis://127.0.0.1:6379/0"


class Hops:
    def __init__(self, workdir: Path) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.queue = f"hops-{suffix}"
        self.tasks = BoundQueue(f"tasks{suffix}")
        self.web = BoundQueue(f"web{suffix}")
        exporting = {"EVENTLOG_EXPORTERS": "amqp", "EVENTLOG_AMQP_URI": AMQP_URI,
                     "EVENTLOG_BSP_SCHEDULE_DELAY": "20"}
        port = free_port()
        self.server = ServerProcess(
            [str(BIN / "eventlog-instrument"), "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}",
             "http_chain_app:app"],
            port, workdir,
            {**exporting, "EVENTLOG_SERVICE_NAME": f"web{suffix}",
             "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        )
        self.worker = CeleryWorker(
            self.queue, ("--include", "hop_tasks"),
            {**exporting, "EVENTLOG_SERVICE_NAME": f"tasks{suffix}",
             "CELERY_RESULT_BACKEND": REDIS_BACKEND},
            workdir,
        )

    def task_events(self, count: int) -> list[dict[str, Any]]:
        received = [json.loads(m.body) for m in self.tasks.read(count, timeout=60)]
        assert self.tasks.rest(0.3) == [], "exactly one event per task"
        return received

    def web_events(self, count: int) -> list[dict[str, Any]]:
        received = [json.loads(m.body) for m in self.web.read(count, timeout=60)]
        assert self.web.rest(0.3) == [], "exactly one event per request"
        return received

    def stop(self) -> None:
        self.worker.stop()
        self.server.stop()
        self.tasks.close()
        self.web.close()


@pytest.fixture(scope="module")
def hops(tmp_path_factory: pytest.TempPathFactory, rabbitmq: str) -> Iterator[Hops]:
    started = Hops(tmp_path_factory.mktemp("hops"))
    yield started
    started.stop()


def by_name(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [event for event in events if event["entrypoint_name"] == name]


def assert_one_trace(events: list[dict[str, Any]]) -> None:
    assert len({event["data"]["trace_id"] for event in events}) == 1


@pytest.mark.parametrize("task", [hop_tasks.fetch_with_requests, hop_tasks.fetch_with_urllib],
                         ids=["requests", "urllib"])
def test_a_task_calling_flask_is_the_first_call_of_the_request(hops, task):
    task.apply_async((hops.server.url + "/c",), queue=hops.queue)
    [fetch] = hops.task_events(1)
    [request] = hops.web_events(1)
    assert fetch["data"]["state"] == "SUCCESS"
    assert request["data"]["status_code"] == 200
    assert request["call_stack"] == [fetch["call_id"], request["call_id"]]
    assert_one_trace([fetch, request])


def test_group_members_extend_the_publishing_task(hops):
    hop_tasks.launch.apply_async(("group",), queue=hops.queue)
    events = hops.task_events(4)
    [launch] = by_name(events, "hop_tasks.launch")
    members = by_name(events, "celery_app.add")
    assert len(members) == 3
    for member in members:
        assert member["call_stack"] == [launch["call_id"], member["call_id"]]
    assert_one_trace(events)


def test_each_chain_member_extends_the_one_before(hops):
    hop_tasks.launch.apply_async(("chain",), queue=hops.queue)
    events = hops.task_events(4)
    [launch] = by_name(events, "hop_tasks.launch")
    first, second, third = sorted(by_name(events, "celery_app.add"),
                                  key=lambda e: len(e["call_stack"]))
    assert first["call_stack"] == [launch["call_id"], first["call_id"]]
    assert second["call_stack"] == [*first["call_stack"], second["call_id"]]
    assert third["call_stack"] == [*second["call_stack"], third["call_id"]]
    assert [e["data"]["state"] for e in (first, second, third)] == ["SUCCESS"] * 3
    assert_one_trace(events)


def test_chord_header_extends_the_publisher_and_its_callback_the_last_member(hops):
    hop_tasks.launch.apply_async(("chord",), queue=hops.queue)
    events = hops.task_events(5)
    [launch] = by_name(events, "hop_tasks.launch")
    members = by_name(events, "celery_app.add")
    [callback] = by_name(events, "hop_tasks.total")
    for member in members:
        assert member["call_stack"] == [launch["call_id"], member["call_id"]]
    # the member that finished last publishes the callback, so the callback extends it
    assert callback["call_stack"][0] == launch["call_id"]
    assert callback["call_stack"][1] in {member["call_id"] for member in members}
    assert callback["call_stack"][2:] == [callback["call_id"]]
    assert callback["data"]["state"] == "SUCCESS"
    assert_one_trace(events)


@pytest.mark.parametrize("kind", ["group", "chain"])
def test_canvas_published_in_a_web_request_extends_its_stack(hops, pipeline, kind):
    pipeline()
    caller = new_call("gateway", "Flask", "checkout")
    members = [add.s(n, n).set(queue=hops.queue) for n in range(2)]
    canvas = group(members) if kind == "group" else chain(*members[:1], add.s(5).set(queue=hops.queue))
    with trace.get_tracer("tests").start_as_current_span(
        "checkout", kind=SpanKind.SERVER, attributes=caller.attributes()
    ) as span:
        canvas.apply_async()
        trace_id = format(span.get_span_context().trace_id, "032x")
    events = sorted(hops.task_events(2), key=lambda e: len(e["call_stack"]))
    assert events[0]["call_stack"] == [caller.call_id, events[0]["call_id"]]
    expected_parent = events[0]["call_stack"] if kind == "chain" else [caller.call_id]
    assert events[1]["call_stack"] == [*expected_parent, events[1]["call_id"]]
    assert {e["data"]["trace_id"] for e in events} == {trace_id}
