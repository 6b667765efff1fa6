"""What an outage writes to the log: kafka-python's lines rate-limited per logger during a
real Tansu outage, and a first queue-full warning that says no delivery finished yet."""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict

import pytest

from eventlog_instrument import EventLogInstrumentor, dispatch_event
from eventlog_instrument.exporters.amqp import AmqpEventExporter
from eventlog_instrument.exporters.kafka import KafkaEventExporter
from eventlog_instrument.settings import load_settings
from tests.support.brokers import start_tansu
from tests.support.tcpproxy import TcpProxy
from tests.support.waiting import free_port, port_open, stop_process, wait_until
from tests.test_reliability import Blackhole


class CountingKafkaExporter(KafkaEventExporter):
    """Counts its delivery attempts, to wait for a number of them."""

    attempts = 0

    def deliver(self, events, timeout):
        undelivered = super().deliver(events, timeout)
        self.attempts += 1
        return undelivered


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


# A producer discarded in the outage must close without a traceback, even in the garbage
# collector: kafka-python's own __del__ waited 1 s there and raised KafkaTimeoutError.
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_a_kafka_outage_logs_at_most_one_line_per_kafka_logger_every_10_s(service_name, pipeline):
    port = free_port()
    proxy = TcpProxy("127.0.0.1", port)
    tansu = start_tansu(port, advertised_port=proxy.port)
    records = Records()
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    root.addHandler(records)
    try:
        wait_until(lambda: port_open("127.0.0.1", port), 10, "the Tansu broker to listen")
        exporter = CountingKafkaExporter(load_settings(
            {}, kafka_bootstrap_servers=f"127.0.0.1:{proxy.port}", kafka_max_block_ms=1000,
            bsp_export_timeout=1000,
        ))
        pipeline(extra_exporters=[exporter], service_name=service_name, bsp_export_timeout=1000)
        dispatch_event("warm")
        assert EventLogInstrumentor().force_flush(20_000)
        proxy.cut()
        cut_at = exporter.attempts
        dispatch_event("during_the_outage")
        wait_until(lambda: exporter.attempts >= cut_at + 5, 40, "five failed delivery attempts")
    finally:
        root.removeHandler(records)
        root.setLevel(level)
        proxy.close()
        stop_process(tansu, 5)
    by_logger = defaultdict(list)
    for record in records.records:
        if record.name.startswith("kafka") and record.created:
            by_logger[record.name].append(record.created)
    assert by_logger, "kafka-python logged nothing at all: the outage did not happen"
    for name, times in by_logger.items():
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert all(gap >= 9.9 for gap in gaps), f"{name} logged {len(times)} lines: {gaps}"


def test_a_full_queue_before_any_delivery_finished_says_so(pipeline, caplog):
    hung = Blackhole()
    exporter = AmqpEventExporter(
        load_settings({}, amqp_uri=f"amqp://guest:guest@127.0.0.1:{hung.port}//", amqp_timeout=30)
    )
    pipeline(
        extra_exporters=[exporter], bsp_max_queue_size=10, bsp_max_export_batch_size=5,
        shutdown_timeout=200,
    )
    [processor] = [p for p in EventLogInstrumentor().processors if p.exporter is exporter]
    for number in range(5):
        dispatch_event("first_batch", {"n": number})
    wait_until(lambda: not processor._queue, 10, "the worker to take the first batch")
    for number in range(20):
        dispatch_event("tick", {"n": number})
    warning = next(
        r.getMessage() for r in caplog.records
        if "AmqpEventExporter dropped" in r.getMessage() and "queue of 10" in r.getMessage()
    )
    assert "no delivery has finished yet" in warning
    assert "events came faster" not in warning
    EventLogInstrumentor().uninstrument()
    hung.close()
