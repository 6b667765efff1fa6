"""The processor's one mode: any SpanExporter through an adapter, explicit limits and
``from_settings``, and a batch that must fit in the queue."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from eventlog_instrument import EventLogInstrumentor
from eventlog_instrument.exporters.memory import InMemoryEventExporter
from eventlog_instrument.processor import EventLogSpanProcessor
from eventlog_instrument.settings import SettingsError, load_settings
from tests.test_processor import end_calls


class FlakySpanExporter(SpanExporter):
    """A plain OpenTelemetry exporter whose first export fails."""

    def __init__(self) -> None:
        self.exports: list[list[str]] = []
        self.shut_down = False

    def export(self, spans):
        self.exports.append([span.attributes["eventlog.call_id"] for span in spans])
        return SpanExportResult.FAILURE if len(self.exports) == 1 else SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.shut_down = True


def test_a_plain_span_exporter_gets_the_spans_and_a_failed_export_again():
    exporter = FlakySpanExporter()
    processor = EventLogSpanProcessor(exporter, load_settings({}), schedule_delay_millis=10)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    call_ids = end_calls(provider.get_tracer("tests"), 3)
    assert processor.force_flush(5000)
    assert exporter.exports == [call_ids, call_ids]
    processor.shutdown()
    assert exporter.shut_down
    assert (processor.name, processor.accepted, processor.exported, processor.dropped) == (
        "FlakySpanExporter", 3, 3, 0,
    )


def test_explicit_limits_win_over_the_settings():
    exporter = InMemoryEventExporter()
    processor = EventLogSpanProcessor(
        exporter, load_settings({}), max_queue_size=3, max_export_batch_size=3,
        schedule_delay_millis=600_000,
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    end_calls(provider.get_tracer("tests"), 5)
    assert processor.dropped_by_reason["queue_full"] == 2
    processor.shutdown()
    assert (processor.exported, len(exporter.events)) == (3, 3)


def test_from_settings_takes_the_bsp_settings():
    settings = load_settings(
        {}, bsp_max_queue_size=40, bsp_max_export_batch_size=4, bsp_schedule_delay=70,
        bsp_export_timeout=800, shutdown_timeout=900,
    )
    processor = EventLogSpanProcessor.from_settings(InMemoryEventExporter(), settings)
    assert (processor._max_queue_size, processor._batch_size, processor._schedule_delay,
            processor._export_timeout, processor.shutdown_timeout) == (40, 4, 0.07, 0.8, 0.9)


def test_a_batch_larger_than_the_queue_is_a_start_up_error():
    with pytest.raises(SettingsError) as raised:
        EventLogInstrumentor().instrument(
            exporters=[InMemoryEventExporter()], bsp_max_queue_size=100,
            bsp_max_export_batch_size=200,
        )
    assert str(raised.value) == (
        "EVENTLOG_BSP_MAX_EXPORT_BATCH_SIZE (200) is larger than EVENTLOG_BSP_MAX_QUEUE_SIZE "
        "(100): a batch must fit in the queue; lower the batch size or raise the queue size"
    )
    assert not EventLogInstrumentor().is_instrumented
