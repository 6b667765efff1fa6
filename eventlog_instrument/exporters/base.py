"""The base of the built-in exporters: a ``SpanExporter`` that delivers events.

Subclasses implement :meth:`EventExporter.deliver`, which returns the events it could
not deliver *for now* (a broker outage, a nack), so that the pipeline retries only
those and nothing delivered is published twice. An event the broker refuses for its
own sake (too large for it, a name it cannot route) must not hold back the others:
``deliver`` passes it to :meth:`EventExporter.refuse` with a reason of
:mod:`eventlog_instrument.drops` instead of returning it, and the pipeline counts it
as dropped. :meth:`EventExporter.export` makes the same exporter work in any
OpenTelemetry pipeline (the SDK's batch processor, say): there an event over
``EVENTLOG_MAX_EVENT_BYTES`` or refused is dropped and logged, and the export fails
only for events left undelivered.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from eventlog_instrument.drops import TOO_LARGE, DropLedger
from eventlog_instrument.envelope import Event, SpanRecord, build_event_for
from eventlog_instrument.settings import Settings, load_settings

FAILURE_LOG_INTERVAL = 10.0
"""Seconds between two warnings of an exporter that cannot reach its broker."""


class Refusal:
    """An event dropped by the exporter, why (a ``drops`` reason) and the broker's words."""

    __slots__ = ("detail", "event", "reason")

    def __init__(self, event: Event, reason: str, detail: str) -> None:
        self.event = event
        self.reason = reason
        self.detail = detail


class EventExporter(SpanExporter):
    """Publishes the event of every span that stands for one."""

    refused_by = "the broker"
    """Who refuses the events this exporter refuses, as the drop warning names it."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else load_settings()
        self._last_failure_log = 0.0
        self._refusals: list[Refusal] = []
        self.last_error = ""
        """Why the last delivery failed (secrets masked); empty after one succeeded."""
        self.export_drops = DropLedger(type(self).__name__, 0)
        """Events :meth:`export` dropped, by reason (the pipeline keeps its own counts)."""

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
        """Publish ``events`` within ``timeout`` seconds; return those to retry."""
        raise NotImplementedError

    def refuse(self, event: Event, reason: str, detail: str) -> None:
        """Drop ``event`` for good, for ``reason``: called by ``deliver`` instead of
        returning it."""
        self._refusals.append(Refusal(event, reason, detail))

    def take_refusals(self) -> list[Refusal]:
        """The events refused since the last call."""
        refusals, self._refusals = self._refusals, []
        return refusals

    def after_fork(self) -> None:
        """Forget connections inherited from the parent process; reconnect on next use."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        events = []
        for span in spans:
            event = build_event_for(SpanRecord.of(span), self.settings)
            if event is None:
                continue
            if len(event.body) > self.settings.max_event_bytes:
                self.refuse(event, TOO_LARGE, f"{len(event.body)} bytes")
            else:
                events.append(event)
        timeout = self.settings.bsp_export_timeout / 1000
        undelivered = self.deliver(events, timeout)
        for refusal in self.take_refusals():
            self.export_drops.drop(refusal.reason, detail=refusal.detail)
        return SpanExportResult.FAILURE if undelivered else SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def shutdown_within(self, seconds: float) -> None:
        """Close connections, waiting at most ``seconds`` for what is in flight."""
        self.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
