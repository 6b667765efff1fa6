"""Reading events back from the brokers, for the ``eventlog`` tools.

RabbitMQ: an exclusive, auto-deleting queue of the tool's own, bound to the
``<service>.events`` exchange of each named service with the configured event type, so
real consumers never lose an event to it. Kafka: the topics that the exporter's topic
template, prefix and suffix give for the service patterns, read by partition assignment
(no consumer group), from the end or from the beginning.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from eventlog_instrument.settings import Settings

POLL_SECONDS = 0.25


def amqp_events(
    settings: Settings, services: list[str], until: float | None = None
) -> Iterator[dict[str, Any]]:
    """Envelopes published to the services' exchanges from now on, until ``until`` (monotonic).

    The queue is bound before this returns, so nothing published afterwards is missed.
    """
    import kombu

    connection = kombu.Connection(settings.amqp_uri, connect_timeout=settings.amqp_timeout)
    connection.connect()
    channel = connection.channel()
    queue_name = f"eventlog-tail-{uuid.uuid4().hex[:12]}"
    bindings = [
        kombu.binding(
            kombu.Exchange(f"{service}.events", type="topic", durable=True), settings.event_type
        )
        for service in services
    ]
    queue = kombu.Queue(queue_name, bindings=bindings, exclusive=True, auto_delete=True)
    received: list[dict[str, Any]] = []
    consumer = kombu.Consumer(
        channel,
        [queue],
        callbacks=[lambda body, message: received.append(body)],
        accept=["json"],
        no_ack=True,
    )
    consumer.consume()

    def events() -> Iterator[dict[str, Any]]:
        try:
            while until is None or time.monotonic() < until:
                with contextlib.suppress(TimeoutError):
                    connection.drain_events(timeout=POLL_SECONDS)
                while received:
                    yield received.pop(0)
        except KeyboardInterrupt:
            # Ctrl-C can land in the middle of reading a frame: a polite close would then
            # wait forever for the broker's reply. The broker drops the exclusive queue.
            connection.collect()
            raise
        finally:
            connection.release()

    return events()


def kafka_topics(settings: Settings, consumer: Any, service_pattern: str) -> list[str]:
    """Existing topics whose name the topic template gives for services matching the pattern."""
    template = settings.kafka_topic.format(service_name=service_pattern, event_type="*")
    pattern = settings.kafka_topic_prefix + template + settings.kafka_topic_suffix
    return sorted(topic for topic in consumer.topics() if fnmatch.fnmatchcase(topic, pattern))


def kafka_events(
    settings: Settings, service_pattern: str, from_beginning: bool, until: float | None = None
) -> Iterator[dict[str, Any]]:
    """Envelopes on the matching topics, from the end (or the beginning) until ``until``.

    The partitions are assigned and positioned before this returns.
    """
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=list(settings.kafka_bootstrap_servers),
        consumer_timeout_ms=int(POLL_SECONDS * 1000),
        security_protocol=settings.kafka_security_protocol,
    )
    partitions = [
        TopicPartition(topic, partition)
        for topic in kafka_topics(settings, consumer, service_pattern)
        for partition in consumer.partitions_for_topic(topic) or ()
    ]
    consumer.assign(partitions)
    if from_beginning:
        consumer.seek_to_beginning()
    else:
        consumer.seek_to_end()
        for partition in partitions:
            consumer.position(partition)

    def events() -> Iterator[dict[str, Any]]:
        try:
            while until is None or time.monotonic() < until:
                for record in consumer:
                    yield json.loads(record.value)
        finally:
            consumer.close()

    return events()
