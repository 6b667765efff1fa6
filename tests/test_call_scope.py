"""A call is found from any span under it, and an ended call from none: log records,
HTTP requests and standalone Nameko events under a span of the application's own
belong to the call; a task or greenthread outliving its call is not part of it. The
hops are read on the wire (a real HTTP server, the real RabbitMQ)."""

from __future__ import annotations

import asyncio
import http.server
import logging
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import eventlet
import pytest
import requests
from nameko.standalone.events import event_dispatcher
from opentelemetry import trace

from eventlog_instrument.calls import current_call
from tests.support.brokers import AMQP_URI
from tests.support.spans import instrumented_call

app_tracer = trace.get_tracer("the.app")


def call() -> Any:
    return instrumented_call("scopesvc")


class Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, Keep]]:
    logger = logging.getLogger(f"app.{uuid.uuid4().hex[:8]}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    keep = Keep()
    logger.addHandler(keep)
    yield logger, keep
    logger.removeHandler(keep)


def test_records_under_the_apps_own_spans_belong_to_the_call(pipeline, log):
    logger, keep = log
    memory = pipeline()
    with (
        call() as call_id,
        app_tracer.start_as_current_span("db"),
        app_tracer.start_as_current_span("query"),
    ):
        logger.warning("slow query")
        nested = current_call()
    [event] = [e for e in memory.wait_for(1) if e["event_type"] == "entrypoint_fired"]
    assert [entry["message"] for entry in event["data"]["logs"]] == ["slow query"]
    assert keep.records[0].eventlog_call_id == call_id  # type: ignore[attr-defined]
    assert nested is not None and nested.call_id == call_id
    assert current_call() is None


def test_a_task_outliving_its_call_is_not_part_of_it(pipeline, log):
    logger, keep = log
    pipeline()
    seen = []

    async def main() -> None:
        go = asyncio.Event()

        async def background() -> None:
            await go.wait()
            seen.append(current_call())
            with app_tracer.start_as_current_span("later"):
                seen.append(current_call())
                logger.warning("heartbeat")

        with call():
            task = asyncio.get_running_loop().create_task(background())
        go.set()
        await asyncio.wait_for(task, 10)

    asyncio.run(main())
    assert seen == [None, None]
    assert keep.records[-1].eventlog_call_id == ""  # type: ignore[attr-defined]


def test_spawn_n_greenthreads_inherit_the_call(pipeline):
    pipeline()
    seen: list[str | None] = []

    def note() -> None:
        found = current_call()
        seen.append(found.call_id if found else None)

    with call() as call_id:
        eventlet.spawn_n(note)
        eventlet.GreenPool(2).spawn_n(note)
        eventlet.sleep(0)
        eventlet.sleep(0)
    assert seen == [call_id, call_id]


def test_a_request_under_the_apps_own_span_carries_the_stack(pipeline):
    seen: list[str | None] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("X-Call-Stack"))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        pipeline()
        with call() as call_id, app_tracer.start_as_current_span("fetch prices"):
            requests.get(f"http://127.0.0.1:{server.server_port}/", timeout=10)
    finally:
        server.shutdown()
        server.server_close()
    assert seen == [call_id]


def stack_of(message) -> object:
    return (message.headers or {}).get("nameko.call_id_stack")


def test_standalone_events_carry_the_stack_whatever_the_import_order(announced, pipeline):
    """This module imported ``event_dispatcher`` before any ``instrument()``; one
    dispatcher is even made before it."""
    service, queue = announced
    early = event_dispatcher({"AMQP_URI": AMQP_URI})
    pipeline()
    with call() as call_id:
        early(service, "announced", {"n": 1})
        with app_tracer.start_as_current_span("publish order"):
            event_dispatcher({"AMQP_URI": AMQP_URI})(service, "announced", {"n": 2})
    early(service, "announced", {"n": 3})
    messages = queue.read(3)
    assert [(m.payload, stack_of(m)) for m in messages] == [
        ({"n": 1}, [call_id]), ({"n": 2}, [call_id]), ({"n": 3}, None)]


def test_a_task_outliving_its_call_sends_no_stack(announced, pipeline):
    service, queue = announced
    pipeline()
    dispatch = event_dispatcher({"AMQP_URI": AMQP_URI})

    async def main() -> None:
        go = asyncio.Event()

        async def background() -> None:
            await go.wait()
            dispatch(service, "announced", {"n": 1})

        with call():
            task = asyncio.get_running_loop().create_task(background())
        go.set()
        await asyncio.wait_for(task, 10)

    asyncio.run(main())
    [message] = queue.read(1)
    assert stack_of(message) is None
