"""Faults and load against the real brokers: outages through a TCP proxy we control (the
machine's RabbitMQ is never stopped), overflow, a broker down at start-up, a hung broker
at shutdown, nacked publishes, and export under eventlet."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from eventlog_instrument import EventLogInstrumentor, dispatch_event
from eventlog_instrument.exporters.amqp import AmqpEventExporter
from eventlog_instrument.exporters.kafka import KafkaEventExporter
from eventlog_instrument.settings import load_settings
from tests.support.brokers import AMQP_URI, BoundQueue, start_tansu
from tests.support.tcpproxy import TcpProxy
from tests.support.waiting import free_port, port_open, stop_process, wait_until

BIN = Path(sys.executable).parent


def amqp_through(proxy: TcpProxy, **options) -> AmqpEventExporter:
    uri = f"amqp://guest:guest@127.0.0.1:{proxy.port}//"
    return AmqpEventExporter(load_settings({}, amqp_uri=uri, amqp_timeout=1, **options))


def steady_load(count: int, per_second: int, outage: tuple[int, float], proxy: TcpProxy) -> int:
    """Dispatch ``count`` events at ``per_second``; cut the proxy at event ``outage[0]`` for
    ``outage[1]`` seconds. Returns how many were dispatched during the outage."""
    during = 0
    started = time.monotonic()
    cut_at: float | None = None
    for number in range(count):
        if number == outage[0]:
            proxy.cut()
            cut_at = time.monotonic()
        if cut_at is not None and time.monotonic() - cut_at >= outage[1]:
            proxy.restore()
            cut_at = None
        dispatch_event("tick", {"n": number})
        during += cut_at is not None
        ahead = (number + 1) / per_second - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
    if cut_at is not None:
        proxy.restore()
    return during


@pytest.mark.slow
def test_amqp_outage_during_load_loses_nothing(rabbitmq, service_name, pipeline):
    queue = BoundQueue(service_name)
    with TcpProxy("127.0.0.1", 5672) as proxy:
        pipeline(
            extra_exporters=[amqp_through(proxy, bsp_export_timeout=2000)],
            service_name=service_name, bsp_max_queue_size=25_000,
        )
        during = steady_load(20_000, 2_500, (6_000, 5.0), proxy)
        numbers = Counter(json.loads(m.body)["data"]["n"] for m in queue.read(20_000, timeout=90))
        missing = set(range(20_000)) - set(numbers)
        if missing:  # resent duplicates counted toward the first 20,000 messages read
            numbers.update(json.loads(m.body)["data"]["n"] for m in queue.read(len(missing)))
        numbers.update(json.loads(m.body)["data"]["n"] for m in queue.rest(0.5))
    assert set(numbers) == set(range(20_000))
    assert sum(numbers.values()) - 20_000 <= 512, "at most the batch in flight at the cut is resent"
    assert during > 0, "the outage covered some dispatches"
    queue.close()


@pytest.mark.slow
def test_kafka_outage_during_load_loses_nothing(service_name, pipeline):
    from tests.test_kafka_exporter import read_topic

    broker_port = free_port()
    with TcpProxy("127.0.0.1", broker_port) as proxy:
        broker = start_tansu(broker_port, advertised_port=proxy.port)
        try:
            wait_until(lambda: port_open("127.0.0.1", broker_port), 10, "Tansu")
            bootstrap = f"127.0.0.1:{proxy.port}"
            exporter = KafkaEventExporter(load_settings(
                {}, kafka_bootstrap_servers=bootstrap, kafka_max_block_ms=1000,
                bsp_export_timeout=2000,
            ))
            pipeline(extra_exporters=[exporter], service_name=service_name, bsp_max_queue_size=25_000)
            during = steady_load(20_000, 2_500, (6_000, 5.0), proxy)
            records = read_topic(bootstrap, f"{service_name}.events", 20_000, timeout=90)
            numbers = Counter(json.loads(r.value)["data"]["n"] for r in records)
        finally:
            stop_process(broker, 10)
    assert set(numbers) == set(range(20_000))
    assert during > 0, "the outage covered some dispatches"


def _rss_kib() -> int:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_outage_longer_than_the_buffer_drops_an_exact_count_and_resumes(
    rabbitmq, service_name, pipeline, caplog
):
    queue = BoundQueue(service_name)
    with TcpProxy("127.0.0.1", 5672) as proxy:
        proxy.cut()
        # the AMQP exporter alone: a memory exporter would keep every event it is fast enough to take
        EventLogInstrumentor().instrument(exporters=[amqp_through(proxy)], service_name=service_name,
                                          bsp_max_queue_size=1_000, bsp_schedule_delay=20)
        rss_before = _rss_kib()
        sent = 50_000
        for number in range(sent):
            dispatch_event("tick", {"n": number})
        rss_growth_mib = (_rss_kib() - rss_before) / 1024
        [processor] = [p for p in EventLogInstrumentor().processors if isinstance(p.exporter, AmqpEventExporter)]
        assert len(processor._queue) <= 1_000
        proxy.restore()
        assert EventLogInstrumentor().force_flush(30_000)
        received = queue.read(sent - processor.dropped, timeout=60)
    assert processor.dropped + len(received) == sent, "every event is delivered or counted as dropped"
    assert processor.dropped >= sent - 1_000 - 512
    assert queue.rest(0.5) == []
    assert "dropped 1 event(s) (1 in all): its queue of 1000 was full" in caplog.text
    assert rss_growth_mib < 30, f"RSS grew {rss_growth_mib:.1f} MiB with a 1,000-event buffer"
    queue.close()


def test_broker_down_at_start_up_the_app_serves_and_events_follow(rabbitmq, service_name, pipeline):
    queue = BoundQueue(service_name)
    with TcpProxy("127.0.0.1", 5672) as proxy:
        proxy.cut()
        memory = pipeline(extra_exporters=[amqp_through(proxy)], service_name=service_name)
        for number in range(100):
            dispatch_event("early", {"n": number})
        wait_until(lambda: len(memory.events) == 100, 10, "the other exporter's 100 events, broker still down")
        proxy.restore()
        numbers = sorted(json.loads(m.body)["data"]["n"] for m in queue.read(100, timeout=30))
    assert numbers == list(range(100))
    queue.close()


def test_nacked_publishes_are_retried_and_none_is_doubled(rabbitmq, service_name, pipeline):
    small = BoundQueue(service_name, max_length=10)
    exporter = AmqpEventExporter(load_settings({}, amqp_uri=AMQP_URI))
    pipeline(extra_exporters=[exporter], service_name=service_name)
    for number in range(30):
        dispatch_event("tick", {"n": number})
    wait_until(lambda: exporter.nacks >= 20, 20, "the full queue to make the broker nack")
    received = [json.loads(message.body)["data"]["n"] for message in small.read(30, timeout=60)]
    small.close()
    assert sorted(received) == list(range(30)), "nacked events were published again until confirmed"


class Blackhole:
    """A TCP server that accepts connections and never answers: a hung broker."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]

    def close(self) -> None:
        self.listener.close()


