"""The partition of a keyed Kafka record, as Kafka's default partitioner picks it.

kafka-python's producer hashes every key with a pure-Python murmur2 (the Java client's
hash), then sorts the topic's partitions and lists the available ones, for each
record. The kafka exporter passes the partition itself instead, picked the same way: the
same murmur2 of the key, read a word at a time (about 60% of kafka-python's cost), the
hash of recent keys remembered (the events of one call chain share their key, the
outermost call id), and the topic's partitions sorted once per batch.
"""

from __future__ import annotations

import struct
from functools import lru_cache
from typing import Any

_SEED = 0x9747B28C
_MIX = 0x5BD1E995
_WORD = 0xFFFFFFFF
_POSITIVE = 0x7FFFFFFF
KEYS_REMEMBERED = 4096


def murmur2(data: bytes) -> int:
    """The 32-bit murmur2 hash of ``data``, as Kafka's Java client computes it."""
    length = len(data)
    words = length >> 2
    hashed = _SEED ^ length
    for word in struct.unpack_from(f"<{words}I", data):
        word = (word * _MIX) & _WORD
        word = ((word ^ (word >> 24)) * _MIX) & _WORD
        hashed = ((hashed * _MIX) & _WORD) ^ word
    if length & 3:
        hashed = ((hashed ^ int.from_bytes(data[words << 2 :], "little")) * _MIX) & _WORD
    hashed = ((hashed ^ (hashed >> 13)) * _MIX) & _WORD
    return hashed ^ (hashed >> 15)


@lru_cache(maxsize=KEYS_REMEMBERED)
def key_hash(key: bytes) -> int:
    """The non-negative hash the default partitioner takes ``key``'s partition from."""
    return murmur2(key) & _POSITIVE


def partition_of(key: bytes, partitions: list[int]) -> int:
    """The partition of ``partitions`` (sorted, not empty) a record keyed ``key`` goes to."""
    return partitions[key_hash(key) % len(partitions)]


def partition_in_batch(
    producer: Any, topic: str, key: bytes, partitions: dict[str, list[int]]
) -> int | None:
    """``key``'s partition of ``topic`` by Kafka's default partitioner, ``partitions``
    keeping each topic's sorted partitions for the batch; None leaves the choice, and
    the report of a topic whose metadata the broker refuses, to kafka-python (whose
    ``send`` asks about that topic once more). A topic recreated with fewer partitions
    during a batch makes ``send`` raise: the rest of that batch is retried, and the
    next batch asks again."""
    known = partitions.get(topic)
    if known is None:
        from kafka.errors import BrokerResponseError

        try:
            known = sorted(producer.partitions_for(topic))
        except BrokerResponseError:
            known = []
        partitions[topic] = known
    return partition_of(key, known) if known else None
