"""The base of the built-in exporters: a ``SpanExporter`` that delivers events.

Subclasses implement :meth:`EventExporter.deliver`, which returns the events it could
not deliver, so that the pipeline retries only those and nothing delivered is
published twice. :meth:`EventExporter.export` makes the same exporter work in any
OpenTelemetry pipeline (the SDK's batch processor, say).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from eventlog_instrument.envelope import Event, SpanRecord, build_event_for
from eventlog_instrument.settings import Settings, load_settings

FAILURE_LOG_INTERVAL = 10.0
"""Seconds between two warnings of an exporter that cannot reach its broker."""


class EventExporter(SpanExporter):
    """Publishes the event of every span that stands for one."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else load_settings()
        self._last_failure_log = 0.0

    def failure_log_due(self) -> bool:
        """Whether a failure warning may be logged now: at most one every 10 seconds."""
        now = time.monotonic()
        if now - self._last_failure_log < FAILURE_LOG_INTERVAL:
            return False
        self._last_failure_log = now
        return True

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
            event = build_event_for(SpanRecord.of(span), self.settings)
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
