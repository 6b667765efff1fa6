"""The exporter end of a processor: spans become events, events go to the exporter.

An :class:`Outlet` builds the events of a batch (an event that cannot be built is
dropped as ``invalid``, one whose body is over ``EVENTLOG_MAX_EVENT_BYTES`` as
``too_large``, before any exporter sees it), hands them to the exporter, and sorts the
outcome: delivered, refused for good (counted under the exporter's reason), or to be
retried. Any OpenTelemetry ``SpanExporter`` works; only an
:class:`~eventlog_instrument.exporters.base.EventExporter` can refuse single events.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Iterable, Sequence
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from eventlog_instrument.drops import INVALID, TOO_LARGE, WARNING_INTERVAL, DropLedger
from eventlog_instrument.envelope import build_event_for
from eventlog_instrument.exporters.base import EventExporter, Refusal
from eventlog_instrument.masking import redact
from eventlog_instrument.realthreads import GilSlices
from eventlog_instrument.settings import Settings

_logger = logging.getLogger("eventlog_instrument.processor")


class Outlet:
    """Builds, size-checks and delivers batches through one exporter, counting drops."""

    def __init__(self, exporter: SpanExporter, settings: Settings, drops: DropLedger) -> None:
        self.exporter = exporter
        self.name = type(exporter).__name__
        self.builds_events = isinstance(exporter, EventExporter)
        self.drops = drops
        drops.refused_by = getattr(exporter, "refused_by", drops.refused_by)
        self.last_error = ""
        """Why the last delivery failed; empty once one succeeded."""
        self.attempted = False
        """Whether a delivery has finished, delivered or not."""
        self._settings = settings
        self._last_raised_log = -WARNING_INTERVAL

    def prepare(self, spans: Iterable[Any]) -> list[Any]:
        """The events of ``spans`` (SpanRecords), or the spans for a plain exporter; those
        that cannot be sent are counted as dropped."""
        events, unsendable = self.build(spans)
        self.count(unsendable)
        return events

    def build(self, spans: Iterable[Any]) -> tuple[list[Any], list[tuple[str, str]]]:
        """The events of ``spans``, and the reason and detail of each one that cannot be
        sent, not counted yet: shutdown may count the whole batch first."""
        if not self.builds_events:
            return list(spans), []
        events = []
        unsendable = []
        slices = GilSlices()
        limit = self._settings.max_event_bytes
        for span in spans:
            slices.tick()
            try:
                event = build_event_for(span, self._settings)
            except Exception as error:
                unsendable.append((INVALID, f"building {span.name!r} raised {error!r}"))
                _logger.debug("could not build the event of %r", span.name, exc_info=True)
                continue
            if event is None:
                unsendable.append((INVALID, f"{span.name!r} stands for no event"))
            elif len(event.body) > limit:
                unsendable.append((TOO_LARGE, f"{len(event.body)} > {limit} bytes"))
            else:
                events.append(event)
        return events, unsendable

    def count(self, unsendable: list[tuple[str, str]]) -> None:
        """Count the events :meth:`build` could not make sendable."""
        for reason, detail in unsendable:
            self.drops.drop(reason, detail=detail)

    @property
    def queue_full_detail(self) -> str:
        """Why events pile up, for a ``queue_full`` warning: empty when the broker takes
        events, only not as fast as they come."""
        if not self.attempted:
            return "no delivery has finished yet: still connecting, or waiting for the broker"
        return self.last_error

    def deliver(self, batch: Sequence[Any], timeout: float) -> tuple[list[Any], list[Refusal]]:
        """The events to retry, and those the exporter refused for good (not yet counted)."""
        try:
            return self._deliver(batch, timeout)
        finally:
            self.attempted = True

    def _deliver(self, batch: Sequence[Any], timeout: float) -> tuple[list[Any], list[Refusal]]:
        exporter = self.exporter
        try:
            if isinstance(exporter, EventExporter):
                undelivered = exporter.deliver(batch, timeout)
                self.last_error = (exporter.last_error or "not delivered") if undelivered else ""
                return undelivered, exporter.take_refusals()
            result = exporter.export(batch)
        except Exception as error:
            self._report_raised(error)
            refusals = exporter.take_refusals() if isinstance(exporter, EventExporter) else []
            refused = {id(refusal.event) for refusal in refusals}
            return [event for event in batch if id(event) not in refused], refusals
        if result is SpanExportResult.SUCCESS:
            self.last_error = ""
            return [], []
        self.last_error = "the exporter reported a failure"
        return list(batch), []

    def _report_raised(self, error: Exception) -> None:
        """One warning line per 10 s, credentials masked; the traceback at debug level."""
        self.last_error = f"{type(error).__name__}: {redact(str(error))}"
        now = time.monotonic()
        if now - self._last_raised_log < WARNING_INTERVAL:
            return
        self._last_raised_log = now
        _logger.warning(
            "eventlog_instrument: %s raised while publishing (%s); events are kept and retried",
            self.name, self.last_error,
        )
        _logger.debug("%s", redact("".join(traceback.format_exception(error))))

    def close(self, seconds: float) -> None:
        """Close the exporter, waiting at most ``seconds`` for what is in flight."""
        try:
            if isinstance(self.exporter, EventExporter):
                self.exporter.shutdown_within(max(0.0, seconds))
            else:
                self.exporter.shutdown()
        except Exception:
            _logger.exception("eventlog_instrument: %s failed to shut down", self.name)

    def after_fork(self, drops: DropLedger) -> None:
        self.drops = drops
        self.attempted = False
        drops.refused_by = getattr(self.exporter, "refused_by", drops.refused_by)
        self.last_error = ""
        after_fork = getattr(self.exporter, "after_fork", None)
        if after_fork is not None:
            after_fork()
