"""The fault matrix of issue 12 against the real brokers: poison events, refused publishes,
hung brokers at exit, events raised on the export thread or after the flush, forked and
spawned children. Each asserts that every accepted event ended exported or dropped under
a named reason: ``exported + sum(dropped_by_reason) == accepted``, exactly."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from eventlog_instrument import EventLogInstrumentor, constants, dispatch_event
from eventlog_instrument.calls import new_call
from eventlog_instrument.envelope import Event
from eventlog_instrument.exporters.amqp import AmqpEventExporter
from eventlog_instrument.exporters.kafka import KafkaEventExporter
from eventlog_instrument.exporters.memory import InMemoryEventExporter
from eventlog_instrument.settings import load_settings
from tests.support.brokers import AMQP_URI, BoundQueue
from tests.support.paths import TESTS
from tests.support.waiting import wait_until
from tests.test_kafka_exporter import kafka_exporter, read_topic
from tests.test_reliability import Blackhole

BIN = Path(sys.executable).parent
RABBITMQ_MAX_MESSAGE_SIZE = 134_217_728
"""This machine's RabbitMQ ``max_message_size`` (rabbitmqctl environment), the default."""


def only_processor(exporter_type: type) -> object:
    [processor] = [p for p in EventLogInstrumentor().processors if isinstance(p.exporter, exporter_type)]
    return processor


def assert_accounted(processor, exported: int, **dropped: int) -> None:
    reasons = {reason: count for reason, count in processor.dropped_by_reason.items() if count}
    assert (processor.exported, reasons) == (exported, dropped)
    assert processor.exported + sum(processor.dropped_by_reason.values()) == processor.accepted


