"""The export pipeline: bounded queue, counted drops, retries, flush, shutdown, fork, exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from opentelemetry import context, trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

from eventlog_instrument import EventLogInstrumentor, dispatch_event
from eventlog_instrument.calls import new_call
from eventlog_instrument.envelope import Event
from eventlog_instrument.exporters.base import EventExporter
from eventlog_instrument.processor import EventLogSpanProcessor
from eventlog_instrument.settings import load_settings
from tests.support.paths import TESTS
from tests.support.waiting import wait_until


class ScriptedExporter(EventExporter):
    """Fails or blocks as told; records what it delivered and what it was offered."""

    def __init__(self, fail_times: int = 0, deliver_only: int | None = None) -> None:
        super().__init__(load_settings({}))
        self.fail_times = fail_times
        self.deliver_only = deliver_only
        self.delivered: list[Event] = []
        self.attempts = 0
        self.release = threading.Event()
        self.release.set()
        self.suppressed: list[bool] = []

    def deliver(self, events: Sequence[Event], timeout: float) -> list[Event]:
        self.attempts += 1
        self.suppressed.append(bool(context.get_value(_SUPPRESS_INSTRUMENTATION_KEY)))
        self.release.wait()
        if self.fail_times:
            self.fail_times -= 1
            taken = list(events[: self.deliver_only or 0])
            self.delivered.extend(taken)
            return list(events[len(taken) :])
        self.delivered.extend(events)
        return []


def processor_for(exporter: EventExporter, **options) -> tuple[EventLogSpanProcessor, trace.Tracer]:
    options.setdefault("bsp_schedule_delay", 10)
    processor = EventLogSpanProcessor(exporter, load_settings({}, **options))
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return processor, provider.get_tracer("tests")


def end_calls(tracer: trace.Tracer, count: int) -> list[str]:
    call_ids = []
    for _ in range(count):
        call = new_call("svc", "Rpc", "m")
        tracer.start_span("m", kind=SpanKind.SERVER, attributes=call.attributes()).end()
        call_ids.append(call.call_id)
    return call_ids


def test_full_queue_drops_are_counted_and_reported(caplog):
    exporter = ScriptedExporter()
    exporter.release.clear()
    processor, tracer = processor_for(exporter, bsp_max_queue_size=10, bsp_max_export_batch_size=5)
    end_calls(tracer, 1)
    wait_until(lambda: exporter.attempts, 5, "the worker to take the first batch")
    end_calls(tracer, 25)
    assert processor.dropped == 15
    exporter.release.set()
    assert processor.force_flush(5000)
    assert len(exporter.delivered) == 11 and processor.exported == 11
    assert "dropped 1 event(s) (1 in all): its queue of 10 was full" in caplog.text
    assert caplog.text.count("dropped") == 1, "the warning is rate-limited"
    processor.shutdown()
    assert "dropped 14 event(s) (15 in all)" in caplog.text, "shutdown reports the rest"


def test_failed_delivery_is_retried_without_duplicates_or_reordering():
    exporter = ScriptedExporter(fail_times=3, deliver_only=2)
    processor, tracer = processor_for(exporter, bsp_max_export_batch_size=50)
    call_ids = end_calls(tracer, 20)
    assert processor.force_flush(10_000)
    assert [event.call_id for event in exporter.delivered] == call_ids
    assert exporter.attempts >= 4 and processor.dropped == 0
    processor.shutdown()


def test_force_flush_delivers_everything_ended_before_it():
    exporter = ScriptedExporter()
    processor, tracer = processor_for(exporter, bsp_schedule_delay=60_000)
    end_calls(tracer, 3)
    assert processor.force_flush(5000)
    assert len(exporter.delivered) == 3
    processor.shutdown()


def test_shutdown_with_a_hung_broker_returns_within_its_bound(caplog):
    exporter = ScriptedExporter()
    exporter.release.clear()
    processor, tracer = processor_for(exporter, shutdown_timeout=300)
    end_calls(tracer, 5)
    wait_until(lambda: exporter.attempts, 5, "the worker to start publishing")
    started = time.monotonic()
    processor.shutdown()
    assert time.monotonic() - started < 0.3 + 0.1 + 0.1
    assert "did not finish flushing within 0.3s" in caplog.text
    exporter.release.set()


def test_shutdown_counts_what_it_could_not_deliver(caplog):
    exporter = ScriptedExporter(fail_times=10**6)
    processor, tracer = processor_for(exporter, shutdown_timeout=200)
    end_calls(tracer, 4)
    wait_until(lambda: exporter.attempts, 5, "a first attempt")
    processor.shutdown()
    assert processor.dropped == 4 and exporter.delivered == []
    assert "dropped 4 event(s) (4 in all)" in caplog.text


def test_the_worker_publishes_with_instrumentation_suppressed():
    exporter = ScriptedExporter()
    processor, tracer = processor_for(exporter)
    end_calls(tracer, 1)
    assert processor.force_flush(5000)
    assert exporter.suppressed == [True]
    processor.shutdown()


def test_spans_that_are_not_events_never_enter_the_queue():
    exporter = ScriptedExporter()
    processor, tracer = processor_for(exporter, bsp_max_queue_size=1, bsp_max_export_batch_size=1)
    for _ in range(5):
        tracer.start_span("internal work").end()
    end_calls(tracer, 1)
    assert processor.force_flush(5000)
    assert processor.dropped == 0 and len(exporter.delivered) == 1
    processor.shutdown()


def test_forked_child_publishes_its_own_events_and_not_the_parents(pipeline):
    memory = pipeline(bsp_schedule_delay=60_000)
    dispatch_event("before_fork")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            dispatch_event("in_child")
            EventLogInstrumentor().force_flush(5000)
            os.write(write_end, json.dumps([e["event_type"] for e in memory.events]).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        child_events = json.loads(pipe.read())
    os.waitpid(pid, 0)
    assert child_events == ["in_child"]
    assert EventLogInstrumentor().force_flush(5000)
    assert [e["event_type"] for e in memory.events] == ["before_fork"]


def test_pending_events_are_flushed_at_interpreter_exit_with_no_configuration():
    program = (
        "from eventlog_instrument import EventLogInstrumentor, dispatch_event\n"
        "EventLogInstrumentor().instrument()\n"
        "for n in range(3):\n"
        "    dispatch_event('exit_test', {'n': n})\n"
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTLOG_", "OTEL_"))}
    environ["EVENTLOG_BSP_SCHEDULE_DELAY"] = "60000"
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=30,
        env=environ, cwd=TESTS.parent, check=True,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["data"] for line in lines] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert {line["service_name"] for line in lines} == {"unknown_service"}
