"""Pipelines whose exporters drop what they get, so benchmarks time the instrumentation
and the export thread's work, not a broker."""

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from eventlog_instrument.exporters.base import EventExporter


class DiscardSpans(SpanExporter):
    def export(self, spans):
        return SpanExportResult.SUCCESS


class DiscardEvents(EventExporter):
    """Our exporter's contract, delivering nowhere: every envelope is still built."""

    def deliver(self, events, timeout):
        return []


def install_official_pipeline():
    """An SDK TracerProvider with the SDK's BatchSpanProcessor, as users of the official
    instrumentors set it up."""
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DiscardSpans()))
    trace.set_tracer_provider(provider)
