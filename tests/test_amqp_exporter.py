"""The amqp exporter against the machine's RabbitMQ and an unchanged Nameko consumer."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from eventlog_instrument import dispatch_event
from eventlog_instrument.calls import new_call
from eventlog_instrument.exporters.amqp import AmqpEventExporter
from eventlog_instrument.settings import load_settings
from tests.support.brokers import AMQP_URI, BoundQueue
from tests.support.spans import assert_ending_calls_never_waits
from tests.support.tcpproxy import TcpProxy
from tests.support.waiting import wait_until

tracer = trace.get_tracer("tests")


def amqp_exporter(uri: str = AMQP_URI, **options) -> AmqpEventExporter:
    return AmqpEventExporter(load_settings({}, amqp_uri=uri, **options))


@pytest.fixture
def bound_queue(rabbitmq, service_name):
    queue = BoundQueue(service_name)
    yield queue
    queue.close()


def test_unchanged_nameko_event_handler_receives_every_event(
    rabbitmq, service_name, nameko_consumer, pipeline
):
    consumer = nameko_consumer(service_name)
    memory = pipeline(extra_exporters=[amqp_exporter()], service_name=service_name)
    call = new_call(service_name, "Rpc", "place_order")
    with tracer.start_as_current_span(
        "place_order", kind=SpanKind.SERVER, attributes=call.attributes()
    ) as span:
        span.set_attribute("tenant", "acme")
        dispatch_event("order_placed", {"order_id": 7}, {"channel": "web"})

    received = consumer.wait_for(2)
    sent = memory.wait_for(2)
    assert sorted(received, key=lambda e: e["event_type"]) == sorted(sent, key=lambda e: e["event_type"])
    assert {event["event_type"] for event in received} == {"order_placed", "entrypoint_fired"}
    assert all(event["call_id"] == call.call_id for event in received)


def test_custom_event_type_is_the_routing_key(rabbitmq, service_name, nameko_consumer, pipeline):
    consumer = nameko_consumer(service_name, event_type="audit_event")
    pipeline(extra_exporters=[amqp_exporter(event_type="audit_event")], service_name=service_name)
    dispatch_event("login", {"user": "ann"})
    assert [event["data"] for event in consumer.wait_for(1)] == [{"user": "ann"}]


def test_wire_format_is_nameko_compatible(rabbitmq, service_name, bound_queue, pipeline):
    pipeline(extra_exporters=[amqp_exporter()], service_name=service_name)
    parent = new_call("gateway", "HttpRequestHandler", "checkout")
    call = new_call(service_name, "Rpc", "pay", parent.call_stack)
    with tracer.start_as_current_span("pay", kind=SpanKind.SERVER, attributes=call.attributes()):
        dispatch_event("payment_taken", {"amount": 10})

    messages = bound_queue.read(2)
    for message in messages:
        assert message.content_type == "application/json"
        assert message.content_encoding == "utf-8"
        assert message.properties["delivery_mode"] == 2
        assert message.headers["nameko.call_id_stack"] == [parent.call_id, call.call_id]
        assert message.delivery_info["routing_key"] == "log_event"
        assert message.delivery_info["exchange"] == f"{service_name}.events"
        assert json.loads(message.body)["call_stack"] == [parent.call_id, call.call_id]

    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_exchanges", "name", "type", "durable", "auto_delete"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    assert f"{service_name}.events\ttopic\ttrue\tfalse" in listed.splitlines()


def test_ten_thousand_events_all_arrive_once(rabbitmq, service_name, bound_queue, pipeline):
    exporter = amqp_exporter()
    pipeline(extra_exporters=[exporter], service_name=service_name, bsp_max_queue_size=20_000)
    for number in range(10_000):
        dispatch_event("tick", {"n": number})

    numbers = [json.loads(m.body)["data"]["n"] for m in bound_queue.read(10_000, timeout=60)]
    assert sorted(numbers) == list(range(10_000))
    assert numbers == list(range(10_000)), "one exporter keeps the order of events"
    assert bound_queue.rest(0.5) == []


def test_reconnects_after_the_broker_goes_away_and_loses_nothing(
    rabbitmq, service_name, bound_queue, pipeline
):
    with TcpProxy("127.0.0.1", 5672) as proxy:
        exporter = amqp_exporter(f"amqp://guest:guest@127.0.0.1:{proxy.port}//", amqp_timeout=1)
        pipeline(extra_exporters=[exporter], service_name=service_name)
        for number in range(50):
            dispatch_event("tick", {"n": number})
        assert len(bound_queue.read(50)) == 50

        proxy.cut()
        for number in range(50, 100):
            dispatch_event("tick", {"n": number})
        time.sleep(0.5)
        proxy.restore()

        numbers = [json.loads(m.body)["data"]["n"] for m in bound_queue.read(50)]
        assert sorted(numbers) == list(range(50, 100))
        assert bound_queue.rest(0.5) == [], "no event is published twice"


def test_unreachable_broker_never_blocks_the_application(service_name, pipeline):
    with TcpProxy("127.0.0.1", 5672) as proxy:
        proxy.cut()
        exporter = amqp_exporter(f"amqp://guest:guest@127.0.0.1:{proxy.port}//")
        pipeline(extra_exporters=[exporter], service_name=service_name, shutdown_timeout=300)
        assert_ending_calls_never_waits(service_name, exporter)


def test_password_is_masked_in_the_failure_warning(service_name, pipeline, caplog):
    with TcpProxy("127.0.0.1", 5672) as proxy:
        proxy.cut()
        exporter = amqp_exporter(f"amqp://guest:hunter2@127.0.0.1:{proxy.port}//", amqp_timeout=1)
        pipeline(extra_exporters=[exporter], service_name=service_name, shutdown_timeout=300)
        dispatch_event("tick")
        wait_until(lambda: "amqp exporter cannot publish" in caplog.text, 10, "the warning")
    assert "guest:***@127.0.0.1" in caplog.text
    assert "hunter2" not in caplog.text


def test_works_in_a_plain_sdk_batch_processor(rabbitmq, service_name, bound_queue):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(amqp_exporter()))
    call = new_call(service_name, "Rpc", "m")
    provider.get_tracer("official").start_span(
        "m", kind=SpanKind.SERVER, attributes=call.attributes()
    ).end()
    provider.shutdown()
    [message] = bound_queue.read(1)
    assert json.loads(message.body)["call_id"] == call.call_id
