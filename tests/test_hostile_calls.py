"""Hostile calls, second review: error info under user span limits, a body failing
mid-stream, the app's own ``X-Call-Id``, foreign span names, manual-event inputs, and
Nameko workers called with hostile ``call_id_stack`` headers (real ``nameko run``)."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import subprocess
import sys
import uuid
from typing import Any

import kombu
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from eventlog_instrument import dispatch_event
from eventlog_instrument.calls import new_call, start_call_span
from eventlog_instrument.envelope import SpanRecord, build_event
from eventlog_instrument.events import record_event
from eventlog_instrument.instrumentors.hooks import record_outcome
from tests.support.brokers import AMQP_URI, BoundQueue, queue_consumed
from tests.support.waiting import free_port, wait_until
from tests.test_hostile_servers import launched_server, raw_exchange, split_response
from tests.test_launcher import LAUNCHER, launcher_env

LIMITS = [
    {"OTEL_SPAN_EVENT_COUNT_LIMIT": "0"},
    {"OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT": "1"},
    {"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "20"},
]
CARD_MESSAGE = "card 4111 1111 1111 1111 and Bearer abcdefghijklmnopqrstuvwxyz0123456789"
SCRUBBED_CARD_MESSAGE = "card *** and Bearer ***"
FAILING_VIEW_PROGRAM = f"""
import json, flask
from eventlog_instrument import EventLogInstrumentor
from eventlog_instrument.exporters.memory import InMemoryEventExporter

memory = InMemoryEventExporter()
EventLogInstrumentor().instrument(exporters=[memory], service_name="limited", bsp_schedule_delay=20)
app = flask.Flask("limited")

@app.get("/boom")
def boom():
    raise ZeroDivisionError({CARD_MESSAGE!r})

