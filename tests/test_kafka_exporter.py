"""The kafka exporter against a real Tansu broker, read back with kafka-python."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from kafka import KafkaConsumer, TopicPartition
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from eventlog_instrument import dispatch_event
from eventlog_instrument.calls import new_call
from eventlog_instrument.exporters.kafka import KafkaEventExporter
from eventlog_instrument.settings import load_settings
from tests.support.brokers import start_tansu
from tests.support.spans import assert_ending_calls_never_waits
from tests.support.waiting import free_port, stop_process, wait_until
from tests.test_kafka_partition import default_partition

tracer = trace.get_tracer("tests")


def kafka_exporter(bootstrap: str, **options) -> KafkaEventExporter:
    return KafkaEventExporter(load_settings({}, kafka_bootstrap_servers=bootstrap, **options))


def read_topic(bootstrap: str, topic: str, count: int, timeout: float = 30.0) -> list:
    """Every record of ``topic`` from the beginning (Tansu has no consumer groups)."""
    consumer = KafkaConsumer(bootstrap_servers=[bootstrap], consumer_timeout_ms=500)
    try:
        partitions = wait_until(lambda: consumer.partitions_for_topic(topic), timeout, f"topic {topic}")
        consumer.assign([TopicPartition(topic, partition) for partition in partitions])
        consumer.seek_to_beginning()
        records = []
        deadline = time.monotonic() + timeout
        while len(records) < count and time.monotonic() < deadline:
            records.extend(consumer)
        assert len(records) >= count, f"{len(records)} of {count} records on {topic}"
        return records
    finally:
        consumer.close()


def test_value_key_topic_and_headers(tansu, service_name, pipeline):
    memory = pipeline(extra_exporters=[kafka_exporter(tansu)], service_name=service_name)
    parent = new_call("gateway", "HttpRequestHandler", "checkout")
    call = new_call(service_name, "Rpc", "pay", parent.call_stack)
    with tracer.start_as_current_span("pay", kind=SpanKind.SERVER, attributes=call.attributes()):
        dispatch_event("payment_taken", {"amount": 10})

    records = read_topic(tansu, f"{service_name}.events", 2)
    sent = {event["event_type"]: event for event in memory.wait_for(2)}
    for record in records:
        envelope = json.loads(record.value.decode("utf-8"))
        assert envelope == sent[envelope["event_type"]]
        assert record.key == parent.call_id.encode()
        assert dict(record.headers) == {
            "event_type": envelope["event_type"].encode(),
            "service_name": service_name.encode(),
            "call_id": call.call_id.encode(),
        }
    assert sorted(json.loads(r.value)["event_type"] for r in records) == [
        "entrypoint_fired", "payment_taken"
    ]


def test_topic_template_prefix_and_suffix(tansu, service_name, pipeline):
    exporter = kafka_exporter(
        tansu, kafka_topic="{service_name}-{event_type}", kafka_topic_prefix="acme.",
        kafka_topic_suffix=".v1", kafka_partition_key="service_name",
    )
    pipeline(extra_exporters=[exporter], service_name=service_name)
    dispatch_event("user signed/up", {"id": 1})
    [record] = read_topic(tansu, f"acme.{service_name}-user_signed_up.v1", 1)
    assert json.loads(record.value)["data"] == {"id": 1}
    assert record.key == service_name.encode()


@pytest.mark.parametrize(("choice", "expected"), [("call_id", "call"), ("none", None)])
def test_partition_key_choices(tansu, service_name, pipeline, choice, expected):
    pipeline(extra_exporters=[kafka_exporter(tansu, kafka_partition_key=choice)], service_name=service_name)
    call = new_call(service_name, "Rpc", "m", ("outer.m.1",))
    tracer.start_span("m", kind=SpanKind.SERVER, attributes=call.attributes()).end()
    [record] = read_topic(tansu, f"{service_name}.events", 1)
    assert record.key == (call.call_id.encode() if expected else None)


def test_ten_thousand_events_all_arrive_once(tansu, service_name, pipeline):
    pipeline(
        extra_exporters=[kafka_exporter(tansu)], service_name=service_name,
        bsp_max_queue_size=20_000,
    )
    for number in range(10_000):
        dispatch_event("tick", {"n": number})
    records = read_topic(tansu, f"{service_name}.events", 10_000, timeout=60)
    numbers = [json.loads(record.value)["data"]["n"] for record in records]
    assert len(numbers) == 10_000
    assert sorted(numbers) == list(range(10_000))


def test_unreachable_broker_never_blocks_the_application(service_name, pipeline):
    exporter = kafka_exporter(f"127.0.0.1:{free_port()}", kafka_max_block_ms=500)
    pipeline(extra_exporters=[exporter], service_name=service_name, shutdown_timeout=300)
    assert_ending_calls_never_waits(service_name, exporter)


def test_events_wait_for_a_broker_that_starts_late(service_name, pipeline):
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    memory = pipeline(
        extra_exporters=[kafka_exporter(bootstrap, kafka_max_block_ms=500, bsp_export_timeout=1000)],
        service_name=service_name,
    )
    dispatch_event("early", {"id": uuid.uuid4().hex})
    memory.wait_for(1)
    broker = start_tansu(port)
    try:
        [record] = read_topic(bootstrap, f"{service_name}.events", 1)
        assert json.loads(record.value)["event_type"] == "early"
    finally:
        stop_process(broker, 10)


def test_keyed_records_go_to_the_default_partitioners_partition(tansu, service_name, pipeline):
    """The exporter picks each keyed record's partition itself; it must be the one
    kafka-python's own default partitioner picks, so a call chain's events
    share a partition with whatever else its key was sent with."""
    pipeline(extra_exporters=[kafka_exporter(tansu)], service_name=service_name)
    for number in range(40):
        call = new_call(service_name, "Rpc", "m", (f"gateway.checkout.{uuid.uuid4()}-{number}",))
        tracer.start_span("m", kind=SpanKind.SERVER, attributes=call.attributes()).end()
    topic = f"{service_name}.events"
    records = read_topic(tansu, topic, 40)
    consumer = KafkaConsumer(bootstrap_servers=[tansu])
    try:
        partitions = sorted(consumer.partitions_for_topic(topic))
    finally:
        consumer.close()
    assert len(partitions) > 1, "a one-partition topic cannot tell partitioners apart"
    assert len({record.partition for record in records}) > 1
    for record in records:
        assert record.partition == default_partition(record.key, partitions), record.key


def test_an_export_timeout_over_two_minutes_still_delivers(tansu, service_name, pipeline):
    """kafka-python refuses a producer whose delivery timeout is below its linger plus
    its request timeout, both of which follow EVENTLOG_BSP_EXPORT_TIMEOUT: an accepted
    setting of 3 minutes used to leave every event undelivered, retried forever."""
    exporter = kafka_exporter(tansu, bsp_export_timeout=180_000)
    pipeline(extra_exporters=[exporter], service_name=service_name)
    for number in range(3):
        dispatch_event("tick", {"n": number})
    records = read_topic(tansu, f"{service_name}.events", 3)
    assert sorted(json.loads(record.value)["data"]["n"] for record in records) == [0, 1, 2]
    assert exporter.last_error == ""
