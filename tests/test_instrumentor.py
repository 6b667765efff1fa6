"""EventLogInstrumentor: idempotent, reversible, adds to the application's provider."""

from __future__ import annotations

import os
import subprocess
import sys

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from eventlog_instrument import EventLogInstrumentor, dispatch_event
from eventlog_instrument.exporters.memory import InMemoryEventExporter
from eventlog_instrument.exporters.registry import available_exporters
from tests.support.entry_points import install_exporter
from tests.support.paths import TESTS


def test_instrument_twice_does_nothing_the_second_time(pipeline):
    memory = pipeline()
    processors = EventLogInstrumentor().processors
    EventLogInstrumentor().instrument(exporters=[InMemoryEventExporter()])
    assert EventLogInstrumentor().processors == processors
    dispatch_event("once")
    assert EventLogInstrumentor().force_flush(5000)
    assert [event["event_type"] for event in memory.events] == ["once"]


def test_instrument_uninstrument_instrument_exports_each_event_once():
    first = InMemoryEventExporter()
    EventLogInstrumentor().instrument(exporters=[first], bsp_schedule_delay=10)
    EventLogInstrumentor().uninstrument()
    assert not EventLogInstrumentor().is_instrumented
    dispatch_event("while_uninstrumented")

    second = InMemoryEventExporter()
    EventLogInstrumentor().instrument(exporters=[second], bsp_schedule_delay=10)
    try:
        dispatch_event("after_reinstrument")
        assert EventLogInstrumentor().force_flush(5000)
        assert [event["event_type"] for event in second.events] == ["after_reinstrument"]
        assert first.events == []
    finally:
        EventLogInstrumentor().uninstrument()


def test_processors_are_added_to_the_global_sdk_provider(pipeline):
    pipeline()
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    [fan_out] = [p for p in provider._active_span_processor._span_processors if hasattr(p, "processors")]
    assert fan_out.processors == tuple(EventLogInstrumentor().processors)


def test_builtin_exporters_are_registered_as_entry_points():
    assert available_exporters() == {
        "amqp": "eventlog_instrument.exporters.amqp:AmqpEventExporter",
        "console": "eventlog_instrument.exporters.console:ConsoleEventExporter",
        "kafka": "eventlog_instrument.exporters.kafka:KafkaEventExporter",
        "memory": "eventlog_instrument.exporters.memory:InMemoryEventExporter",
    }


def test_third_party_exporter_is_selected_by_its_entry_point_name(tmp_path):
    install_exporter(tmp_path, "pigeon", """
        import sys
        from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

        class PigeonExporter(SpanExporter):
            def export(self, spans):
                for span in spans:
                    print("pigeon carried", span.name, file=sys.stderr)
                return SpanExportResult.SUCCESS
    """)
    program = (
        "from eventlog_instrument import EventLogInstrumentor, dispatch_event\n"
        "EventLogInstrumentor().instrument()\n"
        "dispatch_event('hello')\n"
    )
    environ = {**os.environ, "PYTHONPATH": str(tmp_path), "EVENTLOG_EXPORTERS": "pigeon,console"}
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=30,
        env=environ, cwd=TESTS.parent, check=True,
    )
    assert "pigeon carried hello" in result.stderr
    assert '"event_type":"hello"' in result.stdout
