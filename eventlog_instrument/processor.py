"""The export pipeline: a span processor that publishes events off the application's threads.

Why not the SDK's ``BatchSpanProcessor``: an event log must not lose what a broker
outage delays, so a batch the exporter could not deliver is kept and retried (only
its undelivered events) while the bounded queue takes new ones. Every event a
processor accepts (:attr:`~EventLogSpanProcessor.accepted`) ends exported
(:attr:`~EventLogSpanProcessor.exported`) or dropped under one named reason
(:attr:`~EventLogSpanProcessor.dropped_by_reason`, see :mod:`eventlog_instrument.drops`):
a full queue, a broker refusing that one event (never retried, never holding back the
others), a body over ``EVENTLOG_MAX_EVENT_BYTES`` (checked before the exporter sees it),
shutdown's time running out, or an event that cannot be built. The worker's half lives
in :mod:`eventlog_instrument.export_worker`.

The processor has one mode: it delivers through an
:class:`~eventlog_instrument.exporters.base.EventExporter`. Any other OpenTelemetry
``SpanExporter`` is wrapped in a
:class:`~eventlog_instrument.exporters.base.SpanExporterAdapter`, which queues and
exports the spans themselves. Its limits are parameters, as the SDK's
``BatchSpanProcessor``'s are; :meth:`EventLogSpanProcessor.from_settings` takes them from
the ``EVENTLOG_BSP_*`` settings. A batch larger than the queue is a start-up
``SettingsError``.

Under eventlet the worker is a real OS thread, so a busy hub cannot starve it (SPEC §8),
whether ``instrument()`` ran before or after the monkey patching (see
:mod:`eventlog_instrument.realthreads`). While the worker publishes, instrumentation is
suppressed, so the exporter's own broker traffic never becomes spans; an event
dispatched on the worker thread (from a ``__del__`` the garbage collector runs there)
is queued like any other.

Shutdown is bounded by ``EVENTLOG_SHUTDOWN_TIMEOUT``, one deadline shared by all
processors, and happens at exit in forked children too (see
:mod:`eventlog_instrument.lifecycle`); what is undelivered at the deadline is counted as
``shutdown``. An event that ends after the flush (from an ``atexit`` handler registered
before ``instrument()``, which runs later) is delivered at once on its own thread within
what is left of that deadline.
"""

from __future__ import annotations

import logging
import time
from typing import TypeVar

from opentelemetry import context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.trace import SpanKind

from eventlog_instrument import constants as c
from eventlog_instrument import lifecycle
from eventlog_instrument.calls import link_to_call
from eventlog_instrument.drops import QUEUE_FULL
from eventlog_instrument.envelope import attributes_of
from eventlog_instrument.export_worker import ExportWorker
from eventlog_instrument.exporters.base import as_event_exporter
from eventlog_instrument.outlet import Outlet
from eventlog_instrument.realthreads import RealEvent, start_thread
from eventlog_instrument.settings import Settings, SettingsError, load_settings

_logger = logging.getLogger(__name__)
_ENTRYPOINT_KINDS = (SpanKind.SERVER, SpanKind.CONSUMER)
_SHUTDOWN_GRACE = 0.1
_Number = TypeVar("_Number", int, float)
"""Time a worker gets past the deadline to count and report what it could not send."""