def test_sigterm_with_a_hung_broker_exits_within_the_flush_bound(tmp_path):
    hung = Blackhole()
    program = (
        "import time\n"
        "from eventlog_instrument import dispatch_event\n"
        "for number in range(100):\n"
        "    dispatch_event('pending', {'n': number})\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTLOG_", "OTEL_"))}
    environ.update(
        EVENTLOG_EXPORTERS="amqp", EVENTLOG_AMQP_URI=f"amqp://guest:guest@127.0.0.1:{hung.port}//",
        EVENTLOG_SHUTDOWN_TIMEOUT="1000", EVENTLOG_BSP_SCHEDULE_DELAY="20",
        PATH=f"{BIN}{os.pathsep}{environ['PATH']}",
    )
    process = subprocess.Popen(
        [str(BIN / "eventlog-instrument"), "python", "-c", program], env=environ,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(10)
        took = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()
        hung.close()
    assert process.returncode == -signal.SIGTERM
    assert took < 1.0 + 1.0, f"exit took {took:.2f}s with a 1 s flush bound"


@pytest.mark.slow
def test_export_under_eventlet_does_not_stall_the_hub(nameko_services, rabbitmq):
    """The hub serves RPC calls while a 10,000-event backlog is being exported: the 50
    calls complete and the backlog is still there afterwards. How much slower the calls
    are meanwhile is a figure of ``benchmarks/eventlet_drops.py``, not an assertion."""
    service = f"flood_{uuid.uuid4().hex[:8]}"
    runner = nameko_services(
        ["flood"], SERVICE_NAME=service, EVENTLOG_EXPORTERS="amqp", EVENTLOG_AMQP_URI=AMQP_URI,
        EVENTLOG_BSP_MAX_QUEUE_SIZE="20000",
    )
    runner.wait_for_queues(f"rpc-{service}")

    from nameko.standalone.rpc import ClusterRpcProxy

    with ClusterRpcProxy({"AMQP_URI": AMQP_URI}, timeout=30) as proxy:
        target = proxy[service]
        assert target.flood(10_000) == 10_000
        assert [target.echo(number) for number in range(50)] == list(range(50))
        backlog = target.exporter_backlog()
    assert backlog > 0, "the export had finished before the calls were served"

