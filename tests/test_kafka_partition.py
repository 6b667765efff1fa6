"""The kafka exporter's partition choice against kafka-python's default partitioner."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.errors import KafkaTimeoutError, TopicAuthorizationFailedError
from kafka.partitioner.default import murmur2 as kafka_murmur2

from eventlog_instrument.exporters.kafka_partition import (
    murmur2,
    partition_in_batch,
    partition_of,
)


@settings(max_examples=2000)
@given(st.binary(max_size=300))
def test_murmur2_is_kafkas(data):
    assert murmur2(data) == kafka_murmur2(data)


@given(st.binary(max_size=100), st.lists(st.integers(0, 50), min_size=1, max_size=8, unique=True))
def test_partition_is_the_default_partitioners(key, partition_ids):
    partitions = sorted(partition_ids)
    expected = partitions[(kafka_murmur2(key) & 0x7FFFFFFF) % len(partitions)]
    assert partition_of(key, partitions) == expected


class StubProducer:
    """Answers ``partitions_for`` as kafka-python's producer would, counting the asks."""

    def __init__(self, answer):
        self.answer = answer
        self.asked = 0

    def partitions_for(self, topic):
        self.asked += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_a_batch_asks_each_topic_for_its_partitions_once():
    producer = StubProducer({2, 0, 1})
    batch: dict[str, list[int]] = {}
    chosen = [partition_in_batch(producer, "orders.events", bytes([n]), batch) for n in range(50)]
    assert producer.asked == 1
    assert chosen == [partition_of(bytes([n]), [0, 1, 2]) for n in range(50)]


def test_a_topic_whose_metadata_the_broker_refuses_is_left_to_kafka_python():
    """kafka-python's send reports such a topic on the record's future; the exporter
    must not turn that into an exception that holds back the rest of the batch."""
    producer = StubProducer(TopicAuthorizationFailedError())
    batch: dict[str, list[int]] = {}
    assert partition_in_batch(producer, "secret.events", b"key", batch) is None
    assert partition_in_batch(producer, "secret.events", b"key", batch) is None
    assert producer.asked == 1


def test_metadata_not_arriving_in_time_raises_as_send_would():
    with pytest.raises(KafkaTimeoutError):
        partition_in_batch(StubProducer(KafkaTimeoutError()), "t", b"key", {})
