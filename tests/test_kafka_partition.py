"""The kafka exporter's murmur2 against kafka-python's, which it stands in for."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.partitioner.default import murmur2 as kafka_murmur2

from eventlog_instrument.exporters.kafka_partition import murmur2, partition_of


@settings(max_examples=2000)
@given(st.binary(max_size=300))
def test_murmur2_is_kafkas(data):
    assert murmur2(data) == kafka_murmur2(data)


@given(st.binary(max_size=100), st.lists(st.integers(0, 50), min_size=1, max_size=8, unique=True))
def test_partition_is_the_default_partitioners(key, partition_ids):
    partitions = sorted(partition_ids)
    expected = partitions[(kafka_murmur2(key) & 0x7FFFFFFF) % len(partitions)]
    assert partition_of(key, partitions) == expected
