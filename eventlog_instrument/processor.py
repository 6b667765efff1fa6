"""The export pipeline: a span processor that publishes events off the application's threads.

Why not the SDK's ``BatchSpanProcessor``: an event log must not lose what a broker
outage delays, so a batch the exporter could not deliver is kept and retried (only
its undelivered events) while the bounded queue takes new ones; what does not fit is
dropped, counted in :attr:`EventLogSpanProcessor.dropped` and reported by a
rate-limited warning. Under eventlet the worker is a real OS thread, so a busy hub
cannot starve it (SPEC §8), whether ``instrument()`` ran before or after the monkey
patching (see :mod:`eventlog_instrument.realthreads`). After ``fork`` each child gets
an empty queue, its own thread and its own broker connections. While the worker
publishes, instrumentation is suppressed, so the exporter's own broker traffic never
becomes spans.
"""

from __future__ import annotations

import logging
import os
import time
import weakref
from collections import deque
from collections.abc import Sequence
from typing import Any

from opentelemetry import context
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

from eventlog_instrument import constants as c
from eventlog_instrument.envelope import SpanRecord, attributes_of, build_event_for
from eventlog_instrument.exporters.base import EventExporter
from eventlog_instrument.realthreads import (
    GilSlices,
    RealEvent,
    allocate_lock,
    get_ident,
    pause,
    start_thread,
)
from eventlog_instrument.settings import Settings

_logger = logging.getLogger(__name__)
_ENTRYPOINT_KINDS = (SpanKind.SERVER, SpanKind.CONSUMER)
_RETRY_BACKOFF_MAX = 5.0
_WARNING_INTERVAL = 10.0
_SHUTDOWN_GRACE = 0.1
"""Time the worker gets past the flush deadline to count and report what it could not send."""
_live_processors: weakref.WeakSet[EventLogSpanProcessor] = weakref.WeakSet()


