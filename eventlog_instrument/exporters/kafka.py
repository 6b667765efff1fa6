"""``kafka``: publishes envelopes to Kafka with kafka-python (SPEC §3).

* value: the envelope as UTF-8 JSON;
* key: ``EVENTLOG_KAFKA_PARTITION_KEY`` — the outermost call id by default, so one
  call chain stays ordered in one partition; or the call id, the service name, none;
* topic: ``EVENTLOG_KAFKA_TOPIC_PREFIX`` + ``EVENTLOG_KAFKA_TOPIC`` (a template with
  ``{service_name}`` and ``{event_type}``, the envelope's event type) +
  ``EVENTLOG_KAFKA_TOPIC_SUFFIX``; characters Kafka does not allow in a topic name become
  ``_`` and the name is cut at 249 characters;
* headers ``event_type``, ``service_name`` and ``call_id``.

Security: ``EVENTLOG_KAFKA_SECURITY_PROTOCOL`` and the ``EVENTLOG_KAFKA_SSL_*`` and
``EVENTLOG_KAFKA_SASL_*`` settings are passed to kafka-python as they are.

The producer is created on the export thread, on first use, and ``send`` blocks at
most ``EVENTLOG_KAFKA_MAX_BLOCK_MS``. A batch not acknowledged within the export
timeout is handed back to the pipeline for a retry on a new producer.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from typing import Any

from eventlog_instrument.envelope import Event
from eventlog_instrument.exporters.base import EventExporter
from eventlog_instrument.realthreads import GilSlices
from eventlog_instrument.settings import Settings, mask_secret, redact

_logger = logging.getLogger(__name__)
_TOPIC_FORBIDDEN = re.compile(r"[^A-Za-z0-9._-]")
_TOPIC_MAX_LENGTH = 249
_SHORTEST_GIL_SLICE = 0.001
"""Each pause hands the GIL to kafka-python's own sender thread, which is export work
too: with the default 0.1 ms slices the two export threads took turns so often that
the exporter fell to 0.65-0.88 of a raw producer, against 0.94-1.19 with 1 ms."""


class KafkaEventExporter(EventExporter):
    """Sends each envelope as one Kafka record."""

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self.bootstrap_servers = list(self.settings.kafka_bootstrap_servers)
        self._topics: dict[tuple[str, str], str] = {}
        self._producer: Any = None

    def topic_for(self, event: Event) -> str:
        """The topic name ``event`` is sent to."""
        cache_key = (event.service_name, event.event_type)
        topic = self._topics.get(cache_key)
        if topic is None:
            settings = self.settings
            name = settings.kafka_topic.format(
                service_name=event.service_name, event_type=event.event_type
            )
            topic = _TOPIC_FORBIDDEN.sub(
                "_", settings.kafka_topic_prefix + name + settings.kafka_topic_suffix
            )[:_TOPIC_MAX_LENGTH]
            self._topics[cache_key] = topic
        return topic

    def key_for(self, event: Event) -> bytes | None:
        """The record key of ``event``, by ``EVENTLOG_KAFKA_PARTITION_KEY``."""
        choice = self.settings.kafka_partition_key
        if choice == "outermost_call_id":
            return event.call_stack[0].encode("utf-8")
        if choice == "call_id":
            return event.call_id.encode("utf-8")
        if choice == "service_name":
            return event.service_name.encode("utf-8")
        return None

    def deliver(self, events: Sequence[Event], timeout: float) -> list[Event]:
        deadline = time.monotonic() + timeout
        sent: list[tuple[Event, Any]] = []
        failure: Exception | None = None
        try:
            producer = self._open_producer()
            slices = GilSlices(shortest=_SHORTEST_GIL_SLICE)
            for event in events:
                slices.tick()
                headers = [
                    ("event_type", event.event_type.encode("utf-8")),
                    ("service_name", event.service_name.encode("utf-8")),
                    ("call_id", event.call_id.encode("utf-8")),
                ]
                future = producer.send(
                    self.topic_for(event), value=event.body, key=self.key_for(event),
                    headers=headers,
                )
                sent.append((event, future))
            producer.flush(timeout=max(0.0, deadline - time.monotonic()))
        except Exception as error:
            failure = error
        undelivered = [event for event, future in sent if not future.succeeded()]
        undelivered.extend(events[len(sent) :])
        if undelivered:
            self._report_failure(failure)
            self._discard_producer()
        return undelivered

    def _open_producer(self) -> Any:
        if self._producer is None:
            from kafka import KafkaProducer

            self._producer = KafkaProducer(**self.producer_config())
        return self._producer

    def producer_config(self) -> dict[str, Any]:
        """The KafkaProducer arguments, security settings passed through when given."""
        settings = self.settings
        config: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "client_id": "eventlog-instrument",
            "acks": "all",
            "linger_ms": 5,
            "batch_size": 64 * 1024,
            "max_block_ms": settings.kafka_max_block_ms,
            "request_timeout_ms": max(1000, settings.bsp_export_timeout),
            "security_protocol": settings.kafka_security_protocol,
        }
        optional = {
            "ssl_cafile": settings.kafka_ssl_cafile,
            "ssl_certfile": settings.kafka_ssl_certfile,
            "ssl_keyfile": settings.kafka_ssl_keyfile,
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": settings.kafka_sasl_password,
        }
        config.update({key: value for key, value in optional.items() if value})
        return config

    def _report_failure(self, error: Exception | None) -> None:
        if not self.failure_log_due():
            return
        reason = "not acknowledged in time" if error is None else (
            f"{type(error).__name__}: {redact(str(error), *self.bootstrap_servers)}"
        )
        _logger.warning(
            "eventlog_instrument: kafka exporter cannot publish to %s (%s); "
            "events are kept and retried",
            mask_secret(self.bootstrap_servers), reason,
            exc_info=error,
        )

    def _discard_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=0)
            except Exception:
                _logger.debug("closing a failed Kafka producer failed", exc_info=True)

    def after_fork(self) -> None:
        self._producer = None

    def shutdown(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=self.settings.shutdown_timeout / 1000)
            except Exception:
                _logger.debug("closing the Kafka producer failed", exc_info=True)
