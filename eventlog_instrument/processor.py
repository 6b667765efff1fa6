"""The export pipeline: a span processor that publishes events off the application's threads.

Why not the SDK's ``BatchSpanProcessor``: an event log must not lose what a broker
outage delays, so a batch the exporter could not deliver is kept and retried (only
its undelivered events) while the bounded queue takes new ones. Every event a
processor accepts (:attr:`~EventLogSpanProcessor.accepted`) ends exported
(:attr:`~EventLogSpanProcessor.exported`) or dropped under one named reason
(:attr:`~EventLogSpanProcessor.dropped_by_reason`, see :mod:`eventlog_instrument.drops`):
a full queue, a broker refusing that one event (never retried, never holding back the
others), a body over ``EVENTLOG_MAX_EVENT_BYTES`` (checked before the exporter sees it),
shutdown's time running out, or an event that cannot be built.

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
from collections import deque
from collections.abc import Sequence
from typing import Any

from opentelemetry import context
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.trace import SpanKind

from eventlog_instrument import constants as c
from eventlog_instrument import lifecycle
from eventlog_instrument.drops import QUEUE_FULL, SHUTDOWN, DropLedger
from eventlog_instrument.envelope import SpanRecord, attributes_of
from eventlog_instrument.exporters.base import Refusal
from eventlog_instrument.outlet import Outlet
from eventlog_instrument.realthreads import RealEvent, allocate_lock, pause, start_thread
from eventlog_instrument.settings import Settings

_logger = logging.getLogger(__name__)
_ENTRYPOINT_KINDS = (SpanKind.SERVER, SpanKind.CONSUMER)
_RETRY_BACKOFF_MAX = 5.0
_SHUTDOWN_GRACE = 0.1
"""Time a worker gets past the deadline to count and report what it could not send."""
_SUPPRESSED = context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True)


class EventLogSpanProcessor(SpanProcessor):
    """Batches finished spans to one exporter on a worker thread, retrying what fails."""

    def __init__(self, exporter: SpanExporter, settings: Settings) -> None:
        self.exporter = exporter
        self.name = type(exporter).__name__
        self._max_queue_size = settings.bsp_max_queue_size
        self._batch_size = settings.bsp_max_export_batch_size
        self._schedule_delay = settings.bsp_schedule_delay / 1000
        self._export_timeout = settings.bsp_export_timeout / 1000
        self._shutdown_timeout = settings.shutdown_timeout / 1000
        self._shut_down = False
        self._reset_state()
        self._outlet = Outlet(exporter, settings, self._drops)
        self._builds_events = self._outlet.builds_events
        lifecycle.register(self)

    def _reset_state(self) -> None:
        self.accepted = 0
        """Events that reached this processor; each ends exported or dropped."""
        self.exported = 0
        """Events the exporter confirmed as delivered."""
        self._drops = DropLedger(self.name, self._max_queue_size)
        self._queue: deque[Any] = deque()
        """SpanRecords for an EventExporter, the spans themselves for any other exporter."""
        self._pending: list[Any] = []
        self._building = 0
        """Events the worker took from the queue and is building into ``_pending``."""
        self._late: deque[Any] = deque()
        self._wakeup = RealEvent()
        self._stopping = RealEvent()
        self._flush_waiters: list[RealEvent] = []
        self._flush_lock = allocate_lock()
        self._settle_lock = allocate_lock()
        self._late_lock = allocate_lock()
        self._settled = False
        """Set once shutdown counted what it left; later events are delivered one by one."""
        self._finished = False
        self._deadline = 0.0
        self._worker: RealEvent | None = None
        """Set when the worker thread has finished; ``None`` before it started."""

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
        return

    def on_end(self, span: ReadableSpan) -> None:
        attributes = attributes_of(span)
        if c.ATTR_CALL_ID not in attributes and span.kind not in _ENTRYPOINT_KINDS:
            return
        if attributes.get(c.ATTR_AUTO_CAPTURE) is False and c.ATTR_EVENT_TYPE not in attributes:
            return
        self.accepted += 1
        if self._shut_down:
            self._accept_late(span)
            return
        if self._worker is None:
            self._start_worker()
        if len(self._queue) >= self._max_queue_size:
            self._drops.drop(QUEUE_FULL, detail=self._outlet.queue_full_detail)
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

    def _run(self) -> None:
        context.attach(_SUPPRESSED)
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
        self._deliver_queued(deadline=self._deadline)
        self._settle()
        self._outlet.close(self._deadline - time.monotonic())
        for waiter in self._flush_waiters:
            waiter.set()

    def _settle(self) -> None:
        """Count what is still queued as dropped at shutdown; deliver later events at once."""
        with self._settle_lock:
            if self._settled:
                return
            self._settled = True
            lost = len(self._queue) + len(self._pending) + self._building
            self._queue.clear()
            self._pending = []
        if lost:
            self._drops.drop(SHUTDOWN, lost, detail=self._shutdown_detail())

    def _shutdown_detail(self) -> str:
        bound, error = f"{self._shutdown_timeout * 1000:.0f} ms", self._outlet.last_error
        return f"{bound}; last error: {error}" if error else bound

    def _deliver_queued(self, deadline: float | None) -> bool:
        """Publish until the queue is empty; ``False`` when stopped or out of time first."""
        failures = 0
        while self._pending or self._queue:
            if not self._pending:
                if not self._build_batch():
                    return False
                continue
            timeout = self._export_timeout
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic())
                if timeout <= 0:
                    return False
            batch = self._pending
            undelivered, refusals = self._outlet.deliver(batch, timeout)
            with self._settle_lock:
                if self._settled:  # shutdown gave up on this batch and counted it
                    return False
                self._settle_refusals(batch, undelivered, refusals)
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

    def _settle_refusals(
        self, batch: Sequence[Any], undelivered: Sequence[Any], refusals: list[Refusal]
    ) -> None:
        by_reason: dict[str, list[Refusal]] = {}
        for refusal in refusals:
            by_reason.setdefault(refusal.reason, []).append(refusal)
        for reason, alike in by_reason.items():  # one warning for a batch refused alike
            self._drops.drop(reason, len(alike), detail=alike[-1].detail)
        self.exported += len(batch) - len(undelivered) - len(refusals)

    def _build_batch(self) -> bool:
        """Build the next batch into ``_pending``; ``False`` when shutdown gave up on it
        meanwhile (and counted it, as events taken and not built)."""
        batch = self._take_batch()
        self._building = len(batch)
        events, unsendable = self._outlet.build(batch)
        with self._settle_lock:
            self._building = 0
            if self._settled:
                return False
            self._outlet.count(unsendable)
            self._pending = events
        return True

    def _take_batch(self) -> list[Any]:
        batch: list[Any] = []
        queue = self._queue
        while queue and len(batch) < self._batch_size:
            batch.append(queue.popleft())
        return batch

    def _accept_late(self, span: ReadableSpan) -> None:
        """An event ended during or after shutdown: queue it while the worker still runs,
        else deliver it here within what is left of the deadline."""
        record = SpanRecord.of(span) if self._builds_events else span
        with self._settle_lock:
            if not self._settled:
                self._queue.append(record)
                return
        self._late.append(record)
        # A delivery here can end more events on this thread (a __del__): they wait in
        # _late for the loop instead of taking the lock again.
        while self._late and self._late_lock.acquire(False):
            try:
                self._deliver_late()
            finally:
                self._late_lock.release()

    def _deliver_late(self) -> None:
        token = context.attach(_SUPPRESSED)
        try:
            while self._late:
                batch = self._outlet.prepare([self._late.popleft()])
                remaining = self._deadline - time.monotonic()
                if not batch:
                    continue
                undelivered, refusals = (
                    self._outlet.deliver(batch, remaining) if remaining > 0 else (batch, [])
                )
                self._settle_refusals(batch, undelivered, refusals)
                if undelivered:
                    self._drops.drop(SHUTDOWN, len(undelivered), detail=self._shutdown_detail())
            self._outlet.close(self._deadline - time.monotonic())
        finally:
            context.detach(token)

    def after_fork_in_child(self) -> None:
        """The parent keeps and publishes what it queued; the child starts empty."""
        self._reset_state()
        self._outlet.after_fork(self._drops)
