"""The base of the built-in exporters: a ``SpanExporter`` that delivers events.

Subclasses implement :meth:`EventExporter.deliver`, which returns the events it could
not deliver, so that the pipeline retries only those and nothing delivered is
published twice. :meth:`EventExporter.export` makes the same exporter work in any
OpenTelemetry pipeline (the SDK's batch processor, say).
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from eventlog_instrument.envelope import Event, SpanRecord, build_event
from eventlog_instrument.settings import Settings, load_settings


class EventExporter(SpanExporter):
    """Publishes the event of every span that stands for one."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else load_settings()

    @classmethod
    def from_settings(cls, settings: Settings) -> EventExporter:
        return cls(settings)

    def deliver(self, events: Sequence[Event], timeout: float) -> list[Event]:
        """Publish ``events`` within ``timeout`` seconds; return those not delivered."""
        raise NotImplementedError

    def after_fork(self) -> None:
        """Forget connections inherited from the parent process; reconnect on next use."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        events = []
        for span in spans:
            event = build_event(
                SpanRecord.of(span),
                precision=self.settings.timestamp_precision,
                default_service_name=self.settings.service_name,
                max_value_length=self.settings.max_value_length,
            )
            if event is not None:
                events.append(event)
        timeout = self.settings.bsp_export_timeout / 1000
        if self.deliver(events, timeout):
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