class EventLogSpanProcessor(ExportWorker, SpanProcessor):
    """Batches finished spans to one exporter on a worker thread, retrying what fails.

    Like the SDK's ``BatchSpanProcessor``, it takes its limits as parameters; a limit
    not given is the setting's (``settings``, else the environment). Raises
    ``SettingsError`` when a batch could not fit in the queue.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        settings: Settings | None = None,
        *,
        max_queue_size: int | None = None,
        max_export_batch_size: int | None = None,
        schedule_delay_millis: float | None = None,
        export_timeout_millis: float | None = None,
        shutdown_timeout_millis: float | None = None,
    ) -> None:
        settings = settings if settings is not None else load_settings()
        self._max_queue_size = _given(max_queue_size, settings.bsp_max_queue_size)
        self._batch_size = _given(max_export_batch_size, settings.bsp_max_export_batch_size)
        if self._batch_size > self._max_queue_size:
            raise SettingsError(
                f"EVENTLOG_BSP_MAX_EXPORT_BATCH_SIZE ({self._batch_size}) is larger than "
                f"EVENTLOG_BSP_MAX_QUEUE_SIZE ({self._max_queue_size}): a batch must fit in "
                "the queue; lower the batch size or raise the queue size"
            )
        self._schedule_delay = _given(schedule_delay_millis, settings.bsp_schedule_delay) / 1000
        self._export_timeout = _given(export_timeout_millis, settings.bsp_export_timeout) / 1000
        self._shutdown_timeout = _given(shutdown_timeout_millis, settings.shutdown_timeout) / 1000
        self.exporter = exporter
        self.name = type(exporter).__name__
        self._shut_down = False
        self._reset_state()
        event_exporter = as_event_exporter(exporter, settings)
        self._outlet = Outlet(event_exporter, settings, self._drops, self.name)
        self._record_of = event_exporter.record_of
        """The outlet's ``record``, bound once: it runs on the application's thread."""
        lifecycle.register(self)

    @classmethod
    def from_settings(cls, exporter: SpanExporter, settings: Settings) -> EventLogSpanProcessor:
        """A processor for ``exporter`` with the ``EVENTLOG_BSP_*`` limits of ``settings``."""
        return cls(
            exporter,
            settings,
            max_queue_size=settings.bsp_max_queue_size,
            max_export_batch_size=settings.bsp_max_export_batch_size,
            schedule_delay_millis=settings.bsp_schedule_delay,
            export_timeout_millis=settings.bsp_export_timeout,
            shutdown_timeout_millis=settings.shutdown_timeout,
        )

    @property
    def shutdown_timeout(self) -> float:
        """Seconds ``shutdown()`` may take (``EVENTLOG_SHUTDOWN_TIMEOUT``)."""
        return self._shutdown_timeout

    @property
    def dropped(self) -> int:
        """Events lost, all reasons together."""
        return sum(self._drops.by_reason.values())

    @property
    def dropped_by_reason(self) -> dict[str, int]:
        """Events lost per reason: ``queue_full``, ``refused``, ``too_large``, ``shutdown``,
        ``invalid``."""
        return dict(self._drops.by_reason)

    def on_start(self, span: Span, parent_context: context.Context | None = None) -> None:
        link_to_call(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        attributes = attributes_of(span)
        if c.ATTR_CALL_ID not in attributes and span.kind not in _ENTRYPOINT_KINDS:
            return
        if attributes.get(c.ATTR_AUTO_CAPTURE) is False and c.ATTR_EVENT_TYPE not in attributes:
            return
        self.accepted += 1
        if self._shut_down:
            self._accept_late(span, attributes)
            return
        if self._worker is None:
            self._start_worker()
        if len(self._queue) >= self._max_queue_size:
            self._drops.drop(QUEUE_FULL, detail=self._outlet.queue_full_detail)
            return
        self._queue.append(self._record_of(span, attributes))
        if len(self._queue) >= self._batch_size:
            self._wakeup.set()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Deliver everything queued so far; ``False`` if that took longer than the timeout."""
        if self._worker is None or self._shut_down:
            return not self._queue
        done = RealEvent()
        with self._flush_lock:
            self._flush_waiters.append(done)
        self._wakeup.set()
        return bool(done.wait(timeout_millis / 1000))

    def shutdown(self) -> None:
        """Flush within ``shutdown_timeout``, then close the exporter."""
        lifecycle.shutdown_together([self])

    def begin_shutdown(self, deadline: float) -> None:
        """Tell the worker to deliver what it can until ``deadline`` (``time.monotonic``)."""
        if self._shut_down:
            return
        self._deadline = deadline
        self._shut_down = True
        if self._worker is None:
            self._settle()
        self._stopping.set()
        self._wakeup.set()

    def finish_shutdown(self) -> None:
        """Wait for the worker until the deadline, count what it left, report the drops."""
        if self._finished or not self._shut_down:
            return
        self._finished = True
        finished = self._worker
        if finished is None:
            self._outlet.close(self._deadline - time.monotonic())
        elif not finished.wait(max(0.0, self._deadline - time.monotonic()) + _SHUTDOWN_GRACE):
            _logger.warning(
                "eventlog_instrument: %s did not finish flushing within %.1fs",
                self.name, self._shutdown_timeout,
            )
            self._settle()
        self._drops.report()

    def _start_worker(self) -> None:
        with self._flush_lock:
            if self._worker is None:
                self._worker = start_thread(self._run)
                lifecycle.worker_started()

    def after_fork_in_child(self) -> None:
        """The parent keeps and publishes what it queued; the child starts empty."""
        self._reset_state()
        self._outlet.after_fork(self._drops)


def _given(value: _Number | None, setting: _Number) -> _Number:
    return setting if value is None else value