response = app.test_client().get("/boom")
assert response.status_code == 500 and response.data
print(json.dumps(memory.wait_for(1)))
"""


@pytest.mark.parametrize("limits", LIMITS, ids=lambda limits: ",".join(limits))
def test_a_flask_error_keeps_its_type_and_whole_scrubbed_message_under_span_limits(limits):
    result = subprocess.run([sys.executable, "-c", FAILING_VIEW_PROGRAM], env=launcher_env(**limits),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    [event] = json.loads(result.stdout)
    data = event["data"]
    assert (data["outcome"], data["status_code"]) == ("error", 500)
    assert (data["error_type"], data["error_message"]) == ("ZeroDivisionError", SCRUBBED_CARD_MESSAGE)
    assert "1111" not in result.stdout


@pytest.mark.parametrize("limits", [{"max_events": 0}, {"max_event_attributes": 1},
                                    {"max_attribute_length": 20}], ids=str)
def test_the_celery_and_nameko_outcome_keeps_the_error_under_span_limits(limits):
    from opentelemetry.sdk.trace import SpanLimits

    spans = InMemorySpanExporter()
    provider = TracerProvider(span_limits=SpanLimits(**limits))
    provider.add_span_processor(SimpleSpanProcessor(spans))
    call = new_call("svc", "CeleryTask", "tasks.charge")
    span = start_call_span(provider.get_tracer("t"), "tasks.charge", call.attributes(),
                           kind=SpanKind.CONSUMER)
    record_outcome(span, ZeroDivisionError(CARD_MESSAGE), ())
    span.end()
    [finished] = spans.get_finished_spans()
    event = build_event(SpanRecord.of(finished))
    assert event is not None
    data = event.envelope["data"]
    assert (data["outcome"], data["error_type"], data["error_message"]) == (
        "error", "ZeroDivisionError", SCRUBBED_CARD_MESSAGE)
    if "max_events" not in limits:
        assert [e.name for e in finished.events] == ["exception"], "still recorded for OTel backends"


def test_a_streamed_body_that_fails_is_an_error_and_the_apps_own_call_id_wins(tmp_path, rabbitmq):
    service = f"stream{uuid.uuid4().hex[:8]}"
    queue = BoundQueue(service)
    port = free_port()
    server = launched_server([LAUNCHER, "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "streaming_flask:app"],
                    port, tmp_path, EVENTLOG_EXPORTERS="amqp", EVENTLOG_AMQP_URI=AMQP_URI,
                    EVENTLOG_SERVICE_NAME=service, EVENTLOG_BSP_SCHEDULE_DELAY="20")
    try:
        streamed = raw_exchange(port, b"/stream_raise", b"")
        own = split_response(raw_exchange(port, b"/own_call_id", b""))
        events = {json.loads(m.body)["entrypoint_name"]: json.loads(m.body) for m in queue.read(2)}
    finally:
        server.stop()
        queue.close()
    assert streamed.startswith(b"HTTP/1.1 200 ") and b"first chunk" in streamed
    data = events["stream_raise"]["data"]
    assert (data["outcome"], data["status_code"]) == ("error", 200), "the status stays the one sent"
    assert (data["error_type"], data["error_message"]) == ("RuntimeError", "mid-stream failure, Bearer ***")
    assert own[3] == [b"chosen-by-the-app"], "one X-Call-Id: the application's"
    assert events["own_call_id"]["data"]["outcome"] == "ok"


def test_a_foreign_span_named_by_request_text_gets_a_safe_bounded_call_id(pipeline):
    from opentelemetry import trace

    memory = pipeline(service_name="foreign", max_value_length=500)
    name = "GET /x\r\nSet-Cookie: a=b,c " + "p" * 20_000
    with trace.get_tracer("some.other.instrumentation").start_as_current_span(name, kind=SpanKind.SERVER):
        pass
    [event] = memory.wait_for(1)
    call_id = event["call_id"]
    # the service part is the tracer provider's resource name, which an earlier test may have set
    assert re.fullmatch(r"[\w-]+\.GET__x__Set-Cookie__a_b_c_p{74}\.[0-9a-f-]{36}", call_id, re.ASCII), call_id
    assert event["call_stack"] == [call_id]
    assert event["entrypoint_name"] == name[:500]


class ItemsRaise(dict):  # type: ignore[type-arg]
    def items(self) -> Any:
        raise RuntimeError("items")


@pytest.mark.parametrize(("data", "error", "message"), [
    (ItemsRaise(a=1), TypeError, "event_data is a ItemsRaise whose items() raised RuntimeError; accepted: "),
    ({"deep": [ItemsRaise(a=1)]}, TypeError, "event_data['deep'][0] is a ItemsRaise whose items() raised"),
    ({"n": 10**5000}, ValueError, "event_data['n'] is an int of more than 4,300 digits"),
])
def test_unreadable_dicts_and_huge_ints_are_clear_errors_naming_the_place(pipeline, data, error, message):
    memory = pipeline()
    with pytest.raises(error) as raised:
        dispatch_event("e", data)
    assert str(raised.value).startswith(message)
    dispatch_event("after")
    assert [event["event_type"] for event in memory.wait_for(1)] == ["after"]


class FailingTracer:
    def start_span(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no span for amqp://admin:s3cr3t@rabbit//")


def test_a_manual_event_the_package_cannot_record_is_one_masked_warning(caplog):
    caplog.set_level(logging.INFO, "eventlog_instrument")
    for _ in range(3):
        record_event(lambda: None, "e", {"a": 1}, tracer=FailingTracer())  # type: ignore[arg-type]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].exc_info is None
    assert "could not record a manual event" in warnings[0].getMessage()
    assert "s3cr3t" not in caplog.text


CALL_ID = re.compile(r"[!-+\--~]{1,256}")
HOSTILE_STACKS: list[Any] = [
    ["gw.checkout.1"],
    ["a\r\nSet-Cookie: x=1", "b,c d"],
    ["y" * 100_000],
    ["z" * 9_000] * 11,
    "plainstring",
    ["v" * 200] * 15,
]


def rpc_reply_queue(connection: kombu.Connection, name: str) -> kombu.Queue:
    queue = kombu.Queue(name, kombu.Exchange("nameko-rpc", type="topic", durable=True), name,
                        auto_delete=False, queue_arguments={"x-expires": 600_000})
    queue(connection.default_channel).declare()
    return queue


def test_nameko_calls_with_hostile_call_stacks_answer_with_bounded_safe_events(tmp_path, rabbitmq):
    service = f"stacks{uuid.uuid4().hex[:8]}"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"AMQP_URI": AMQP_URI}))
    events = BoundQueue(service)
    connection = kombu.Connection(AMQP_URI)
    replies_name = f"reply-{service}"
    replies_queue = rpc_reply_queue(connection, replies_name)
    log = tmp_path / "nameko.log"
    with log.open("wb") as output:
        runner = subprocess.Popen(
            [LAUNCHER, "nameko", "run", "--config", str(config), "stack_echo"], stdout=output,
            stderr=subprocess.STDOUT, cwd=tmp_path,
            env=launcher_env(SERVICE_NAME=service, EVENTLOG_EXPORTERS="amqp", EVENTLOG_AMQP_URI=AMQP_URI,
                             EVENTLOG_BSP_SCHEDULE_DELAY="20", EVENTLOG_MAX_EVENT_BYTES="65536"))
    replies: list[Any] = []
    try:
        def ready() -> bool:
            assert runner.poll() is None, log.read_text()[-3000:]
            return queue_consumed(f"rpc-{service}")

        wait_until(ready, 60, "the Nameko service consuming its RPC queue")
        producer = kombu.Producer(connection.channel())
        for n, stack in enumerate(HOSTILE_STACKS):
            producer.publish({"args": [n], "kwargs": {}}, exchange="nameko-rpc", routing_key=f"{service}.echo",
                             reply_to=replies_name, correlation_id=str(n), serializer="json",
                             headers={"nameko.call_id_stack": stack})
        channel = connection.channel()
        with kombu.Consumer(channel, [replies_queue], accept=["json"],
                            callbacks=[lambda body, message: (replies.append(body), message.ack())]):
            def answered() -> bool:
                with contextlib.suppress(TimeoutError):
                    connection.drain_events(timeout=0.2)
                return len(replies) == len(HOSTILE_STACKS)

            wait_until(answered, 30, "every RPC answer")
        received = [json.loads(m.body) for m in events.read(2 * len(HOSTILE_STACKS))]
        assert events.rest(0.5) == [], "one entrypoint_fired and one manual event per call"
    finally:
        runner.terminate()
        runner.wait(30)
        replies_queue(connection.default_channel).delete()
        connection.release()
        events.close()
    assert sorted(reply["result"] for reply in replies) == list(range(len(HOSTILE_STACKS)))
    assert all(reply["error"] is None for reply in replies)
    fired = {e["call_id"]: e for e in received if e["event_type"] == "entrypoint_fired"}
    inside = {e["call_id"]: e for e in received if e["event_type"] == "inside_echo"}
    assert len(fired) == len(HOSTILE_STACKS) and fired.keys() == inside.keys()
    assert all(inside[call_id]["call_stack"] == e["call_stack"] for call_id, e in fired.items())
    stacks = sorted((tuple(e["call_stack"][:-1]) for e in fired.values()), key=len)
    assert stacks == [()] * 4 + [("gw.checkout.1",)] + [("v" * 200,) * 10]
    for event in received:
        stack = event["call_stack"]
        assert stack[-1] == event["call_id"] and event["call_id"].startswith(f"{service}.echo.")
        assert all(CALL_ID.fullmatch(call_id) for call_id in stack)
        assert len(",".join(stack[:-1])) <= 2048
    assert "Traceback" not in log.read_text()