class EventLogSpanProcessor(SpanProcessor):
    """Batches finished spans to one exporter on a worker thread, retrying what fails."""

    def __init__(self, exporter: SpanExporter, settings: Settings) -> None:
        self.exporter = exporter
        self.name = type(exporter).__name__
        self._builds_events = isinstance(exporter, EventExporter)
        self._settings = settings
        self._max_queue_size = settings.bsp_max_queue_size
        self._batch_size = settings.bsp_max_export_batch_size
        self._schedule_delay = settings.bsp_schedule_delay / 1000
        self._export_timeout = settings.bsp_export_timeout / 1000
        self._shutdown_timeout = settings.shutdown_timeout / 1000
        self.dropped = 0
        """Events lost: the queue was full, or shutdown's time ran out before delivery."""
        self.exported = 0
        """Events the exporter confirmed as delivered."""
        self._dropped_reported = 0
        self._last_warning = 0.0
        self._shut_down = False
        self._stop_deadline = 0.0
        self._reset_state()
        _live_processors.add(self)

    def _reset_state(self) -> None:
        self._queue: deque[Any] = deque()
        """SpanRecords for an EventExporter, the spans themselves for any other exporter."""
        self._pending: list[Any] = []
        self._wakeup = RealEvent()
        self._stopping = RealEvent()
        self._flush_waiters: list[RealEvent] = []
        self._flush_lock = allocate_lock()
        self._worker: RealEvent | None = None
        """Set when the worker thread has finished; ``None`` before it started."""
        self._worker_ident: int | None = None

    def on_start(self, span: Span, parent_context: context.Context | None = None) -> None:
        return

    def on_end(self, span: ReadableSpan) -> None:
        if self._shut_down:
            return
        if c.ATTR_CALL_ID not in attributes_of(span) and span.kind not in _ENTRYPOINT_KINDS:
            return
        if self._worker is None:
            self._start_worker()
        elif get_ident() == self._worker_ident:
            return
        if len(self._queue) >= self._max_queue_size:
            self.dropped += 1
            self._warn_dropped()
            return
        self._queue.append(SpanRecord.of(span) if self._builds_events else span)
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
        """Flush within ``shutdown_timeout``, then close the exporter; later spans are ignored."""
        if self._shut_down:
            return
        self._shut_down = True
        finished = self._worker
        if finished is not None:
            self._stop_deadline = time.monotonic() + self._shutdown_timeout
            self._stopping.set()
            self._wakeup.set()
            if not finished.wait(self._shutdown_timeout + _SHUTDOWN_GRACE):
                _logger.warning(
                    "eventlog_instrument: %s did not finish flushing within %.1fs",
                    self.name, self._shutdown_timeout,
                )
                return
        self._report_dropped()
        self._shutdown_exporter()

    def _start_worker(self) -> None:
        with self._flush_lock:
            if self._worker is None:
                self._worker = start_thread(self._run)

    def _run(self) -> None:
        self._worker_ident = get_ident()
        context.attach(context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        while not self._stopping.is_set():
            self._wakeup.wait(self._schedule_delay)
            self._wakeup.clear()
            with self._flush_lock:
                waiters, self._flush_waiters = self._flush_waiters, []
            delivered_all = self._deliver_queued(deadline=None)
            for waiter in waiters:
                if delivered_all:
                    waiter.set()
                else:
                    self._flush_waiters.append(waiter)
        self._deliver_queued(deadline=self._stop_deadline)
        lost = len(self._queue) + len(self._pending)
        if lost:
            self.dropped += lost
            self._queue.clear()
            self._pending = []
        for waiter in self._flush_waiters:
            waiter.set()

    def _deliver_queued(self, deadline: float | None) -> bool:
        """Publish until the queue is empty; ``False`` when stopped or out of time first."""
        failures = 0
        while self._pending or self._queue:
            if not self._pending:
                self._pending = self._prepare(self._take_batch())
                continue
            timeout = self._export_timeout
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic())
                if timeout <= 0:
                    return False
            batch = self._pending
            undelivered = self._deliver(batch, timeout)
            self.exported += len(batch) - len(undelivered)
            self._pending = undelivered
            if not undelivered:
                failures = 0
                continue
            failures += 1
            backoff = min(_RETRY_BACKOFF_MAX, 0.05 * 2**failures)
            if deadline is None:
                if self._stopping.wait(backoff):
                    return False
            else:
                pause(max(0.0, min(backoff, deadline - time.monotonic())))
        return True

    def _take_batch(self) -> list[Any]:
        batch: list[Any] = []
        queue = self._queue
        while queue and len(batch) < self._batch_size:
            batch.append(queue.popleft())
        return batch

    def _prepare(self, spans: list[Any]) -> list[Any]:
        if not self._builds_events:
            return spans
        events = []
        slices = GilSlices()
        for span in spans:
            slices.tick()
            try:
                event = build_event_for(span, self._settings)
            except Exception:
                self.dropped += 1
                _logger.exception("eventlog_instrument could not build the event of %r", span.name)
                continue
            if event is not None:
                events.append(event)
        return events

    def _deliver(self, batch: Sequence[Any], timeout: float) -> list[Any]:
        try:
            if isinstance(self.exporter, EventExporter):
                return self.exporter.deliver(batch, timeout)
            result = self.exporter.export(batch)
            return [] if result is SpanExportResult.SUCCESS else list(batch)
        except Exception:
            _logger.exception("eventlog_instrument: %s failed to publish", self.name)
            return list(batch)

    def _warn_dropped(self) -> None:
        now = time.monotonic()
        if now - self._last_warning >= _WARNING_INTERVAL:
            self._last_warning = now
            self._report_dropped()

    def _report_dropped(self) -> None:
        new = self.dropped - self._dropped_reported
        if new:
            self._dropped_reported = self.dropped
            _logger.warning(
                "eventlog_instrument: %s dropped %d event(s) (%d in all): its queue of %d was "
                "full or its broker unreachable; raise EVENTLOG_BSP_MAX_QUEUE_SIZE to buffer more",
                self.name, new, self.dropped, self._max_queue_size,
            )

    def _shutdown_exporter(self) -> None:
        try:
            self.exporter.shutdown()
        except Exception:
            _logger.exception("eventlog_instrument: %s failed to shut down", self.name)

    def _after_fork_in_child(self) -> None:
        """The parent keeps and publishes what it queued; the child starts empty."""
        self._reset_state()
        after_fork = getattr(self.exporter, "after_fork", None)
        if after_fork is not None:
            after_fork()


def _after_fork_in_child() -> None:
    for processor in list(_live_processors):
        processor._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