def clean_environ(**settings: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTLOG_", "OTEL_"))}
    environ.update(settings, PATH=f"{BIN}{os.pathsep}{environ['PATH']}")
    return environ


def numbers_of(messages: Sequence) -> list[int]:
    return sorted(json.loads(message.body)["data"]["n"] for message in messages)


# --- poison events: dropped alone, the rest neither held back nor doubled -------------


def test_kafka_event_over_max_request_size_is_refused_alone(tansu, service_name, pipeline, caplog):
    pipeline(
        extra_exporters=[kafka_exporter(tansu)], service_name=service_name,
        max_event_bytes=2_000_000,
    )
    for number in range(5):
        dispatch_event("tick", {"n": number})
    dispatch_event("poison", {"blob": "p" * 1_200_000})
    for number in range(5, 25):
        dispatch_event("tick", {"n": number})
    assert EventLogInstrumentor().force_flush(20_000)
    records = read_topic(tansu, f"{service_name}.events", 25)
    assert sorted(json.loads(r.value)["data"]["n"] for r in records) == list(range(25))
    assert_accounted(only_processor(KafkaEventExporter), 25, refused=1)
    assert caplog.text.count("dropped 1 event(s) (1 in all): the broker refused them (MessageSizeTooLargeError") == 1


def test_amqp_exchange_name_over_255_bytes_is_invalid_and_the_rest_arrive(rabbitmq, service_name, pipeline):
    queue = BoundQueue(service_name)
    pipeline(extra_exporters=[AmqpEventExporter(load_settings({}, amqp_uri=AMQP_URI))], service_name=service_name)
    tracer = trace.get_tracer("tests")
    for number in range(20):
        if number == 10:
            call = new_call("s" * 300, "Rpc", "m")
            tracer.start_span("m", kind=SpanKind.SERVER, attributes=call.attributes()).end()
        dispatch_event("tick", {"n": number})
    assert EventLogInstrumentor().force_flush(20_000)
    assert numbers_of(queue.read(20, timeout=20)) == list(range(20))
    assert queue.rest(0.5) == [], "nothing is published twice"
    assert_accounted(only_processor(AmqpEventExporter), 20, invalid=1)
    queue.close()


def test_amqp_message_over_the_brokers_max_size_is_refused_alone(rabbitmq, service_name, pipeline, caplog):
    queue = BoundQueue(service_name)
    exporter = AmqpEventExporter(load_settings({}, amqp_uri=AMQP_URI, amqp_timeout=30))
    pipeline(
        extra_exporters=[exporter], service_name=service_name, max_event_bytes=200_000_000,
        bsp_export_timeout=60_000,
    )
    for number in range(10):
        dispatch_event("tick", {"n": number})
    dispatch_event("poison", {"blob": "p" * RABBITMQ_MAX_MESSAGE_SIZE})
    for number in range(10, 20):
        dispatch_event("tick", {"n": number})
    assert EventLogInstrumentor().force_flush(60_000)
    assert numbers_of(queue.read(20, timeout=20)) == list(range(20))
    assert queue.rest(0.5) == [], "nothing is published twice"
    assert exporter.broker_max_size == RABBITMQ_MAX_MESSAGE_SIZE
    assert_accounted(only_processor(AmqpEventExporter), 20, refused=1)
    assert caplog.text.count("dropped 1 event(s) (1 in all): the broker refused them") == 1
    queue.close()


def test_event_over_max_event_bytes_is_dropped_before_the_exporter(pipeline, caplog):
    memory = pipeline(max_event_bytes=10_000)
    dispatch_event("small")
    # Past the call-site check: a span built by hand, as a foreign instrumentation might.
    attributes = new_call("svc", "Standalone", "big").attributes()
    attributes[constants.ATTR_EVENT_TYPE] = "big"
    attributes[constants.ATTR_EVENT_DATA] = json.dumps({"blob": "b" * 20_000})
    trace.get_tracer("tests").start_span("big", attributes=attributes).end()
    assert EventLogInstrumentor().force_flush(5000)
    assert [event["event_type"] for event in memory.events] == ["small"]
    assert_accounted(only_processor(InMemoryEventExporter), 1, too_large=1)
    assert "over EVENTLOG_MAX_EVENT_BYTES" in caplog.text


# --- events raised where the pipeline used to discard them ----------------------------


class DispatchingExporter(InMemoryEventExporter):
    """Dispatches an event from inside its first delivery, on the export thread, as a
    ``__del__`` the garbage collector runs there does."""

    def deliver(self, events: Sequence[Event], timeout: float) -> list[Event]:
        if not self.events and events:
            dispatch_event("from_the_export_thread")
        return super().deliver(events, timeout)


def test_event_dispatched_on_the_export_thread_is_delivered(pipeline):
    exporter = DispatchingExporter()
    pipeline(extra_exporters=[exporter])
    dispatch_event("first")
    wait_until(lambda: len(exporter.events) == 2, 5, "the event raised on the export thread")
    assert [event["event_type"] for event in exporter.events] == ["first", "from_the_export_thread"]
    processor = next(p for p in EventLogInstrumentor().processors if p.exporter is exporter)
    assert_accounted(processor, 2)


def test_event_from_an_atexit_handler_registered_before_instrument_is_delivered(rabbitmq, service_name):
    queue = BoundQueue(service_name)
    program = (
        "import atexit, json, sys\n"
        "from eventlog_instrument import EventLogInstrumentor, dispatch_event\n"
        "def counts():\n"
        "    [p] = EventLogInstrumentor._processors\n"
        "    print(json.dumps([p.accepted, p.exported, p.dropped_by_reason]), flush=True)\n"
        "atexit.register(counts)\n"
        "atexit.register(lambda: [dispatch_event('late', {'n': n}) for n in range(3, 6)])\n"
        "EventLogInstrumentor().instrument()\n"
        "for n in range(3):\n"
        "    dispatch_event('early', {'n': n})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True,
        env=clean_environ(EVENTLOG_EXPORTERS="amqp", EVENTLOG_AMQP_URI=AMQP_URI, EVENTLOG_SERVICE_NAME=service_name),
        cwd=TESTS.parent,
    )
    assert numbers_of(queue.read(6, timeout=20)) == list(range(6))
    accepted, exported, dropped = json.loads(result.stdout.splitlines()[-1])
    assert (accepted, exported, sum(dropped.values())) == (6, 6, 0)
    queue.close()


# --- shutdown: one deadline for all exporters, the abandoned counted -----------------


def test_two_hung_brokers_at_exit_share_one_bound_and_the_abandoned_are_counted(tmp_path):
    hung = [Blackhole(), Blackhole()]
    program = (
        "import atexit, json, sys\n"
        "from eventlog_instrument import EventLogInstrumentor, dispatch_event\n"
        "from eventlog_instrument.exporters.amqp import AmqpEventExporter\n"
        "from eventlog_instrument.settings import load_settings\n"
        "atexit.register(lambda: print(json.dumps([[p.accepted, p.exported, p.dropped_by_reason]\n"
        "    for p in EventLogInstrumentor._processors]), flush=True))\n"
        f"uris = {[f'amqp://guest:guest@127.0.0.1:{h.port}//' for h in hung]!r}\n"
        "EventLogInstrumentor().instrument(exporters=[\n"
        "    AmqpEventExporter(load_settings(amqp_uri=uri)) for uri in uris])\n"
        "for n in range(50):\n"
        "    dispatch_event('pending', {'n': n})\n"
        "print('ready', flush=True)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", program], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=clean_environ(EVENTLOG_SHUTDOWN_TIMEOUT="2000", EVENTLOG_BSP_SCHEDULE_DELAY="20"),
        cwd=TESTS.parent,
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        ready = time.monotonic()
        stdout, stderr = process.communicate(timeout=30)
        took = time.monotonic() - ready
    finally:
        if process.poll() is None:
            process.kill()
        for blackhole in hung:
            blackhole.close()
    assert process.returncode == 0, stderr
    assert took < 2.0 + 1.5, f"exit took {took:.2f}s with a 2 s bound for both exporters"
    counts = json.loads(stdout.splitlines()[-1])
    assert [(accepted, exported, dropped["shutdown"]) for accepted, exported, dropped in counts] == [(50, 0, 50)] * 2
    assert stderr.count("dropped 50 event(s) (50 in all): still undelivered when EVENTLOG_SHUTDOWN_TIMEOUT ran out") == 2


# --- children of multiprocessing ------------------------------------------------------


def _dispatch_in_child(numbers: Sequence[int], counts_folder: str) -> None:
    from multiprocessing import util

    def write_counts() -> None:  # runs after the pipeline's own flush (priority -100)
        [processor] = [p for p in EventLogInstrumentor().processors if isinstance(p.exporter, AmqpEventExporter)]
        counts = [processor.accepted, processor.exported, processor.dropped_by_reason]
        Path(counts_folder, f"{os.getpid()}.json").write_text(json.dumps(counts))

    util.Finalize(None, write_counts, exitpriority=-200)
    for number in numbers:
        dispatch_event("child", {"n": number})


def _dispatch_one(number_and_folder: tuple[int, str]) -> int:
    number, folder = number_and_folder
    _dispatch_in_child([number], folder)
    return number


def test_fork_children_of_multiprocessing_flush_before_they_exit(rabbitmq, service_name, pipeline, tmp_path):
    queue = BoundQueue(service_name)
    pipeline(
        extra_exporters=[AmqpEventExporter(load_settings({}, amqp_uri=AMQP_URI))],
        service_name=service_name, bsp_schedule_delay=60_000,
    )
    fork = multiprocessing.get_context("fork")
    processes = [fork.Process(target=_dispatch_in_child, args=(range(k * 20, k * 20 + 20), str(tmp_path))) for k in (0, 1)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(30)
    pool = fork.Pool(2)
    assert sorted(pool.map(_dispatch_one, [(n, str(tmp_path)) for n in range(40, 60)])) == list(range(40, 60))
    pool.close()
    pool.join()
    assert numbers_of(queue.read(60, timeout=30)) == list(range(60))
    assert queue.rest(0.5) == []
    counts = [json.loads(path.read_text()) for path in tmp_path.glob("*.json")]
    assert len(counts) >= 3, "two processes and the pool workers that took tasks"
    assert sum(accepted for accepted, _, _ in counts) == 60
    assert all(exported == accepted and not any(dropped.values()) for accepted, exported, dropped in counts)
    queue.close()


def test_spawn_children_under_the_launcher_flush_at_exit(rabbitmq, service_name, tmp_path):
    queue = BoundQueue(service_name)
    program = (
        "import multiprocessing\n"
        "from eventlog_instrument import dispatch_event\n"
        "def child(first):\n"
        "    for n in range(first, first + 20):\n"
        "        dispatch_event('child', {'n': n})\n"
        "if __name__ == '__main__':\n"
        "    spawn = multiprocessing.get_context('spawn')\n"
        "    children = [spawn.Process(target=child, args=(k,)) for k in (0, 20)]\n"
        "    [c.start() for c in children]\n"
        "    [c.join() for c in children]\n"
        "    with spawn.Pool(2) as pool:\n"
        "        pool.map(child, [40])\n"
        "        pool.close()\n"
        "        pool.join()\n"
    )
    (tmp_path / "spawner.py").write_text(program)
    subprocess.run(
        [str(BIN / "eventlog-instrument"), "python", "spawner.py"], timeout=90, check=True,
        env=clean_environ(EVENTLOG_EXPORTERS="amqp", EVENTLOG_AMQP_URI=AMQP_URI, EVENTLOG_SERVICE_NAME=service_name),
        cwd=tmp_path, capture_output=True,
    )
    assert numbers_of(queue.read(60, timeout=30)) == list(range(60))
    assert queue.rest(0.5) == []
    queue.close()


# --- leaks, repeated instrument(), noise ----------------------------------------------


def test_uninstrument_leaves_the_provider_as_one_instrument_found_it():
    EventLogInstrumentor().instrument(exporters=[InMemoryEventExporter()])
    provider = trace.get_tracer_provider()
    after_one = list(provider._active_span_processor._span_processors)
    EventLogInstrumentor().uninstrument()
    for _ in range(200):
        EventLogInstrumentor().instrument(exporters=[InMemoryEventExporter()])
        EventLogInstrumentor().uninstrument()
    EventLogInstrumentor().instrument(exporters=[InMemoryEventExporter()])
    try:
        assert list(provider._active_span_processor._span_processors) == after_one
    finally:
        EventLogInstrumentor().uninstrument()


def test_a_second_instrument_with_other_options_warns_once(pipeline, caplog):
    pipeline(service_name="first")
    with caplog.at_level(logging.WARNING):
        EventLogInstrumentor().instrument(service_name="second", amqp_uri="amqp://u:secret@h//")
        EventLogInstrumentor().instrument()
    assert caplog.text.count("ignored the options amqp_uri, bsp_schedule_delay, exporters, service_name") == 1
    assert "secret" not in caplog.text


def test_console_with_a_closed_stdout_drops_at_once_and_logs_once():
    program = (
        "import sys\n"
        "from eventlog_instrument import EventLogInstrumentor, dispatch_event\n"
        "EventLogInstrumentor().instrument()\n"
        "for n in range(20):\n"
        "    dispatch_event('tick', {'n': n})\n"
        "sys.stdout.close()\n"
        "assert EventLogInstrumentor().force_flush(5000)\n"
        "[p] = EventLogInstrumentor().processors\n"
        "print(p.accepted, p.exported, p.dropped_by_reason['refused'], file=sys.stderr)\n"
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=30,
        env=clean_environ(EVENTLOG_BSP_SCHEDULE_DELAY="60000"), cwd=TESTS.parent,
    )
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1] == "20 0 20"
    assert result.stderr.count("the output refused them (standard output") == 1
    assert "Traceback" not in result.stderr
    assert took < 5.0, f"exit took {took:.1f}s"
