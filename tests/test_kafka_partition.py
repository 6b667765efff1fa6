"""The kafka exporter's partition choice against kafka-python's default partitioner."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.errors import KafkaTimeoutError, TopicAuthorizationFailedError
from kafka.partitioner.default import DefaultPartitioner
from kafka.partitioner.default import murmur2 as kafka_murmur2

from eventlog_instrument.envelope import Event
from eventlog_instrument.exporters.kafka import KafkaEventExporter
from eventlog_instrument.exporters.kafka_partition import (
    murmur2,
    partition_in_batch,
    partition_of,
)
from eventlog_instrument.settings import load_settings


@settings(max_examples=2000)
@given(st.binary(max_size=300))
def test_murmur2_is_kafkas(data):
    assert murmur2(data) == kafka_murmur2(data)


class Cluster:
    """The metadata kafka-python's partitioner reads, for one topic."""

    def __init__(self, partitions):
        self.partitions = set(partitions)

    def topics(self):
        return {"t"}

    def partitions_for_topic(self, topic):
        return self.partitions

    def available_partitions_for_topic(self, topic):
        return self.partitions


def default_partition(key, partitions):
    """The partition kafka-python's own default partitioner gives a record keyed ``key``."""
    return DefaultPartitioner().partition("t", key, key, b"", b"", Cluster(partitions))


@given(st.binary(max_size=100), st.sets(st.integers(0, 50), min_size=1, max_size=8))
def test_partition_is_the_default_partitioners(key, partition_ids):
    assert partition_of(key, sorted(partition_ids)) == default_partition(key, partition_ids)


class Delivered:
    def succeeded(self):
        return True

    def failed(self):
        return False


class FakeProducer:
    """Answers ``partitions_for`` with ``answer`` (raised when it is an exception), as
    kafka-python's producer would, takes every record at once, and remembers the topics
    asked about and where each record went."""

    def __init__(self, answer):
        self.answer = answer
        self.asked: list[str] = []
        self.records: list[tuple[str, bytes | None, int | None]] = []

    def partitions_for(self, topic):
        self.asked.append(topic)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def send(self, topic, value=None, key=None, headers=None, partition=None):
        self.records.append((topic, key, partition))
        return Delivered()

    def flush(self, timeout=None):
        pass


def test_a_batch_asks_each_topic_for_its_partitions_once():
    partitions = {8, 1, 2}  # a set that does not iterate in order
    producer = FakeProducer(partitions)
    batch: dict[str, list[int]] = {}
    chosen = [partition_in_batch(producer, "orders.events", bytes([n]), batch) for n in range(50)]
    assert producer.asked == ["orders.events"]
    assert chosen == [default_partition(bytes([n]), partitions) for n in range(50)]


def test_a_topic_whose_metadata_the_broker_refuses_is_left_to_kafka_python():
    """kafka-python's send reports such a topic on the record's future; the exporter
    must not turn that into an exception that holds back the rest of the batch."""
    producer = FakeProducer(TopicAuthorizationFailedError())
    batch: dict[str, list[int]] = {}
    assert partition_in_batch(producer, "secret.events", b"key", batch) is None
    assert partition_in_batch(producer, "secret.events", b"key", batch) is None
    assert producer.asked == ["secret.events"]


def test_metadata_not_arriving_in_time_raises_as_send_would():
    with pytest.raises(KafkaTimeoutError):
        partition_in_batch(FakeProducer(KafkaTimeoutError()), "t", b"key", {})


def events_of(services, count):
    events = []
    for number in range(count):
        service = services[number % len(services)]
        call_id = f"{service}.m.{number}"
        stack = (f"gateway.checkout.{number}", call_id)
        events.append(Event(service, call_id, stack, "entrypoint_fired", None, {}, b"{}"))
    return events


@pytest.mark.parametrize("choice", ["outermost_call_id", "call_id", "service_name"])
def test_deliver_sends_each_keyed_record_to_the_default_partitioners_partition(choice):
    exporter = KafkaEventExporter(load_settings(
        {}, kafka_bootstrap_servers="127.0.0.1:9", kafka_partition_key=choice
    ))
    producer = exporter._producer = FakeProducer({0, 1, 2})
    events = events_of(["orders", "billing"], 60)
    assert exporter.deliver(events, 5) == []
    assert sorted(producer.asked) == ["billing.events", "orders.events"]
    for event, (topic, key, partition) in zip(events, producer.records, strict=True):
        assert topic == exporter.topic_for(event)
        assert key == exporter.key_for(event)
        assert partition == default_partition(key, {0, 1, 2})


def test_deliver_leaves_unkeyed_records_to_kafka_pythons_sticky_partitioner():
    exporter = KafkaEventExporter(load_settings(
        {}, kafka_bootstrap_servers="127.0.0.1:9", kafka_partition_key="none"
    ))
    producer = exporter._producer = FakeProducer({0, 1, 2})
    assert exporter.deliver(events_of(["orders"], 10), 5) == []
    assert producer.asked == []
    assert {partition for _, _, partition in producer.records} == {None}
