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

The other way round, :class:`SpanExporterAdapter` lets any OpenTelemetry
``SpanExporter`` serve the event pipeline: it queues and delivers the spans themselves,
so the pipeline has one mode, an :class:`EventExporter`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from eventlog_instrument.drops import INVALID, TOO_LARGE, DropLedger
from eventlog_instrument.envelope import Event, SpanRecord, build_event_for
from eventlog_instrument.realthreads import GilSlices
from eventlog_instrument.settings import Settings, load_settings

_logger = logging.getLogger("eventlog_instrument.processor")

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

    def record_of(self, span: ReadableSpan, attributes: dict[str, Any]) -> Any:
        """What the pipeline queues for ``span`` (whose ``attributes_of`` is
        ``attributes``): the part its event is built from."""
        return SpanRecord.of(span, attributes)

    def sendable(
        self, records: Iterable[Any], settings: Settings
    ) -> tuple[list[Any], list[tuple[str, str]]]:
        """The events of ``records`` that may be sent, and the reason and detail of each
        one that may not: it cannot be built (``invalid``), or its body is over
        ``EVENTLOG_MAX_EVENT_BYTES`` (``too_large``)."""
        events = []
        unsendable = []
        slices = GilSlices()
        limit = settings.max_event_bytes
        for record in records:
            slices.tick()
            try:
                event = build_event_for(record, settings)
            except Exception as error:
                unsendable.append((INVALID, f"building {record.name!r} raised {error!r}"))
                _logger.debug("could not build the event of %r", record.name, exc_info=True)
                continue
            if event is None:
                unsendable.append((INVALID, f"{record.name!r} stands for no event"))
            elif len(event.body) > limit:
                unsendable.append((TOO_LARGE, f"{len(event.body)} > {limit} bytes"))
            else:
                events.append(event)
        return events, unsendable

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


class SpanExporterAdapter(EventExporter):
    """Any OpenTelemetry ``SpanExporter`` in the event pipeline: what it delivers are
    the spans themselves, exported as a batch that succeeds or fails whole."""

    def __init__(self, exporter: SpanExporter, settings: Settings) -> None:
        super().__init__(settings)
        self.exporter = exporter

    def record_of(self, span: ReadableSpan, attributes: dict[str, Any]) -> Any:
        return span

    def sendable(
        self, records: Iterable[Any], settings: Settings
    ) -> tuple[list[Any], list[tuple[str, str]]]:
        return list(records), []

    def deliver(self, events: Sequence[Any], timeout: float) -> list[Any]:
        if self.exporter.export(events) is SpanExportResult.SUCCESS:
            self.last_error = ""
            return []
        self.last_error = "the exporter reported a failure"
        return list(events)

    def after_fork(self) -> None:
        after_fork = getattr(self.exporter, "after_fork", None)
        if after_fork is not None:
            after_fork()

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)


def as_event_exporter(exporter: SpanExporter, settings: Settings) -> EventExporter:
    """``exporter`` itself when it delivers events, else wrapped in an adapter."""
    if isinstance(exporter, EventExporter):
        return exporter
    return SpanExporterAdapter(exporter, settings)
