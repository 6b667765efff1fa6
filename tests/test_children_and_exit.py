"""Leaving a process: pool workers terminated by ``with Pool(...)``, and kafka-python's own
exit hook, against the real brokers."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys

from eventlog_instrument import dispatch_event
from eventlog_instrument.exporters.amqp import AmqpEventExporter
from eventlog_instrument.settings import load_settings
from tests.apps.sigterm_race import (
    count_sigterms_of_a_handler_installed_later,
    exit_code_of_a_child_that_missed_its_sigterm,
)
from tests.support.brokers import AMQP_URI, BoundQueue, start_tansu
from tests.support.paths import TESTS
from tests.support.tcpproxy import TcpProxy
from tests.support.waiting import free_port, port_open, stop_process, wait_until
from tests.test_launcher import LAUNCHER, launcher_env


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


def test_a_sigterm_the_blocked_main_thread_missed_still_flushes_and_kills(
    rabbitmq, service_name, pipeline
):
    queue = BoundQueue(service_name)
    pipeline(
        extra_exporters=[AmqpEventExporter(load_settings({}, amqp_uri=AMQP_URI))],
        service_name=service_name, bsp_schedule_delay=60_000,  # nothing sent before the exit
    )
    code = exit_code_of_a_child_that_missed_its_sigterm(30)
    assert code == -signal.SIGTERM, f"the child never ran its SIGTERM handler: exit code {code}"
    [message] = queue.read(1, timeout=30)
    assert json.loads(message.body)["data"] == {"n": 1}
    queue.close()


def test_a_handler_the_child_installs_later_is_never_knocked_for(pipeline):
    pipeline(bsp_schedule_delay=60_000)
    child = multiprocessing.get_context("fork").Process(
        target=count_sigterms_of_a_handler_installed_later
    )
    child.start()
    child.join(30)
    assert child.exitcode == 1, f"the application's handler ran {child.exitcode} times"


def test_a_launched_programs_child_that_missed_its_sigterm_still_flushes(rabbitmq, service_name):
    """The child inherits the start-up hook's SIGTERM handler, which gets the knock too."""
    queue = BoundQueue(service_name)
    result = subprocess.run(
        [LAUNCHER, sys.executable, str(TESTS / "apps" / "sigterm_race.py")],
        env=launcher_env(
            EVENTLOG_EXPORTERS="amqp", EVENTLOG_AMQP_URI=AMQP_URI,
            EVENTLOG_SERVICE_NAME=service_name, EVENTLOG_BSP_SCHEDULE_DELAY="60000",
        ),
        capture_output=True, text=True, timeout=90,
    )
    assert result.stdout == f"{-signal.SIGTERM}\n", result.stderr[-3000:]
    [message] = queue.read(1, timeout=30)
    assert json.loads(message.body)["data"] == {"n": 1}
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
