"""The exporter end of a processor: spans become events, events go to the exporter.

An :class:`Outlet` has its exporter build the events of a batch (an event that cannot
be built is dropped as ``invalid``, one whose body is over ``EVENTLOG_MAX_EVENT_BYTES``
as ``too_large``, before any delivery), hands them to it, and sorts the outcome:
delivered, refused for good (counted under the exporter's reason), or to be retried.
Its exporter is an :class:`~eventlog_instrument.exporters.base.EventExporter`; a plain
OpenTelemetry ``SpanExporter`` comes wrapped in a
:class:`~eventlog_instrument.exporters.base.SpanExporterAdapter`, whose events are the
spans and which cannot refuse single ones.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Iterable, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from eventlog_instrument.drops import WARNING_INTERVAL, DropLedger
from eventlog_instrument.exporters.base import EventExporter, Refusal
from eventlog_instrument.masking import redact
from eventlog_instrument.settings import Settings

_logger = logging.getLogger("eventlog_instrument.processor")


class Outlet:
    """Builds, size-checks and delivers batches through one exporter, counting drops."""

    def __init__(
        self, exporter: EventExporter, settings: Settings, drops: DropLedger, name: str
    ) -> None:
        self.exporter = exporter
        self.name = name
        self.drops = drops
        drops.refused_by = exporter.refused_by
        self.last_error = ""
        """Why the last delivery failed; empty once one succeeded."""
        self.attempted = False
        """Whether a delivery has finished, delivered or not."""
        self._settings = settings
        self._last_raised_log = -WARNING_INTERVAL

    def record(self, span: ReadableSpan, attributes: dict[str, Any]) -> Any:
        """What is queued for ``span``, whose ``attributes_of`` is ``attributes``."""
        return self.exporter.record_of(span, attributes)

    def prepare(self, records: Iterable[Any]) -> list[Any]:
        """The events of ``records`` that may be sent; the others are counted as dropped."""
        events, unsendable = self.build(records)
        self.count(unsendable)
        return events

    def build(self, records: Iterable[Any]) -> tuple[list[Any], list[tuple[str, str]]]:
        """The events of ``records``, and the reason and detail of each one that cannot be
        sent, not counted yet: shutdown may count the whole batch first."""
        return self.exporter.sendable(records, self._settings)

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
        exporter = self.exporter
        try:
            undelivered = exporter.deliver(batch, timeout)
        except Exception as error:
            self._report_raised(error)
            refusals = exporter.take_refusals()
            refused = {id(refusal.event) for refusal in refusals}
            return [event for event in batch if id(event) not in refused], refusals
        finally:
            self.attempted = True
        self.last_error = (exporter.last_error or "not delivered") if undelivered else ""
        return undelivered, exporter.take_refusals()

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
            self.exporter.shutdown_within(max(0.0, seconds))
        except Exception:
            _logger.exception("eventlog_instrument: %s failed to shut down", self.name)

    def after_fork(self, drops: DropLedger) -> None:
        self.drops = drops
        self.attempted = False
        drops.refused_by = self.exporter.refused_by
        self.last_error = ""
        self.exporter.after_fork()
