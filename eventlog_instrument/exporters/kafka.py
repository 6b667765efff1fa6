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

The producer is created on the export thread, on first use; creating it (kafka-python
3's bootstrap) and each ``send`` block at most ``EVENTLOG_KAFKA_MAX_BLOCK_MS``. Events
not acknowledged within the export timeout are handed back to the pipeline for a retry
on a new producer. A record Kafka can never take is dropped alone, not retried: over
kafka-python's ``max_request_size`` (1 MiB) or the broker's message size limit
(``refused``), or to a topic the broker calls invalid (``invalid``).

Noise: while the exporter runs, what kafka-python logs is rate-limited to one line per
kafka-python logger every 10 seconds (an outage otherwise logs several lines a second),
and producers are closed explicitly, so their ``__del__`` has nothing to report.
kafka-python's own exit hook is removed from each producer: at exit the pipeline closes
it within ``EVENTLOG_SHUTDOWN_TIMEOUT``.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from eventlog_instrument.drops import INVALID, REFUSED
from eventlog_instrument.envelope import Event
from eventlog_instrument.exporters import kafka_noise
from eventlog_instrument.exporters.base import EventExporter
from eventlog_instrument.exporters.kafka_partition import partition_in_batch
from eventlog_instrument.masking import mask_secret, redact
from eventlog_instrument.realthreads import GilSlices
from eventlog_instrument.settings import Settings

_logger = logging.getLogger(__name__)
_TOPIC_FORBIDDEN = re.compile(r"[^A-Za-z0-9._-]")
_TOPIC_MAX_LENGTH = 249
_SHORTEST_GIL_SLICE = 0.001
"""Each pause hands the GIL to kafka-python's own sender thread, which is export work
too: with the default 0.1 ms slices the two export threads took turns so often that
the exporter fell to 0.65-0.88 of a raw producer, against 0.94-1.19 with 1 ms."""
_KEY_OF: dict[str, Callable[[Event], bytes | None]] = {
    "outermost_call_id": lambda event: event.call_stack[0].encode("utf-8"),
    "call_id": lambda event: event.call_id.encode("utf-8"),
    "service_name": lambda event: event.service_name.encode("utf-8"),
    "none": lambda event: None,
}
"""The record key of an event, by ``EVENTLOG_KAFKA_PARTITION_KEY``."""
_REFUSED_ERRORS = ("MessageSizeTooLargeError", "RecordListTooLargeError")
_INVALID_ERRORS = ("InvalidTopicError",)


class KafkaEventExporter(EventExporter):
    """Sends each envelope as one Kafka record."""

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self.bootstrap_servers = list(self.settings.kafka_bootstrap_servers)
        self._routes: dict[tuple[str, str], tuple[str, tuple[tuple[str, bytes], ...]]] = {}
        self._producer: Any = None

    def topic_for(self, event: Event) -> str:
        """The topic name ``event`` is sent to."""
        return self._route(event)[0]

    def key_for(self, event: Event) -> bytes | None:
        """The record key of ``event``, by ``EVENTLOG_KAFKA_PARTITION_KEY``."""
        return _KEY_OF[self.settings.kafka_partition_key](event)

    def _route(self, event: Event) -> tuple[str, tuple[tuple[str, bytes], ...]]:
        """``event``'s topic and the headers every event of its service and type shares,
        each found once: only the ``call_id`` header is encoded per event."""
        names = (event.service_name, event.event_type)
        route = self._routes.get(names)
        if route is None:
            settings = self.settings
            name = settings.kafka_topic.format(
                service_name=event.service_name, event_type=event.event_type
            )
            topic = _TOPIC_FORBIDDEN.sub(
                "_", settings.kafka_topic_prefix + name + settings.kafka_topic_suffix
            )[:_TOPIC_MAX_LENGTH]
            shared = (
                ("event_type", event.event_type.encode("utf-8")),
                ("service_name", event.service_name.encode("utf-8")),
            )
            route = self._routes[names] = (topic, shared)
        return route

    def deliver(self, events: Sequence[Event], timeout: float) -> list[Event]:
        deadline = time.monotonic() + timeout
        sent: list[tuple[Event, Any]] = []
        failure: Exception | None = None
        handled = 0
        try:
            producer = self._open_producer()
            slices = GilSlices(shortest=_SHORTEST_GIL_SLICE)
            key_of = _KEY_OF[self.settings.kafka_partition_key]
            partitions: dict[str, list[int]] = {}
            for event in events:
                slices.tick()
                topic, shared_headers = self._route(event)
                key = key_of(event)
                try:
                    future = producer.send(
                        topic, value=event.body, key=key,
                        headers=[*shared_headers, ("call_id", event.call_id.encode("utf-8"))],
                        partition=None if key is None else partition_in_batch(
                            producer, topic, key, partitions
                        ),
                    )
                except Exception as error:
                    if not self._refused(event, error):
                        raise
                else:
                    sent.append((event, future))
                handled += 1
            producer.flush(timeout=max(0.0, deadline - time.monotonic()))
        except Exception as error:
            failure = error
        undelivered = [
            event for event, future in sent
            if not future.succeeded()
            and not (future.failed() and self._refused(event, future.exception))
        ]
        undelivered.extend(events[handled:])
        if undelivered:
            self._report_failure(failure)
            self._discard_producer()
        else:
            self.last_error = ""
        return undelivered

    def _refused(self, event: Event, error: BaseException) -> bool:
        """Refuse ``event`` when ``error`` says Kafka will never take it."""
        name = type(error).__name__
        if name not in _REFUSED_ERRORS and name not in _INVALID_ERRORS:
            return False
        reason = INVALID if name in _INVALID_ERRORS else REFUSED
        self.refuse(event, reason, f"{name}: {redact(str(error), *self.bootstrap_servers)}")
        return True

    def _open_producer(self) -> Any:
        if self._producer is None:
            producer_class = _quiet_producer_class()  # imports kafka: its loggers exist
            kafka_noise.quieten()  # before the producer's bootstrap logs
            self._producer = producer_class(**self.producer_config())
        return self._producer

    def producer_config(self) -> dict[str, Any]:
        """The KafkaProducer arguments, security settings passed through when given."""
        settings = self.settings
        request_timeout = max(1000, settings.bsp_export_timeout)
        config: dict[str, Any] = {
            **self._client_config(),
            "acks": "all",
            # Each delivery ends with a flush, which sends what a batch holds at once: a
            # record need not wait for a linger to run out, and one that did (5 ms, as
            # before) sent part-filled batches while the export thread was still adding
            # records, each waking kafka-python's sender thread and costing a request.
            "linger_ms": settings.bsp_export_timeout,
            "batch_size": 64 * 1024,
            "max_block_ms": settings.kafka_max_block_ms,
            "request_timeout_ms": request_timeout,
        }
        from kafka import KafkaProducer

        defaults = KafkaProducer.DEFAULT_CONFIG
        if "bootstrap_timeout_ms" in defaults:  # kafka-python 3
            # Its default of 30 s held the export thread in a producer's __init__ while
            # the broker was down.
            config["bootstrap_timeout_ms"] = settings.kafka_max_block_ms
        if "delivery_timeout_ms" in defaults:
            # kafka-python refuses a producer whose delivery timeout (2 minutes by
            # default) is below its linger plus its request timeout.
            config["delivery_timeout_ms"] = max(
                defaults["delivery_timeout_ms"], config["linger_ms"] + request_timeout
            )
        return config

    def check(self, timeout: float) -> str:
        """Fetch the topic list as the producer would connect (TLS, SASL): ``ok`` and
        the masked bootstrap servers, or a one-line ``ConnectionError``."""
        from kafka import KafkaConsumer

        where = mask_secret(self.bootstrap_servers)
        config = self._client_config()
        if "bootstrap_timeout_ms" in KafkaConsumer.DEFAULT_CONFIG:  # kafka-python 3
            config["bootstrap_timeout_ms"] = int(timeout * 1000)
        try:
            consumer = KafkaConsumer(**config)
            try:
                consumer.topics()
            finally:
                consumer.close()
        except Exception as error:
            raise ConnectionError(
                f"broker unreachable ({where}): {type(error).__name__}"
            ) from None
        return f"ok {where}"

    def _client_config(self) -> dict[str, Any]:
        """What every kafka-python client of this exporter is given: where, and how."""
        settings = self.settings
        config: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "client_id": "eventlog-instrument",
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
        reason = "not acknowledged in time" if error is None else (
            f"{type(error).__name__}: {redact(str(error), *self.bootstrap_servers)}"
        )
        self.last_error = reason
        if not self.failure_log_due():
            return
        _logger.warning(
            "eventlog_instrument: kafka exporter cannot publish to %s (%s); "
            "events are kept and retried",
            mask_secret(self.bootstrap_servers), reason
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
        self.shutdown_within(self.settings.shutdown_timeout / 1000)

    def shutdown_within(self, seconds: float) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=max(0.0, seconds))
            except Exception:
                _logger.debug("closing the Kafka producer failed", exc_info=True)
        kafka_noise.restore()


_producer_class: Any = None


def _quiet_producer_class() -> Any:
    """A KafkaProducer without kafka-python's exit hook, whose ``__del__`` keeps quiet.

    The hook closes the producer with a 1 s timeout of its own, before the pipeline's
    flush (``atexit`` runs the last registered first): exit took longer than
    ``EVENTLOG_SHUTDOWN_TIMEOUT`` and printed a ``KafkaTimeoutError`` traceback. The
    exporter closes its producer itself, within that bound. A producer whose
    ``__init__`` failed (no broker) has no state to close, and its ``__del__`` printed
    a traceback; one whose records could not be flushed in time raised from ``close``
    and kept its sender thread, and its ``__del__`` then blocked the garbage collector
    for a second and printed a ``KafkaTimeoutError`` traceback. Now ``close`` stops the
    sender whatever is pending, and ``__del__`` never waits.
    """
    global _producer_class
    if _producer_class is None:
        from kafka import KafkaProducer
        from kafka.errors import KafkaTimeoutError

        class QuietKafkaProducer(KafkaProducer):  # type: ignore[misc]
            def __init__(self, **config: Any) -> None:
                super().__init__(**config)
                self._unregister_cleanup()

            def close(self, timeout: float | None = None, null_logger: bool = False) -> None:
                try:
                    super().close(timeout, null_logger)
                except KafkaTimeoutError:
                    # Records still pending when the time ran out: kafka-python raises from
                    # its flush before it stops the sender thread, which would then live on.
                    # The pipeline holds those events for a retry, so drop them here.
                    self._sender.force_close()
                    self._closed = True

            def __del__(self) -> None:
                # Never wait or raise in the garbage collector, whichever thread runs it.
                if getattr(self, "_closed", True) is False:
                    with contextlib.suppress(Exception):
                        self.close(timeout=0, null_logger=True)

        _producer_class = QuietKafkaProducer
    return _producer_class
