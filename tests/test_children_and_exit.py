"""Leaving a process: pool workers terminated by ``with Pool(...)``, and kafka-python's own
exit hook, against the real brokers."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys

from eventlog_instrument import dispatch_event
from eventlog_instrument.exporters.amqp import AmqpEventExporter
from eventlog_instrument.settings import load_settings
from tests.support.brokers import AMQP_URI, BoundQueue, start_tansu
from tests.support.paths import TESTS
from tests.support.tcpproxy import TcpProxy
from tests.support.waiting import free_port, port_open, stop_process, wait_until


def _dispatch_number(number: int) -> int:
    dispatch_event("child", {"n": number})
    return number


def test_workers_of_a_pool_left_by_with_flush_before_terminate_kills_them(rabbitmq, service_name, pipeline):
    queue = BoundQueue(service_name)
    pipeline(
        extra_exporters=[AmqpEventExporter(load_settings({}, amqp_uri=AMQP_URI))],
        service_name=service_name, bsp_schedule_delay=60_000,  # nothing sent before the exit
    )
    with multiprocessing.get_context("fork").Pool(4) as pool:  # __exit__ is terminate()
        assert sorted(pool.map(_dispatch_number, range(40))) == list(range(40))
    messages = queue.read(40, timeout=30)
    assert sorted(json.loads(m.body)["data"]["n"] for m in messages) == list(range(40))
    assert queue.rest(0.5) == [], "nothing is published twice"
    queue.close()


HUNG_KAFKA_AT_EXIT = """
import atexit, json, sys
from eventlog_instrument import EventLogInstrumentor, dispatch_event
def counts():  # registered before instrument(): runs after its flush
    [p] = EventLogInstrumentor._processors
    print(json.dumps([p.accepted, p.exported, p.dropped_by_reason]), flush=True)
atexit.register(counts)
EventLogInstrumentor().instrument()
for n in range(5):
    dispatch_event('warm', {'n': n})
assert EventLogInstrumentor().force_flush(20_000)
print('warm', flush=True)
sys.stdin.readline()  # the broker hangs now
for n in range(50):
    dispatch_event('pending', {'n': n})
# Bounded by its timeout: the records are in the producer, which cannot send them.
assert not EventLogInstrumentor().force_flush(500)
"""


def test_a_hung_kafka_at_exit_leaves_no_traceback_and_counts_every_event(service_name):
    port = free_port()
    proxy = TcpProxy("127.0.0.1", port)
    tansu = start_tansu(port, advertised_port=proxy.port)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTLOG_", "OTEL_"))}
    environ.update(
        EVENTLOG_EXPORTERS="kafka", EVENTLOG_KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{proxy.port}",
        EVENTLOG_SERVICE_NAME=service_name, EVENTLOG_SHUTDOWN_TIMEOUT="2000",
        EVENTLOG_BSP_SCHEDULE_DELAY="20",
    )
    try:
        wait_until(lambda: port_open("127.0.0.1", port), 10, "the Tansu broker to listen")
        process = subprocess.Popen(
            [sys.executable, "-c", HUNG_KAFKA_AT_EXIT], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ,
            cwd=TESTS.parent,
        )
        assert process.stdout.readline() == "warm\n"
        proxy.hang()
        stdout, stderr = process.communicate("go\n", timeout=60)
    finally:
        proxy.close()
        stop_process(tansu, 5)
    assert "Exception ignored" not in stderr and "Traceback" not in stderr
    accepted, exported, dropped = json.loads(stdout.splitlines()[-1])
    lost = {reason: count for reason, count in dropped.items() if count}
    assert (accepted, exported, lost) == (55, 5, {"shutdown": 50})
